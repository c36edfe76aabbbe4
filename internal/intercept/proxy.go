package intercept

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultLeafLifetime = 24 * time.Hour
	DefaultIdleTimeout  = 2 * time.Minute
	defaultDialTimeout  = 10 * time.Second
	// handshakeTimeout bounds the TLS handshake inside a tunnel.
	handshakeTimeout = 10 * time.Second
	// readHeaderTimeout bounds the wait for one request's headers inside a tunnel.
	readHeaderTimeout = 30 * time.Second
)

// Options configure a Proxy.
type Options struct {
	// CA signs the leaf certificates of intercepted hosts. Required when Hosts lists any host.
	CA *CA
	// Hosts are the intercepted hosts. The zero value intercepts nothing; CloudHosts gives
	// the built-in lists of a cloud.
	Hosts Hosts
	// Login serves the requests inside a tunnel to a Hosts.Login host (the token endpoint).
	// Nil means login hosts are refused like any other host.
	Login http.Handler
	// API serves the requests inside a tunnel to a Hosts.API host (the normal forward path).
	// Nil means API hosts are refused like any other host.
	API http.Handler
	// Passthrough are the hosts tunnelled as plain bytes: "host", "host:port" or
	// "*.domain[:port]" ("*" matches inside one label); no port means any port. A host that is
	// also intercepted is intercepted. Nil tunnels nothing.
	Passthrough []string
	// Authenticate checks the Basic credentials of a CONNECT's Proxy-Authorization (the
	// password is the caller's mdegate key) and returns the caller's name. Nil means no
	// authentication is configured (anonymous mode): passthrough is open to every client and
	// Proxy-Authorization is ignored. When set, a passthrough CONNECT without valid
	// credentials gets 407, and an intercepted CONNECT with invalid ones gets 407 too (one
	// without any is served: the requests inside carry their own credentials).
	Authenticate func(user, password string) (caller string, ok bool)
	// DialContext connects passthrough tunnels. Nil means a net.Dialer with a 10 s timeout.
	// Intercepted hosts are never dialled.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// IdleTimeout closes a tunnel (intercepted or passthrough) in which no byte moved for this
	// long. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// LeafLifetime is how long a minted leaf certificate is valid; it is minted again when a
	// third of it is left. Zero means DefaultLeafLifetime.
	LeafLifetime time.Duration
	// Logger gets one line per tunnel and per refusal. The zero Logger discards them.
	Logger zerolog.Logger
}

// Proxy answers CONNECT (and refuses absolute-form requests) for the gateway. It owns the
// tunnels it opens: Close ends them and waits for them.
type Proxy struct {
	opts        Options
	passthrough []target
	leaves      *leaves
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	log         zerolog.Logger
	// tlsConfig terminates every intercepted tunnel; one config, so session tickets resume
	// across tunnels.
	tlsConfig *tls.Config

	// mu guards closed and conns, the hijacked client connections of open tunnels.
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// New validates opts and returns a Proxy.
func New(opts Options) (*Proxy, error) {
	pt, err := parsePassthrough(opts.Passthrough)
	if err != nil {
		return nil, err
	}
	opts.Hosts = Hosts{Login: normalizeAll(opts.Hosts.Login), API: normalizeAll(opts.Hosts.API)}
	if opts.CA == nil && (len(opts.Hosts.Login) > 0 && opts.Login != nil || len(opts.Hosts.API) > 0 && opts.API != nil) {
		return nil, errors.New("intercept: a CA is needed to intercept hosts")
	}
	if opts.CA != nil {
		for _, list := range [][]string{opts.Hosts.Login, opts.Hosts.API} {
			for _, h := range list {
				if !opts.CA.permits(strings.ReplaceAll(h, "*", "x")) {
					return nil, errors.New("intercept: host " + h + " is outside the CA's name constraints (make a new CA)")
				}
			}
		}
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.LeafLifetime <= 0 {
		opts.LeafLifetime = DefaultLeafLifetime
	}
	p := &Proxy{opts: opts, passthrough: pt, dial: opts.DialContext, log: opts.Logger, conns: map[net.Conn]struct{}{}}
	if p.dial == nil {
		p.dial = (&net.Dialer{Timeout: defaultDialTimeout}).DialContext
	}
	if opts.CA != nil {
		p.leaves = newLeaves(opts.CA, opts.LeafLifetime, time.Now)
		p.tlsConfig = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{"h2", "http/1.1"},
			GetCertificate: p.tunnelCertificate,
		}
	}
	return p, nil
}

// IsProxyRequest reports whether r is addressed to a proxy rather than to the gateway itself:
// a CONNECT, or an absolute-form request (GET http://host/...). The gateway hands such
// requests to ServeHTTP.
func IsProxyRequest(r *http.Request) bool {
	return r.Method == http.MethodConnect || r.URL.Host != "" || r.URL.Scheme != ""
}

// Classify returns what the proxy does with a CONNECT to hostport ("host:port"). Intercepted
// hosts are served on port 443 only, and only when their handler is set.
func (p *Proxy) Classify(hostport string) Class {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return Refused
	}
	return p.classify(normalizeHost(host), port)
}

func (p *Proxy) classify(host, port string) Class {
	if c := p.interceptClass(host); c != Refused && port == "443" {
		return c
	}
	for _, t := range p.passthrough {
		if (t.port == "" || t.port == port) && matchHost(t.host, host) {
			return Passthrough
		}
	}
	return Refused
}

// HostClass is Login or API when host ("name" or "name:port", port ignored) is an
// intercepted host with a handler, else Refused. The gateway routes requests that reached its
// own TLS listener by SNI (see GetCertificate) with HostClass(r.Host).
func (p *Proxy) HostClass(host string) Class {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return p.interceptClass(normalizeHost(host))
}

// interceptClass is Login or API when host is intercepted, else Refused.
func (p *Proxy) interceptClass(host string) Class {
	if p.leaves == nil {
		return Refused
	}
	if p.opts.Login != nil && matchAny(p.opts.Hosts.Login, host) {
		return Login
	}
	if p.opts.API != nil && matchAny(p.opts.Hosts.API, host) {
		return API
	}
	return Refused
}

// ServeHTTP answers a request for which IsProxyRequest is true. A CONNECT to an intercepted
// host is served inside the tunnel (see Tunnel); to a passthrough host it is a byte tunnel;
// anything else, including every absolute-form request, is refused with 403 before any
// connection is made. ServeHTTP returns when the tunnel ends.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		p.refuse(w, r, errAbsoluteForm, "absolute-form request")
		return
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || host == "" || port == "" {
		p.refuse(w, r, errBadTarget, "bad connect target")
		return
	}
	host = normalizeHost(host)
	class := p.classify(host, port)
	if class == Refused {
		p.refuse(w, r, errForbidden, "connect refused")
		return
	}
	caller, authed, ok := p.authenticate(r, class)
	if !ok {
		p.refuse(w, r, errProxyAuth, "proxy authentication failed")
		return
	}
	t := Tunnel{Host: host, Port: port, Class: class, Caller: caller, Authenticated: authed, RemoteAddr: r.RemoteAddr}
	if class == Passthrough {
		p.passthroughTunnel(w, r, t)
		return
	}
	p.interceptTunnel(w, r, t)
}

// authenticate checks Proxy-Authorization. ok is false when the CONNECT must get 407.
func (p *Proxy) authenticate(r *http.Request, class Class) (caller string, authed, ok bool) {
	if p.opts.Authenticate == nil {
		return "", false, true
	}
	user, pass, present := proxyBasicAuth(r)
	if !present {
		return "", false, class != Passthrough
	}
	caller, authed = p.opts.Authenticate(user, pass)
	return caller, authed, authed
}

func proxyBasicAuth(r *http.Request) (user, pass string, ok bool) {
	auth := r.Header.Get("Proxy-Authorization")
	const prefix = "basic "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	return user, pass, ok
}

func normalizeAll(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = normalizeHost(h)
	}
	return out
}

func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, e *refusal, msg string) {
	p.log.Info().Str("remote_addr", r.RemoteAddr).Str("method", r.Method).Str("target", clip(r.Host)).
		Int("status", e.status).Msg(msg)
	e.write(w)
}

// clip shortens what a client wrote before it is logged.
func clip(s string) string {
	if len(s) > 255 {
		return s[:255] + "..."
	}
	return s
}

// hijack takes the client connection over, or answers why not. It registers the connection
// so Close can end it; the caller must call p.release(conn) when the tunnel ends.
func (p *Proxy) hijack(w http.ResponseWriter, r *http.Request) (net.Conn, []byte, bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		errClosed.write(w)
		return nil, nil, false
	}
	p.wg.Add(1)
	p.mu.Unlock()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.wg.Done()
		p.refuse(w, r, errNoHijack, "connect not hijackable")
		return nil, nil, false
	}
	// Bytes the client sent right after its CONNECT (a ClientHello that did not wait for
	// our 200) are already in the server's buffer.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
		early = append([]byte(nil), early...)
	}
	conn.SetDeadline(time.Time{}) // the gateway's read/write timeouts do not apply to a tunnel
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		conn.Close()
		p.wg.Done()
		return nil, nil, false
	}
	p.conns[conn] = struct{}{}
	p.mu.Unlock()
	return conn, early, true
}

func (p *Proxy) release(conn net.Conn) {
	conn.Close()
	p.mu.Lock()
	delete(p.conns, conn)
	p.mu.Unlock()
	p.wg.Done()
}

// Close ends every open tunnel, refuses new ones, and waits for the tunnels' goroutines to
// return. Call it after the gateway's http.Server.Shutdown, which does not track hijacked
// connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
