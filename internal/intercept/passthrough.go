package intercept

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// copyBuffer is the size of each direction's buffer in a passthrough tunnel.
const copyBuffer = 32 << 10

// passthroughTunnel dials t's host, answers 200 and copies bytes both ways, untouched, until
// both sides have finished, either side fails, no byte moved for IdleTimeout, or Close.
func (p *Proxy) passthroughTunnel(w http.ResponseWriter, r *http.Request, t Tunnel) {
	addr := net.JoinHostPort(t.Host, t.Port)
	up, err := p.dial(r.Context(), "tcp", addr)
	if err != nil {
		p.log.Info().Err(err).Str("host", t.Host).Str("port", t.Port).Str("caller", t.Caller).Msg("passthrough dial failed")
		errDial.write(w)
		return
	}
	conn, early, ok := p.hijack(w, r)
	if !ok {
		up.Close()
		return
	}
	defer p.release(conn)
	defer up.Close()
	start := time.Now()
	if _, err := conn.Write(established); err != nil {
		return
	}
	if len(early) > 0 {
		if _, err := up.Write(early); err != nil {
			return
		}
	}
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	idle := p.opts.IdleTimeout
	sent := make(chan int64, 1)
	go func() { sent <- pipe(up, conn, idle, &last) }() // client -> host; waited for below
	received := pipe(conn, up, idle, &last)
	toHost := <-sent
	p.log.Info().Str("host", t.Host).Str("port", t.Port).Str("class", "passthrough").Str("caller", t.Caller).
		Str("remote_addr", t.RemoteAddr).Int64("bytes_sent", toHost+int64(len(early))).Int64("bytes_received", received).
		Dur("duration", time.Since(start)).Msg("tunnel closed")
}

// pipe copies src to dst. A clean end of src half-closes dst, so the other direction can
// finish; a failure, or idleness of the whole tunnel (last is the time of the last byte in
// either direction), closes both so the other direction's pipe returns too.
func pipe(dst, src net.Conn, idle time.Duration, last *atomic.Int64) int64 {
	buf := make([]byte, copyBuffer)
	var total int64
	for {
		src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			dst.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				dst.Close()
				return total
			}
			total += int64(n)
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < idle:
			// The other direction moved bytes recently: the tunnel is not idle.
		case errors.Is(err, io.EOF):
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.Close()
			}
			return total
		default:
			src.Close()
			dst.Close()
			return total
		}
	}
}
