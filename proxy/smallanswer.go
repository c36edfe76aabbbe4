package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Small JSON answers. Most MDE answers are a page of a few KiB with a Content-Length (of its
// gzip encoding, when MDE compressed it). Streamed through the link rewriter such a page would
// lose its length and go out chunked, which makes ReverseProxy flush every write (a goroutine,
// a timer and an extra write(2) per call). An answer of at most smallAnswer bytes is instead
// read, rewritten, into one pooled buffer before the caller gets anything, and sent with its
// new length. And if it breaks off before its end, it has reached nobody yet, so the retrier
// can send the request elsewhere instead of cutting the caller's answer short.
//
// Larger and unsized answers stream as they come (an export may trickle for minutes), so
// memory stays bounded by the pool's buffer size whatever MDE sends.

// smallAnswer is the largest Content-Length read whole. Rewriting a link can only lengthen it
// by the gateway's base, so the result fits the copy buffer with room to spare; when it does
// not (or a gzip page decodes to more), the rest streams.
const smallAnswer = 16 << 10

// readFirst gives resp the body lr (its rewritten body). A small answer is read into a pooled
// buffer first: whole, with its new length, or the buffer then the rest, streamed. Its error
// is a small answer that broke off: lr is then closed, and nothing of the answer has reached
// the caller.
func (l *linkRewriter) readFirst(resp *http.Response, lr io.ReadCloser) error {
	cl := resp.ContentLength
	resp.ContentLength, resp.Body = -1, lr // the length changes with the links
	delete(resp.Header, "Content-Length")
	if cl < 0 || cl > smallAnswer {
		return nil
	}
	buf := l.bufs.Get()
	// Not io.ReadFull: it reports a clean end after some bytes as io.ErrUnexpectedEOF, the
	// error the Transport gives for a body cut short of its Content-Length.
	n, err := 0, error(nil)
	for n < len(buf) && err == nil {
		var k int
		k, err = lr.Read(buf[n:])
		n += k
	}
	switch err {
	case io.EOF: // the whole answer is in buf
		_ = lr.Close() // the connection goes back to the pool now
		resp.Body = &smallBody{buf: buf, end: n, pool: l.bufs}
		resp.ContentLength = int64(n)
		resp.Header["Content-Length"] = []string{strconv.Itoa(n)}
	case nil: // more than the buffer: what was read, then the rest, streamed
		resp.Body = &smallBody{buf: buf, end: n, pool: l.bufs, rest: lr}
	default:
		_ = lr.Close()
		l.bufs.Put(buf)
		return fmt.Errorf("reading the answer: %w", err)
	}
	return nil
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
