package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Links in answers. MDE's, XDR's and Graph's JSON answers carry absolute URLs in
// "@odata.nextLink" and "@odata.context" (Graph also "@odata.deltaLink"), and some answers a
// Location header; a tool that follows them would leave the gateway and call Microsoft without
// a token (and for the wrong tenant, had it one), or with its gateway key. The gateway
// rewrites the scheme and host of those that point at a Microsoft API host to its own
// external base URL (baseurl.go), with /tenants/{name} when the caller used the prefix, so
// the next page comes back through the gateway for the same tenant.
//
// Only JSON answers are touched, only those keys, and only URLs on a Microsoft API host: SAS
// links on *.blob.core.windows.net and every other host pass byte for byte. The body goes through a
// small state machine with a bounded look-behind (a key and its URL may be split across
// reads); nothing is buffered beyond one read, except a small answer, which is read whole into
// one pooled buffer before the caller gets any of it (smallanswer.go).
//
// Gzip: the gateway always asks MDE for gzip, so the way from Microsoft stays compressed, and
// hands JSON answers to the caller decoded and rewritten, without encoding them again. The
// caller's leg is the short one (loopback or LAN), and an encoder costs ~1.2 MB of memory
// per concurrent answer and runs at a fifth of the speed of the rest (BenchmarkLinksLarge):
// 1,000 callers at once would hold over a gigabyte of encoders.

// builtinLinkHosts are Microsoft's API hosts the gateway fronts, in every cloud: MDE, Defender
// XDR and Graph (issue 17, item 4). They are matched on host name with no port or :443.
// Configured regions are added to them. Blob storage (SAS links of exports) matches none of
// them, by design.
var (
	builtinLinkHosts = []string{
		"api.security.microsoft.com",    // MDE and XDR, global
		"api-us.security.microsoft.com", // XDR and MDE geographies
		"api-eu.security.microsoft.com",
		"api-uk.security.microsoft.com",
		"graph.microsoft.com",    // Graph security (/v1.0/security, /beta/security)
		"graph.microsoft.us",     // Graph, GCC High
		"dod-graph.microsoft.us", // Graph, DoD
	}
	builtinLinkSuffixes = []string{
		".api.security.microsoft.com",   // regional: eu.api.security.microsoft.com
		".securitycenter.microsoft.com", // legacy and backend: api.securitycenter..., api-us3.securitycenter...
		".securitycenter.windows.com",   // legacy: wdatp-alertexporter-eu.securitycenter.windows.com
		".securitycenter.microsoft.us",  // GCC, GCC High, DoD
		".security.microsoft.us",        // XDR in GCC, GCC High, DoD: api-gcc.security.microsoft.us
		".securitycenter.windows.us",    // legacy US government hosts
	}
)

// linkRewriter holds what rewriting needs, computed once by New.
type linkRewriter struct {
	exact    map[string]struct{} // lowercase host or host:port
	suffixes [][]byte            // lowercase, with the leading dot

	base baseFinder

	bufs *bufferPool
	gzr  sync.Pool // *gzip.Reader
}

func newLinkRewriter(opts Options) *linkRewriter {
	l := &linkRewriter{exact: map[string]struct{}{}, bufs: newBufferPool(), base: newBaseFinder(opts)}
	add := func(h string) { l.exact[strings.ToLower(h)] = struct{}{} }
	for _, h := range builtinLinkHosts {
		add(h)
	}
	if opts.Routes != nil {
		for _, ep := range opts.Routes.Endpoints() {
			add(ep.URL.Host)
		}
	}
	if opts.GraphURL != nil { // Graph security's nextLinks, forwarded too
		add(opts.GraphURL.Host)
	}
	for _, s := range builtinLinkSuffixes {
		l.suffixes = append(l.suffixes, []byte(s))
	}
	return l
}

// isMDEHost reports whether host (as it appears in a URL: host or host:port, any case) is a
// Microsoft API host the gateway fronts (MDE, XDR, Graph; see builtinLinkHosts) or a
// configured region. It allocates nothing.
func (l *linkRewriter) isMDEHost(host []byte) bool {
	var buf [maxLinkHost]byte
	if len(host) == 0 || len(host) > len(buf) {
		return false
	}
	b := buf[:len(host)]
	for i, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if _, ok := l.exact[string(b)]; ok {
		return true
	}
	b = bytes.TrimSuffix(b, []byte(":443"))
	if _, ok := l.exact[string(b)]; ok {
		return true
	}
	for _, s := range l.suffixes {
		if len(b) > len(s) && bytes.HasSuffix(b, s) {
			return true
		}
	}
	return false
}

// rewrite rewrites the Location header of resp and wraps the body of a JSON answer. Its error
// (a small answer that broke off while it was read whole) leaves resp's body closed. It runs
// in the retrier, on the answer it passes on, before anything is sent to the caller.
func (l *linkRewriter) rewrite(resp *http.Response, c *call) error {
	loc := resp.Header["Location"]
	body := isJSON(resp.Header["Content-Type"]) && hasBody(resp)
	if len(loc) == 0 && !body {
		return nil
	}
	raw, js, ok := l.base.find(c)
	if !ok {
		return nil
	}
	if len(loc) == 1 {
		if v, changed := l.location(loc[0], raw); changed {
			resp.Header["Location"] = []string{v}
		}
	}
	if !body {
		return nil
	}
	var lr io.ReadCloser
	switch enc := resp.Header["Content-Encoding"]; {
	case len(enc) == 0:
		lr = l.newReader(resp.Body, js)
	case len(enc) == 1 && strings.EqualFold(strings.TrimSpace(enc[0]), "gzip"):
		lr = l.newGunzipReader(resp.Body, js)
		delete(resp.Header, "Content-Encoding")
	default:
		return nil // an encoding the gateway did not ask for (see limitEncoding): leave it alone
	}
	return l.readFirst(resp, lr)
}

// location rewrites a Location value: an absolute https URL on an MDE host gets the
// gateway's base instead of its scheme and host; a path-absolute one gets the base in front,
// so it keeps the tenant prefix. Anything else is left as it is.
func (l *linkRewriter) location(v, base string) (string, bool) {
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		return base + v, true
	}
	if len(v) < len(httpsScheme) || !strings.EqualFold(v[:len(httpsScheme)], httpsScheme) {
		return v, false
	}
	rest := v[len(httpsScheme):]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if !l.isMDEHost([]byte(rest[:end])) {
		return v, false
	}
	return base + rest[end:], true
}

// isJSON reports whether a Content-Type is JSON: application/json or a +json type.
func isJSON(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	t := ct[0]
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	t = strings.TrimSpace(t)
	const app = "application/json"
	return len(t) == len(app) && strings.EqualFold(t, app) ||
		len(t) > 5 && strings.EqualFold(t[len(t)-5:], "+json")
}

func hasBody(resp *http.Response) bool {
	return resp.Request.Method != http.MethodHead && resp.StatusCode >= 200 &&
		resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified
}

// gzipOnly is what the gateway accepts from MDE for a caller that accepts gzip. It is shared
// and never modified.
var gzipOnly = []string{"gzip"}

// limitEncoding makes MDE answer in an encoding the rewriter can read. For a caller that
// accepts gzip the gateway asks for gzip only: JSON answers are decoded (and rewritten), other
// answers pass compressed. Otherwise the header is dropped, and the Transport asks for gzip
// itself and hands over the decoded body. Either way the way from MDE is compressed; brotli
// and the like are never asked for.
func limitEncoding(h http.Header) {
	v, ok := h["Accept-Encoding"]
	if !ok {
		return
	}
	if acceptsGzip(v) {
		h["Accept-Encoding"] = gzipOnly
	} else {
		delete(h, "Accept-Encoding")
	}
}

// acceptsGzip reports whether Accept-Encoding values allow gzip (or *) with a non-zero q.
// It allocates nothing.
func acceptsGzip(vals []string) bool {
	for _, v := range vals {
		for v != "" {
			var part string
			part, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(part, ";")
			name = strings.TrimSpace(name)
			if strings.EqualFold(name, "gzip") || strings.EqualFold(name, "x-gzip") || name == "*" {
				return !zeroQ(params)
			}
		}
	}
	return false
}

func zeroQ(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			return strings.Trim(strings.TrimSpace(val), "0.") == ""
		}
	}
	return false
}

// The scanner.

const (
	httpsScheme = "https://"
	maxLinkHost = 255 // longer is no host name
	maxLinkWS   = 32  // whitespace allowed around a key's colon
)

var (
	odataMarker = []byte(`"@odata.`)
	keyNextLink = []byte(`nextLink"`)
	keyContext  = []byte(`context"`)
	keyDelta    = []byte(`deltaLink"`)
)

type verdict uint8

const (
	noMatch verdict = iota
	needMore
	matched
)

// linkReader rewrites links in a JSON stream read from src, one source read at a time. It
// reads straight into the caller's buffer and scans it there: a read without a link to
// rewrite (all but one or two per answer) costs no copy. Only a read with a link is written
// out again, into a pooled buffer. A candidate that a read cut short is held (at most
// maxHeld bytes) until the next read decides it.
type linkReader struct {
	l    *linkRewriter
	src  io.Reader
	repl string // what replaces "https://host": the base, JSON-safe

	hold []byte // input held back from the last read (made on first use, maxHeld at most)
	out  []byte // pooled, taken on the first rewrite: rewritten output
	in   []byte // pooled, taken on the first short read: input read for a short p
	pend []byte // output not yet handed out (in out or in)
	odd  bool   // the input handed out so far ends in an odd run of backslashes
	err  error
	done bool // buffers returned
}

const (
	// maxHeld is the most a read can leave undecided (see candidate): the longer key with
	// its quote, the whitespace allowed around the colon, the value's quote, the scheme, and
	// a host name one byte past the longest.
	maxHeld = len(`"@odata.nextLink"`) + 2*maxLinkWS + len(`:"`) + len(httpsScheme) + maxLinkHost + 1
	// minDirect is the smallest read buffer scanned in place; ReverseProxy's and io.Copy's
	// are 32 KiB. A shorter one is served from the reader's own buffer.
	minDirect = 4 << 10
)

var (
	_ io.ReadCloser = (*linkReaderCloser)(nil)
	_ io.ReadCloser = (*gunzipLinkReader)(nil)
)

// linkReaderCloser is a linkReader that owns its source.
type linkReaderCloser struct {
	linkReader
	closer io.Closer
}

func (l *linkRewriter) newReader(src io.ReadCloser, repl string) *linkReaderCloser {
	return &linkReaderCloser{linkReader: linkReader{l: l, src: src, repl: repl}, closer: src}
}

func (r *linkReaderCloser) Close() error {
	r.release()
	return r.closer.Close()
}

func (r *linkReader) Read(p []byte) (int, error) {
	for len(r.pend) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if len(p) < minDirect {
			if r.in == nil {
				r.in = r.l.bufs.Get()
			}
			r.pend = r.fill(r.in)
			continue
		}
		out := r.fill(p)
		if len(out) > 0 && &out[0] == &p[0] {
			return len(out), nil // scanned in place, nothing to rewrite
		}
		r.pend = out
	}
	n := copy(p, r.pend)
	r.pend = r.pend[n:]
	return n, nil
}

// fill reads once from src into dst, after the input held from the last read, and returns
// what can be handed out: dst's prefix when there was nothing to rewrite, else the rewritten
// form in r.out. dst must be longer than maxHeld.
func (r *linkReader) fill(dst []byte) []byte {
	if r.done {
		r.err = io.ErrClosedPipe
		return nil
	}
	h := copy(dst, r.hold)
	n, err := r.src.Read(dst[h:])
	data := dst[:h+n]
	eof := err != nil
	used, rewrote := r.scan(data, eof)
	r.odd = oddBackslashes(data[:used], r.odd)
	if eof {
		r.err = err
	} else if tail := data[used:]; len(tail) > 0 || len(r.hold) > 0 {
		if r.hold == nil {
			r.hold = make([]byte, 0, maxHeld)
		}
		r.hold = append(r.hold[:0], tail...)
	}
	if rewrote {
		return r.out
	}
	return data[:used]
}

func (r *linkReader) release() {
	if r.done {
		return
	}
	r.done = true
	r.pend = nil
	for _, b := range []*[]byte{&r.out, &r.in} {
		if *b != nil {
			r.l.bufs.Put((*b)[:0])
			*b = nil
		}
	}
}

// scan finds the links to rewrite in data and returns how much of data it used; the rest is
// the start of a candidate that needs more input (at eof it uses everything). When it
// rewrote a link, r.out holds the rewritten form of data[:used]; otherwise r.out is
// untouched and data[:used] is the output as it is.
func (r *linkReader) scan(data []byte, eof bool) (used int, rewrote bool) {
	emitted, pos := 0, 0
	emit := func(to int) {
		if rewrote {
			r.out = append(r.out, data[emitted:to]...)
		}
	}
	for {
		// Search from the '@', which is rare in JSON, not from the quote, which is not; a
		// quote that ended the previous read was held back by partialMarker, so a marker's
		// quote is always in data.
		//
		// Every position below is absolute in data. Issue 14 (5): this once counted the '@'
		// relative to pos, so a marker that was no link (@odata.count, @odata.type, a context
		// on a foreign host, an escaped \"@odata.) left pos on its '@', the next search found
		// it at 0, and the scan of the whole read stopped there: a nextLink after it went out
		// pointing at Microsoft.
		j := bytes.Index(data[pos:], odataMarker[1:])
		if j < 0 {
			end := len(data)
			if !eof {
				end -= partialMarker(data[pos:])
			}
			emit(end)
			return end, rewrote
		}
		at := pos + j // the '@'
		if at == 0 || data[at-1] != '"' {
			pos = at + 1
			continue
		}
		k := at - 1 // the key's opening quote
		if r.escaped(data, k) {
			pos = k + len(odataMarker) // a \" inside a string, not the start of a key
			continue
		}
		v, from, to := r.l.candidate(data, k, eof)
		switch v {
		case needMore:
			emit(k)
			return k, rewrote
		case noMatch:
			pos = k + len(odataMarker)
		case matched:
			if !rewrote {
				if r.out == nil {
					r.out = r.l.bufs.Get()
				}
				r.out, rewrote = r.out[:0], true
			}
			emit(from)
			r.out = append(r.out, r.repl...)
			emitted, pos = to, to
		}
	}
}

// escaped reports whether the quote at data[k] is escaped: preceded by an odd run of
// backslashes, which may reach back into what earlier reads handed out.
func (r *linkReader) escaped(data []byte, k int) bool {
	n := 0
	for i := k - 1; i >= 0 && data[i] == '\\'; i-- {
		n++
	}
	odd := n%2 == 1
	if n == k && r.odd {
		odd = !odd
	}
	return odd
}

// oddBackslashes is the parity of the run of backslashes that ends data, given the parity
// before it.
func oddBackslashes(data []byte, before bool) bool {
	n := 0
	for i := len(data) - 1; i >= 0 && data[i] == '\\'; i-- {
		n++
	}
	if n == len(data) {
		return before != (n%2 == 1)
	}
	return n%2 == 1
}

// partialMarker returns the length of the longest proper prefix of odataMarker that tail
// ends with.
func partialMarker(tail []byte) int {
	for n := min(len(odataMarker)-1, len(tail)); n > 0; n-- {
		if bytes.HasSuffix(tail, odataMarker[:n]) {
			return n
		}
	}
	return 0
}

// candidate decides whether data[k:], which starts with `"@odata.`, is a nextLink or context
// key whose string value is an https URL on an MDE host. On a match, data[from:to] is the
// "https://host" to replace.
func (l *linkRewriter) candidate(data []byte, k int, eof bool) (v verdict, from, to int) {
	more := func() (verdict, int, int) {
		if eof {
			return noMatch, 0, 0
		}
		return needMore, 0, 0
	}
	i := k + len(odataMarker)
	if i >= len(data) {
		return more()
	}
	var key []byte
	switch data[i] {
	case 'n':
		key = keyNextLink
	case 'c':
		key = keyContext
	case 'd':
		key = keyDelta // Graph's delta queries page the same way
	default:
		return noMatch, 0, 0
	}
	if rest := data[i:]; len(rest) < len(key) {
		if !bytes.HasPrefix(key, rest) {
			return noMatch, 0, 0
		}
		return more()
	} else if !bytes.Equal(rest[:len(key)], key) {
		return noMatch, 0, 0
	}
	i += len(key)
	for _, want := range []byte{':', '"'} {
		ws := 0
		for i < len(data) && isJSONSpace(data[i]) {
			if ws++; ws > maxLinkWS {
				return noMatch, 0, 0
			}
			i++
		}
		if i >= len(data) {
			return more()
		}
		if data[i] != want {
			return noMatch, 0, 0
		}
		i++
	}
	from = i
	for j := 0; j < len(httpsScheme); j++ {
		if i+j >= len(data) {
			return more()
		}
		c := data[i+j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != httpsScheme[j] {
			return noMatch, 0, 0
		}
	}
	i += len(httpsScheme)
	start := i
	for ; i < len(data); i++ {
		if c := data[i]; c == '/' || c == '?' || c == '#' || c == '"' || c == '\\' {
			break
		}
		if i-start > maxLinkHost {
			return noMatch, 0, 0
		}
	}
	if i >= len(data) {
		return more()
	}
	if !l.isMDEHost(data[start:i]) {
		return noMatch, 0, 0
	}
	return matched, from, i
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// gunzipLinkReader decodes a gzip answer and rewrites it; the caller gets it plain.
type gunzipLinkReader struct {
	linkReader // reads zr
	body       io.ReadCloser
	zr         *gzip.Reader
}

func (l *linkRewriter) newGunzipReader(body io.ReadCloser, repl string) *gunzipLinkReader {
	return &gunzipLinkReader{linkReader: linkReader{l: l, repl: repl}, body: body}
}

func (r *gunzipLinkReader) Read(p []byte) (int, error) {
	if r.zr == nil && r.err == nil {
		// Started on the first read rather than when the body is wrapped: reading the gzip
		// header waits for the body, which should not hold up a streamed answer's headers.
		zr, _ := r.l.gzr.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r.body)
		} else {
			err = zr.Reset(r.body)
		}
		if err != nil {
			r.err = err
			if zr != nil {
				r.l.gzr.Put(zr)
			}
		} else {
			r.zr, r.src = zr, zr
		}
	}
	return r.linkReader.Read(p)
}

func (r *gunzipLinkReader) Close() error {
	r.release()
	if r.zr != nil {
		r.l.gzr.Put(r.zr)
		r.zr = nil
	}
	return r.body.Close()
}

// jsonString returns s escaped for the inside of a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}
