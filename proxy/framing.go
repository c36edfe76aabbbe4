package proxy

import (
	"bytes"
	"net"
	"strconv"
)

// A request with both Content-Length and Transfer-Encoding is the shape of request smuggling
// (RFC 9112, section 6.3): net/http serves it by the Transfer-Encoding and deletes the
// Content-Length before any handler runs, so the Handler cannot refuse it (issue 14, finding
// 11). GuardFraming does it on the connection instead: it follows the framing of each HTTP/1
// request, holds each request head until it is whole, and in a head with both fields spoils
// the Content-Length value, which net/http then answers 400 Bad Request and closes the
// connection on. Everything else passes byte for byte.

// GuardFraming wraps a plaintext HTTP listener so that a request with both Content-Length and
// Transfer-Encoding is answered 400 and its connection closed. It must wrap the listener
// http.Server serves directly; a TLS listener cannot be wrapped this way (http.Server needs
// its *tls.Conn for HTTP/2 and client certificates), so over TLS only HTTP/2 is immune.
// An HTTP/2 prior-knowledge connection passes untouched.
func GuardFraming(ln net.Listener) net.Listener { return framingListener{ln} }

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingState uint8

const (
	inHead      framingState = iota // gathering a request head
	inFixed                         // n bytes of a Content-Length body left
	inChunkLine                     // a chunk-size line
	inChunkData                     // n bytes of chunk data left
	inChunkEnd                      // the CRLF after chunk data
	inTrailer                       // trailer lines until an empty one
)

const (
	maxFramingHead = 1<<20 + 4096 // net/http's DefaultMaxHeaderBytes and its slack
	maxFramingLine = 4096
)

// framingConn follows HTTP/1 request framing on what the server reads.
type framingConn struct {
	net.Conn
	rb    []byte // read buffer
	out   []byte // ready for the server
	off   int    // out[off:] not handed out yet
	head  []byte // the request head being gathered
	lines int    // non-empty lines in head
	line  []byte // a chunk-size or trailer line being gathered
	st    framingState
	n     int64
	pass  bool // stop following: HTTP/2, a head too long, framing net/http will refuse
}

func (c *framingConn) Read(p []byte) (int, error) {
	for c.off == len(c.out) {
		if c.pass && len(c.head) == 0 {
			return c.Conn.Read(p)
		}
		if c.rb == nil {
			c.rb = make([]byte, 32<<10)
		}
		c.out, c.off = c.out[:0], 0
		n, err := c.Conn.Read(c.rb)
		c.feed(c.rb[:n])
		if c.off == len(c.out) && err != nil {
			return 0, err // a held partial head stays held; the error comes again if it lasts
		}
	}
	n := copy(p, c.out[c.off:])
	c.off += n
	return n, nil
}

// feed follows b and appends to c.out what the server may read.
func (c *framingConn) feed(b []byte) {
	for len(b) > 0 {
		if c.pass {
			c.out = append(c.out, b...)
			return
		}
		switch c.st {
		case inHead:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.head = append(c.head, b...)
				if len(c.head) > maxFramingHead {
					c.passOn()
				}
				return
			}
			line := b[:i+1]
			b = b[i+1:]
			c.head = append(c.head, line...)
			switch {
			case len(c.head) > maxFramingHead:
				c.passOn()
			case len(bytes.TrimRight(line, "\r\n")) > 0:
				c.lines++
				if c.lines == 1 && bytes.HasPrefix(line, []byte("PRI * HTTP/2")) {
					c.passOn()
				}
			case c.lines > 0:
				c.endHead()
			}
		case inFixed, inChunkData:
			k := int(min(int64(len(b)), c.n))
			c.out = append(c.out, b[:k]...)
			b, c.n = b[k:], c.n-int64(k)
			if c.n == 0 {
				if c.st == inFixed {
					c.st = inHead
				} else {
					c.st = inChunkEnd
				}
			}
		default: // a line: chunk size, the end of chunk data, a trailer
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.out = append(c.out, b...)
				c.line = append(c.line, b...)
				if len(c.line) > maxFramingLine {
					c.pass = true
				}
				return
			}
			c.out = append(c.out, b[:i+1]...)
			c.line = append(c.line, b[:i]...)
			b = b[i+1:]
			c.endLine(bytes.TrimRight(c.line, "\r"))
			c.line = c.line[:0]
		}
	}
}

func (c *framingConn) endLine(line []byte) {
	switch c.st {
	case inChunkLine:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		switch {
		case err != nil || size < 0:
			c.pass = true // net/http refuses it and closes
		case size == 0:
			c.st = inTrailer
		default:
			c.st, c.n = inChunkData, size
		}
	case inChunkEnd:
		c.st = inChunkLine
	case inTrailer:
		if len(line) == 0 {
			c.st = inHead
		}
	}
}

// passOn hands out the head gathered so far and stops following.
func (c *framingConn) passOn() {
	c.out = append(c.out, c.head...)
	c.head, c.pass = nil, true
}

// endHead decides the body's framing from a whole head, spoils the Content-Length of a head
// that also has Transfer-Encoding, and hands the head out.
func (c *framingConn) endHead() {
	var cl, te, chunked bool
	var length []byte
	var spoil []int // offsets of Content-Length values
	off := 0
	for n, rest := 0, c.head; len(rest) > 0; n++ {
		i := bytes.IndexByte(rest, '\n')
		line := rest[:i+1]
		if n > 0 {
			if name, value, ok := bytes.Cut(line, []byte(":")); ok {
				v := bytes.TrimSpace(value)
				switch {
				case bytes.EqualFold(name, []byte("Content-Length")):
					cl, length = true, v
					spoil = append(spoil, off+len(name)+1+len(value)-len(bytes.TrimLeft(value, " \t")))
				case bytes.EqualFold(name, []byte("Transfer-Encoding")):
					te = true
					codings := bytes.Split(v, []byte(","))
					chunked = bytes.EqualFold(bytes.TrimSpace(codings[len(codings)-1]), []byte("chunked"))
				}
			}
		}
		off += len(line)
		rest = rest[i+1:]
	}
	head := c.head
	c.out = append(c.out, head...)
	c.head, c.lines = c.head[:0], 0
	switch {
	case bytes.HasPrefix(head, []byte("CONNECT ")):
		// What follows a CONNECT is a tunnel (the proxy mode hijacks the connection), not
		// HTTP/1 framing: a TLS handshake read as a request head would be held forever.
		c.pass = true
	case cl && te:
		for _, o := range spoil {
			c.out[len(c.out)-len(head)+o] = 'x' // not a number: net/http answers 400 and closes
		}
		c.pass = true
	case te && chunked:
		c.st = inChunkLine
	case te:
		c.pass = true // net/http refuses other codings and closes
	case cl:
		n, err := strconv.ParseInt(string(length), 10, 64)
		switch {
		case err != nil || n < 0:
			c.pass = true
		case n > 0:
			c.st, c.n = inFixed, n
		}
	}
}
