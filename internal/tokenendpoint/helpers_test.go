package tokenendpoint

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const (
	contosoID  = "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"
	fabrikamID = "0b7e4c1a-5f2d-4e8b-a1c3-9d8e7f6a5b4c"
	mdeRes     = "https://api.securitycenter.microsoft.com"
	socKey     = "soc-key-0123456789abcdef"     // a caller allowed every tenant
	limitedKey = "limited-key-0123456789abcdef" // a caller allowed contoso only
	oddKey     = "odd key+/=%20"                // soc's second key, with characters form encoding changes
)

var mdeRoles = []string{"Machine.Read.All", "Alert.Read.All", "AdvancedQuery.Read.All"}

func lookupTenant(s string) (Tenant, bool) {
	switch strings.ToLower(s) {
	case "contoso", contosoID:
		return Tenant{ID: contosoID, Alias: "contoso"}, true
	case "fabrikam", fabrikamID:
		return Tenant{ID: fabrikamID, Alias: "fabrikam"}, true
	}
	return Tenant{}, false
}

func authenticate(secret string) (Caller, bool) {
	switch secret {
	case socKey, oddKey:
		return Caller{Name: "soc", Tenants: []string{"*"}}, true
	case limitedKey:
		return Caller{Name: "limited", Tenants: []string{contosoID}}, true
	}
	return Caller{}, false
}

// rolesOf stands for the gateway's real tokens: MDE resources have roles, fabrikam's token
// cannot be had.
func rolesOf(_ context.Context, tenantID, resource string) ([]string, error) {
	if !strings.HasPrefix(resource, mdeRes) && !strings.HasPrefix(resource, "https://api.security.microsoft.com") {
		return nil, fmt.Errorf("resource %s: %w", resource, ErrUnknownResource)
	}
	if tenantID == fabrikamID {
		return nil, fabrikamErr{}
	}
	return mdeRoles, nil
}

type fabrikamErr struct{}

func (fabrikamErr) Error() string {
	return "tenant fabrikam: token request failed: AADSTS700016 (secret-free cause)"
}
func (fabrikamErr) Message() string {
	return "no token for tenant fabrikam: AADSTS700016: not consented"
}

// logBuffer collects log lines from concurrent handlers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeClock is an injected clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// seen records the Host and path of every request the handler got.
type seen struct {
	mu   sync.Mutex
	reqs []string
}

func (s *seen) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+r.Host+r.URL.Path)
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (s *seen) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// fixture is a Handler behind a loopback TLS server whose certificate, from a test CA, is
// valid for 127.0.0.1 and login.microsoftonline.com (as the intercept's minted certificates
// will be), and a CONNECT tunnel that carries any target to that server.
type fixture struct {
	h      *Handler
	srv    *httptest.Server
	log    *logBuffer
	clock  *fakeClock
	seen   *seen
	caPool *x509.CertPool
	caFile string // the CA in PEM, for Python's REQUESTS_CA_BUNDLE
	tunnel string // http://127.0.0.1:PORT of the CONNECT tunnel
}

type fixtureOptions struct {
	anonymous bool
	hosts     []string // Options.Hosts; "self" is replaced by the server's host:port
	key       *SigningKey
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{log: &logBuffer{}, clock: &fakeClock{t: time.Now()}, seen: &seen{}}
	caCert, leaf := newTestPKI(t)
	f.caPool = x509.NewCertPool()
	f.caPool.AddCert(caCert)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	f.srv = httptest.NewUnstartedServer(nil)
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	self := f.srv.Listener.Addr().String()
	opts := Options{
		Tenant:   lookupTenant,
		Roles:    rolesOf,
		Key:      fo.key,
		Now:      f.clock.Now,
		Logger:   zerolog.New(f.log),
		Lifetime: 0,
	}
	if !fo.anonymous {
		opts.Authenticate = authenticate
	}
	for _, hst := range fo.hosts {
		opts.Hosts = append(opts.Hosts, strings.ReplaceAll(hst, "self", self))
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.srv.Config.Handler = f.seen.wrap(h)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	f.tunnel = startTunnel(t, self)
	return f
}

// client trusts the test CA; with proxy it goes through the CONNECT tunnel for every host.
func (f *fixture) client(proxy bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.caPool}, Proxy: nil}
	if proxy {
		u, _ := url.Parse(f.tunnel)
		tr.Proxy = http.ProxyURL(u)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// newTestPKI makes a CA and a leaf for 127.0.0.1 and login.microsoftonline.com.
func newTestPKI(t *testing.T) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tokenendpoint test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "login.microsoftonline.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames:    []string{"login.microsoftonline.com", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return ca, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
}

// startTunnel runs a CONNECT proxy on loopback that tunnels every CONNECT, whatever its target,
// to target (the test server): it stands for the intercept that routes login hosts to the
// Handler. The test owns its goroutines: Cleanup closes the listener and every connection and
// waits for them.
func startTunnel(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer track(c, false)
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", target)
				if err != nil {
					_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
					return
				}
				track(up, true)
				defer track(up, false)
				defer up.Close()
				_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				done := make(chan struct{})
				go func() {
					_, _ = io.Copy(up, br) // br holds any bytes read past the CONNECT
					_ = up.(*net.TCPConn).CloseWrite()
					close(done)
				}()
				_, _ = io.Copy(c, up)
				_ = c.Close()
				<-done
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}
