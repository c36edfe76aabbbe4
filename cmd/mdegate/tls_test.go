package main

import (
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
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate for cn: a server certificate for 127.0.0.1, or a client one.
func (c *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

func tlsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// A static certificate over HTTPS with HTTP/2, client certificates from the configured CA
// (accepted, identifying a caller by subject), missing, or from another CA, and a reload when
// the files change.
func TestHTTPSStaticAndMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newTestCA(t, "server ca"), newTestCA(t, "client ca"), newTestCA(t, "other ca")
	cp, kp := serverCA.issue(t, "mdegate", true)
	certFile, keyFile := writeFile(t, dir, "tls.crt", cp), writeFile(t, dir, "tls.key", kp)
	caFile := writeFile(t, dir, "clients.pem", clientCA.pem)
	key, sum := newTestKey(t)
	g := startGateway(t, fmt.Sprintf(`tls: {listen: "127.0.0.1:0", cert_file: %q, key_file: %q, client_ca_file: %q}
clients:
  - {name: soar-cert, cert_subject: soar.partner.example, tenants: ["*"], allow: ["*"]}
  - {name: keyed, key_sha256: %s, tenants: [contoso]}
`, certFile, keyFile, caFile, sum))
	g.keys = []string{key}
	if g.TLSURL == "" {
		t.Fatal("no tls_listen in the start-up line")
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	pair := func(ca *testCA, cn string) tls.Certificate {
		c, k := ca.issue(t, cn, false)
		p, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	get := func(c *http.Client, hdr ...string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", g.TLSURL+"/api/alerts", nil)
		req.Header.Set("X-Tenant-ID", "contoso")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	t.Run("certificate names the caller, over HTTP/2", func(t *testing.T) {
		resp, err := get(tlsClient(roots, pair(clientCA, "soar.partner.example")))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("got %d over %s TLS %x, want 200 over HTTP/2", resp.StatusCode, resp.Proto, resp.TLS.Version)
		}
	})
	t.Run("accepted certificate that names no caller needs a key", func(t *testing.T) {
		c := tlsClient(roots, pair(clientCA, "someone-else"))
		if resp, err := get(c); err != nil || resp.StatusCode != 401 {
			t.Fatalf("without key: %v %v, want 401", resp, err)
		}
		if resp, err := get(c, "X-Api-Key", key); err != nil || resp.StatusCode != 200 {
			t.Fatalf("with key: %v %v, want 200", resp, err)
		}
	})
	for _, tt := range []struct {
		name  string
		certs []tls.Certificate
	}{
		{"no client certificate", nil},
		{"client certificate from another CA", []tls.Certificate{pair(otherCA, "soar.partner.example")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp, err := get(tlsClient(roots, tt.certs...), "X-Api-Key", key); err == nil {
				t.Fatalf("got %d, want the handshake refused", resp.StatusCode)
			}
		})
	}
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		c := tlsClient(roots, pair(clientCA, "soar.partner.example"))
		c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11
		if _, err := get(c); err == nil {
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("new certificate files are picked up", func(t *testing.T) {
		cp2, kp2 := serverCA.issue(t, "mdegate renewed", true)
		writeFile(t, dir, "tls.crt", cp2)
		writeFile(t, dir, "tls.key", kp2)
		later := time.Now().Add(time.Minute) // a new mtime even on coarse file systems
		_ = os.Chtimes(certFile, later, later)
		_ = os.Chtimes(keyFile, later, later)
		c := tlsClient(roots, pair(clientCA, "soar.partner.example"))
		deadline := time.Now().Add(8 * time.Second)
		for {
			c.Transport.(*http.Transport).CloseIdleConnections()
			resp, err := get(c)
			if err == nil && resp.TLS.PeerCertificates[0].Subject.CommonName == "mdegate renewed" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the renewed certificate was not served: %v", err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}

// pebbleOptions are the knobs of startPebble that Pebble's constructors take as long
// positional argument lists (ca.New, va.New, wfe.New).
type pebbleOptions struct {
	// KeyAlg is the CA's key algorithm, "ecdsa" or "rsa". Zero means "ecdsa".
	KeyAlg string
	// ChainLength is the number of certificates in the issued chain, root included. Zero
	// means 1 (the leaf's issuer is the root).
	ChainLength int
	// RetryAfterAuthz and RetryAfterOrder are the seconds of the Retry-After header on a
	// pending authorization or order, which the ACME client waits before polling again. Zero
	// sends Retry-After: 0, so the client polls again at once.
	RetryAfterAuthz, RetryAfterOrder int
	// Validate makes the VA really validate challenges. Zero: every challenge is valid
	// (PEBBLE_VA_ALWAYS_VALID), as a gateway on loopback cannot be reached on port 80 or 443.
	Validate bool
}

// testPebble is Pebble, Let's Encrypt's test ACME CA, run in process behind a TLS server.
type testPebble struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// RootFile is a PEM file of the TLS server's certificate, for the ACME client to trust.
	RootFile string
	// Roots holds the root of the certificates the CA issues.
	Roots *x509.CertPool
}

// startPebble runs Pebble until the test ends. The environment it is configured through
// (PEBBLE_VA_NOSLEEP, PEBBLE_VA_ALWAYS_VALID, PEBBLE_WFE_NONCEREJECT) is set with t.Setenv,
// so a test that calls it cannot be parallel.
func startPebble(t *testing.T, o pebbleOptions) *testPebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	if !o.Validate {
		t.Setenv("PEBBLE_VA_ALWAYS_VALID", "1")
	}
	if o.KeyAlg == "" {
		o.KeyAlg = "ecdsa"
	}
	if o.ChainLength == 0 {
		o.ChainLength = 1
	}
	plog := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(plog, store, "" /* no OCSP responder */, o.KeyAlg, 0 /* alternate roots */, o.ChainLength,
		map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(plog, 0, 0 /* challenge ports: unused while always valid */, false /* strict */, "" /* system resolver */, store)
	front := wfe.New(plog, store, validator, authority, []string{"pebble.letsencrypt.org"}, /* CAA identities */
		false /* strict */, false /* require EAB */, o.RetryAfterAuthz, o.RetryAfterOrder)
	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	return &testPebble{
		DirectoryURL: srv.URL + "/dir",
		RootFile:     writeFile(t, t.TempDir(), "acme-root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})),
		Roots:        roots,
	}
}

// certmagic obtains a real certificate from Pebble, Let's Encrypt's test CA, run in process;
// the gateway then serves HTTPS with it. Not parallel: startPebble sets the environment.
func TestHTTPSWithACME(t *testing.T) {
	pebble := startPebble(t, pebbleOptions{})
	dir := t.TempDir()
	storage := filepath.Join(dir, "certmagic")
	key, sum := newTestKey(t)
	g := startGateway(t, fmt.Sprintf(`tls:
  listen: "127.0.0.1:0"
  acme: {domains: [gateway.test], email: ops@partner.example, ca: %q, ca_root_file: %q, storage: %q}
clients: [{name: soar, key_sha256: %s, tenants: ["*"]}]
`, pebble.DirectoryURL, pebble.RootFile, storage, sum))
	g.keys = []string{key}

	addr := strings.TrimPrefix(g.TLSURL, "https://")
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pebble.Roots, ServerName: "gateway.test"},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "https://gateway.test/api/machines", nil)
		req.Header.Set("X-Tenant-ID", "fabrikam")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
				t.Fatalf("got %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate from the ACME CA in time: %v\n%s", err, g.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The certificate and account live in the configured storage, nowhere else.
	found := false
	_ = filepath.Walk(storage, func(p string, fi os.FileInfo, err error) error {
		found = found || err == nil && strings.HasSuffix(p, "gateway.test.crt")
		return nil
	})
	if !found {
		t.Errorf("no certificate under %s", storage)
	}
}
