package proxy

import (
	"io"
	"net/http"
	"strconv"
)

// Small JSON answers. Most MDE answers are a page of a few KiB with a Content-Length. Streamed
// through the link rewriter they would lose their length and go out chunked, which makes
// ReverseProxy flush every write (a goroutine, a timer and an extra write(2) per call). An
// answer of at most smallAnswer bytes is instead rewritten whole into one pooled buffer and
// sent with its new length. Larger and unsized answers stream as before, so memory stays
// bounded by the pool's buffer size whatever MDE sends.

// smallAnswer is the largest Content-Length rewritten whole. Rewriting a link can only
// lengthen it by the gateway's base, so the result fits the copy buffer with room to spare;
// when it does not, the rest streams.
const smallAnswer = 16 << 10

// rewriteSmall reads the rewritten body of a small answer into a pooled buffer and gives resp
// that buffer as its body, with its length. It reports false, leaving resp untouched, when the
// answer is not small.
func (l *linkRewriter) rewriteSmall(resp *http.Response, js string) bool {
	if resp.ContentLength < 0 || resp.ContentLength > smallAnswer {
		return false
	}
	lr := l.newReader(resp.Body, js)
	buf := l.bufs.Get()
	n, err := io.ReadFull(lr, buf)
	switch err {
	case io.EOF, io.ErrUnexpectedEOF: // the whole answer is in buf
		_ = lr.Close() // the connection goes back to the pool now
		resp.Body = &smallBody{buf: buf, end: n, pool: l.bufs}
		resp.ContentLength = int64(n)
		resp.Header["Content-Length"] = []string{strconv.Itoa(n)}
	default: // grew past the buffer, or failed: what was read, then the rest, streamed
		resp.Body = &smallBody{buf: buf, end: n, pool: l.bufs, rest: lr}
		resp.ContentLength = -1
		delete(resp.Header, "Content-Length")
	}
	return true
}

// smallBody is a rewritten answer held in a pooled buffer, possibly followed by the rest of a
// stream.
type smallBody struct {
	buf      []byte
	off, end int
	pool     *bufferPool
	rest     io.ReadCloser // nil when buf holds the whole answer
}

func (b *smallBody) Read(p []byte) (int, error) {
	if b.off < b.end {
		n := copy(p, b.buf[b.off:b.end])
		b.off += n
		return n, nil
	}
	if b.rest != nil {
		return b.rest.Read(p)
	}
	return 0, io.EOF
}

func (b *smallBody) Close() error {
	if b.buf != nil {
		b.pool.Put(b.buf)
		b.buf, b.off, b.end = nil, 0, 0
	}
	if b.rest != nil {
		return b.rest.Close()
	}
	return nil
}
