package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mdegate/mdegate/routing"
)

const testBase = "http://gw.example:8080/tenants/contoso"

func testRewriter(t testing.TB) *linkRewriter {
	t.Helper()
	routes, err := routing.New(routing.Options{Regions: map[string]string{
		routing.Global: "https://api.security.microsoft.com",
		"emu":          "https://127.0.0.1:4443",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return newLinkRewriter(Options{Routes: routes})
}

// splitReader hands out its data in reads of the given sizes, then the rest in one.
type splitReader struct {
	data  []byte
	sizes []int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := len(s.data)
	if len(s.sizes) > 0 {
		n, s.sizes = min(n, s.sizes[0]), s.sizes[1:]
	}
	n = copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// rewriteAll reads src through the rewriter as ReverseProxy does: into one 32 KiB buffer,
// which the rewriter scans in place.
func rewriteAll(t *testing.T, l *linkRewriter, src io.Reader) string {
	t.Helper()
	return rewriteWith(t, l, src, copyBufferSize)
}

// rewriteWith reads src through the rewriter with a read buffer of the given size; a short one
// is served from the rewriter's own buffer.
func rewriteWith(t *testing.T, l *linkRewriter, src io.Reader, bufSize int) string {
	t.Helper()
	r := l.newReader(io.NopCloser(src), testBase)
	defer r.Close()
	var out bytes.Buffer
	// The wrappers hide ReadFrom and WriteTo, so the copy goes through buf.
	if _, err := io.CopyBuffer(struct{ io.Writer }{&out}, struct{ io.Reader }{r}, make([]byte, bufSize)); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// longHost is an MDE host name of the longest length the rewriter accepts.
var longHost = strings.Repeat("a", maxLinkHost-len(".securitycenter.microsoft.com")) + ".securitycenter.microsoft.com"

func TestLinkRewrite(t *testing.T) {
	l := testRewriter(t)
	tests := []struct{ name, in, want string }{
		{"nextLink on the global host",
			`{"value":[],"@odata.nextLink":"https://api.security.microsoft.com/api/machines?$skip=3"}`,
			`{"value":[],"@odata.nextLink":"` + testBase + `/api/machines?$skip=3"}`},
		{"context on a backend host, with spaces",
			`{"@odata.context" : "https://api-us3.securitycenter.microsoft.com/api/$metadata#Machines","value":[]}`,
			`{"@odata.context" : "` + testBase + `/api/$metadata#Machines","value":[]}`},
		{"legacy, regional, sovereign and configured hosts, any case, :443",
			`{"@odata.context":"HTTPS://WDATP-x.SecurityCenter.windows.com:443/api/a","x":{"@odata.nextLink":"https://eu.api.security.microsoft.com/api/b"},` +
				`"y":{"@odata.nextLink":"https://api-gov.securitycenter.microsoft.us/api/c"},"z":{"@odata.nextLink":"https://127.0.0.1:4443/api/d"}}`,
			`{"@odata.context":"` + testBase + `/api/a","x":{"@odata.nextLink":"` + testBase + `/api/b"},` +
				`"y":{"@odata.nextLink":"` + testBase + `/api/c"},"z":{"@odata.nextLink":"` + testBase + `/api/d"}}`},
		{"SAS URL and other hosts untouched",
			`{"@odata.nextLink":"https://mdeexport.blob.core.windows.net/x/f.gz?sig=SECRET","@odata.context":"https://127.0.0.1:9999/api/a","@odata.nextLink":"https://evil.securitycenter.microsoft.com.evil.example/api"}`,
			`{"@odata.nextLink":"https://mdeexport.blob.core.windows.net/x/f.gz?sig=SECRET","@odata.context":"https://127.0.0.1:9999/api/a","@odata.nextLink":"https://evil.securitycenter.microsoft.com.evil.example/api"}`},
		{"bare suffix is no host", `{"@odata.nextLink":"https://.securitycenter.microsoft.com/api"}`, `{"@odata.nextLink":"https://.securitycenter.microsoft.com/api"}`},
		{"other keys untouched",
			`{"exportFiles":["https://api.security.microsoft.com/api/x"],"@odata.id":"https://api.security.microsoft.com/api/y","@odata.nextLinkX":"https://api.security.microsoft.com/z"}`,
			`{"exportFiles":["https://api.security.microsoft.com/api/x"],"@odata.id":"https://api.security.microsoft.com/api/y","@odata.nextLinkX":"https://api.security.microsoft.com/z"}`},
		{"a key inside a string value is not a key",
			`{"title":"see \"@odata.nextLink\":\"https://api.security.microsoft.com/api/x\"","t2":"\\\\"}`,
			`{"title":"see \"@odata.nextLink\":\"https://api.security.microsoft.com/api/x\"","t2":"\\\\"}`},
		{"an escaped backslash before a real key",
			`{"a":"\\","@odata.nextLink":"https://api.security.microsoft.com/api/x"}`,
			`{"a":"\\","@odata.nextLink":"` + testBase + `/api/x"}`},
		{"http and non-string values untouched",
			`{"@odata.nextLink":"http://api.security.microsoft.com/api/x","@odata.context":null}`,
			`{"@odata.nextLink":"http://api.security.microsoft.com/api/x","@odata.context":null}`},
		{"host alone", `{"@odata.context":"https://api.security.microsoft.com"}`, `{"@odata.context":"` + testBase + `"}`},
		{"truncated at the end", `{"@odata.nextLink":"https://api.security.micro`, `{"@odata.nextLink":"https://api.security.micro`},
		{"marker prefix at the end", `{"a":1}"@oda`, `{"a":1}"@oda`},
		{"the longest candidate a read can leave undecided",
			`{"@odata.nextLink"` + strings.Repeat(" ", maxLinkWS) + ":" + strings.Repeat("\t", maxLinkWS) + `"https://` + longHost + `/api/x"}`,
			`{"@odata.nextLink"` + strings.Repeat(" ", maxLinkWS) + ":" + strings.Repeat("\t", maxLinkWS) + `"` + testBase + `/api/x"}`},
		{"a host one byte too long",
			`{"@odata.nextLink"` + strings.Repeat(" ", maxLinkWS) + ":" + strings.Repeat("\t", maxLinkWS) + `"https://a` + longHost + `/api/x"}`,
			`{"@odata.nextLink"` + strings.Repeat(" ", maxLinkWS) + ":" + strings.Repeat("\t", maxLinkWS) + `"https://a` + longHost + `/api/x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rewriteAll(t, l, strings.NewReader(tt.in)); got != tt.want {
				t.Fatalf("one read:\n got %s\nwant %s", got, tt.want)
			}
			if got := rewriteAll(t, l, iotest.OneByteReader(strings.NewReader(tt.in))); got != tt.want {
				t.Fatalf("one byte per read:\n got %s\nwant %s", got, tt.want)
			}
			// Every split into two reads: the key, colon, scheme and host may be cut anywhere.
			for i := 1; i < len(tt.in); i++ {
				if got := rewriteAll(t, l, &splitReader{data: []byte(tt.in), sizes: []int{i}}); got != tt.want {
					t.Fatalf("split at %d:\n got %s\nwant %s", i, got, tt.want)
				}
				if got := rewriteWith(t, l, &splitReader{data: []byte(tt.in), sizes: []int{i}}, 5); got != tt.want {
					t.Fatalf("split at %d, read 5 bytes at a time:\n got %s\nwant %s", i, got, tt.want)
				}
			}
		})
	}
}

// A long answer, read in pieces that do not line up with anything, comes out with every link
// rewritten and every other byte as it was.
func TestLinkRewriteLongStream(t *testing.T) {
	l := testRewriter(t)
	var in, want strings.Builder
	for i := range 5000 {
		rec := `{"id":"` + strings.Repeat("x", i%97) + `","s":"a\\\"b"},`
		in.WriteString(rec + `{"@odata.nextLink":"https://api.security.microsoft.com/api/m?$skip=1"},`)
		want.WriteString(rec + `{"@odata.nextLink":"` + testBase + `/api/m?$skip=1"},`)
	}
	sizes := []int{7, 1, 33000, 5, 4095, 60000, 3, 17}
	for _, bufSize := range []int{copyBufferSize, minDirect, minDirect - 1, 100} {
		got := rewriteWith(t, l, &splitReader{data: []byte(in.String()), sizes: sizes}, bufSize)
		if got != want.String() {
			t.Fatalf("read %d bytes at a time: long stream differs (got %d bytes, want %d)", bufSize, len(got), want.Len())
		}
	}
}

func TestLinkRewriteGzip(t *testing.T) {
	l := testRewriter(t)
	in := strings.Repeat(`{"@odata.nextLink":"https://api.security.microsoft.com/api/machines?$skip=3","v":"`+strings.Repeat("y", 300)+`"},`, 2000)
	want := strings.ReplaceAll(in, "https://api.security.microsoft.com", testBase)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte(in))
	_ = zw.Close()
	for range 2 { // the second round uses a pooled decoder
		r := l.newGunzipReader(io.NopCloser(iotest.HalfReader(bytes.NewReader(z.Bytes()))), testBase)
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Close()
		if string(got) != want {
			t.Fatalf("gzip answer not rewritten as expected (got %d bytes, want %d)", len(got), len(want))
		}
	}
	// Not gzip at all: the read fails rather than passing garbage on.
	r := l.newGunzipReader(io.NopCloser(strings.NewReader("plain")), testBase)
	if _, err := io.ReadAll(r); err == nil {
		t.Error("a body that is not gzip read without error")
	}
	_ = r.Close()
}

func TestLocation(t *testing.T) {
	l := testRewriter(t)
	tests := []struct{ in, want string }{
		{"https://api.security.microsoft.com/api/machineactions/1", testBase + "/api/machineactions/1"},
		{"https://eu.api.security.microsoft.com", testBase},
		{"/api/indicators/5", testBase + "/api/indicators/5"},
		{"https://mdeexport.blob.core.windows.net/x?sig=S", "https://mdeexport.blob.core.windows.net/x?sig=S"},
		{"//api.security.microsoft.com/api", "//api.security.microsoft.com/api"},
		{"api/x", "api/x"},
	}
	for _, tt := range tests {
		if got, _ := l.location(tt.in, testBase); got != tt.want {
			t.Errorf("location(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := map[string]bool{
		"gzip": true, "gzip, deflate": true, "deflate, gzip, br, zstd": true, "GZIP;q=0.5": true,
		"*": true, "identity": false, "br": false, "gzip;q=0": false, "gzip; q=0.000": false, "": false,
	}
	for v, want := range tests {
		if got := acceptsGzip([]string{v}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", v, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { acceptsGzip([]string{"deflate, gzip;q=0.8, br"}) }); n != 0 {
		t.Errorf("acceptsGzip allocates %v times, want 0", n)
	}
}

func TestBaseURL(t *testing.T) {
	req := func(remote, host string, hdr ...string) *http.Request {
		r, _ := http.NewRequest("GET", "http://"+host+"/api/alerts", nil)
		r.RemoteAddr, r.Host = remote, host
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		return r
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	pub, _ := url.Parse("https://mdegate.example.com/mde/")
	tests := []struct {
		name   string
		opts   Options
		r      *http.Request
		prefix string
		want   string
	}{
		{"host of the request", Options{}, req("192.0.2.1:5", "gw:8080"), "", "http://gw:8080"},
		{"forwarded headers ignored from strangers", Options{TrustedProxies: trusted},
			req("192.0.2.1:5", "gw:8080", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"), "", "http://gw:8080"},
		{"forwarded headers from a trusted proxy", Options{TrustedProxies: trusted},
			req("10.1.2.3:5", "gw:8080", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "mde.example.com, inner"), "/tenants/contoso", "https://mde.example.com/tenants/contoso"},
		{"trusted IPv6 peer", Options{TrustedProxies: trusted}, req("[::1]:5", "gw", "X-Forwarded-Proto", "https"), "", "https://gw"},
		{"unsafe forwarded host ignored", Options{TrustedProxies: trusted},
			req("10.1.2.3:5", "gw", "X-Forwarded-Host", `x"y`), "", "http://gw"},
		{"public URL wins", Options{PublicURL: pub, TrustedProxies: trusted},
			req("10.1.2.3:5", "gw", "X-Forwarded-Host", "other"), "/tenants/x", "https://mdegate.example.com/mde/tenants/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBaseFinder(tt.opts)
			raw, js, ok := b.find(&call{in: tt.r, linkPrefix: tt.prefix})
			if !ok || raw != tt.want || js != tt.want {
				t.Errorf("got %q, %q, %v; want %q", raw, js, ok, tt.want)
			}
		})
	}
}

// BenchmarkLinksSmall is the rewriter alone on a small answer (the 2 KB alerts page), next to
// a plain copy: its share of a small call.
func BenchmarkLinksSmall(b *testing.B) {
	l := testRewriter(b)
	body := []byte(`{"@odata.context":"https://api.security.microsoft.com/api/$metadata#Alerts","value":[` +
		strings.Repeat(`{"id":"da637","severity":"Medium","status":"New","title":"Suspicious PowerShell"},`, 26) + `{}]}`)
	buf := make([]byte, copyBufferSize)
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run("links="+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var rc io.ReadCloser = io.NopCloser(bytes.NewReader(body))
				if on {
					rc = l.newReader(rc, testBase)
				}
				_, _ = io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
				_ = rc.Close()
			}
		})
	}
}
