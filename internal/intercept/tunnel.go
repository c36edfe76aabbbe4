package intercept

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Tunnel describes the CONNECT a request inside an intercepted tunnel arrived through. A
// handler that needs it gets it from TunnelFrom(r.Context()): request-scoped data set by this
// package, and the only way the caller named in the CONNECT's Proxy-Authorization reaches a
// handler (the requests inside the tunnel carry no proxy headers). The gateway does not use
// it: the requests inside a tunnel carry their own credentials (a gateway token or a key),
// and those decide who the caller is.
type Tunnel struct {
	// Host is the name the client dialled (lower case), which is also the request's r.Host
	// and the name its TLS certificate was minted for.
	Host string
	// Port is the dialled port ("443" for intercepted hosts).
	Port string
	// Class is Login or API for intercepted tunnels.
	Class Class
	// Caller is the name Options.Authenticate returned for the CONNECT's Proxy-Authorization,
	// "" when none was sent or no authentication is configured.
	Caller string
	// Authenticated is true when Caller was vouched for by Options.Authenticate.
	Authenticated bool
	// RemoteAddr is the client's address as the gateway saw the CONNECT.
	RemoteAddr string
}

type tunnelKey struct{}

// TunnelFrom returns the tunnel a request arrived through, or false for a request sent to the
// gateway directly.
func TunnelFrom(ctx context.Context) (Tunnel, bool) {
	t, ok := ctx.Value(tunnelKey{}).(*Tunnel)
	if !ok {
		return Tunnel{}, false
	}
	return *t, true
}

// tunnelConn is the client side of an intercepted tunnel: it replays bytes the client sent
// before our 200 and tells GetCertificate which host the tunnel is for.
type tunnelConn struct {
	net.Conn
	host  string
	early []byte
}

func (c *tunnelConn) Read(b []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(b, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// tunnelCertificate serves the leaf of the dialled host whatever the SNI says: the client
// asked the proxy for that host, and r.Host is set to it.
func (p *Proxy) tunnelCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	tc, ok := hello.Conn.(*tunnelConn)
	if !ok {
		return nil, errors.New("intercept: handshake outside a tunnel")
	}
	return p.leaves.get(hello.Context(), tc.host)
}

var established = []byte("HTTP/1.1 200 Connection Established\r\n\r\n")

// interceptTunnel answers 200, completes TLS as t.Host and serves the requests inside with
// the Login or API handler until the client leaves, the tunnel idles out or Close is called.
func (p *Proxy) interceptTunnel(w http.ResponseWriter, r *http.Request, t Tunnel) {
	// Mint (or find) the leaf before answering 200, so a failure is still an HTTP answer.
	if _, err := p.leaves.get(r.Context(), t.Host); err != nil {
		p.log.Error().Err(err).Str("host", t.Host).Msg("leaf certificate failed")
		errMint.write(w)
		return
	}
	conn, early, ok := p.hijack(w, r)
	if !ok {
		return
	}
	defer p.release(conn)
	start := time.Now()
	if _, err := conn.Write(established); err != nil {
		return
	}
	tc := tls.Server(&tunnelConn{Conn: conn, host: t.Host, early: early}, p.tlsConfig)
	hctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		p.log.Info().Str("host", t.Host).Str("remote_addr", t.RemoteAddr).Msg("tunnel handshake failed")
		return
	}
	ctx := context.WithValue(context.Background(), tunnelKey{}, &t)
	l := &oneConnListener{conn: tc, done: make(chan struct{})}
	srv := &http.Server{
		Handler: p.inner(t),
		// The client's headers arrive promptly or never: a tool inside a tunnel sends a
		// whole request at once.
		ReadHeaderTimeout: readHeaderTimeout,
		// No ReadTimeout or WriteTimeout: answers stream for as long as they take (exports).
		IdleTimeout: p.opts.IdleTimeout,
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				l.Close()
			}
		},
	}
	srv.Serve(l) // returns once the one connection has closed
	p.log.Info().Str("host", t.Host).Str("class", t.Class.String()).Str("caller", t.Caller).
		Str("remote_addr", t.RemoteAddr).Str("proto", tc.ConnectionState().NegotiatedProtocol).
		Dur("duration", time.Since(start)).Msg("tunnel closed")
}

// inner serves one request inside tunnel t: r.Host is the dialled name whatever the request
// says, r.TLS is the tunnel's TLS state (set by http.Server).
func (p *Proxy) inner(t Tunnel) http.Handler {
	h := p.opts.API
	if t.Class == Login {
		h = p.opts.Login
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Host = t.Host
		h.ServeHTTP(w, r)
	})
}

// oneConnListener hands http.Server one connection, then blocks until that connection has
// closed, so Serve returns exactly when the tunnel ends.
type oneConnListener struct {
	conn  net.Conn
	given bool // only Serve's goroutine reads and writes it
	once  sync.Once
	done  chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.given {
		l.given = true
		return l.conn, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
