package intercept

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// signLeaf signs an arbitrary leaf with the CA's key, as a thief of ca-key.pem could.
func signLeaf(t *testing.T, ca *CA, dns []string, ips []net.IP) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "x"},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The CA's key must not be able to mint a certificate Go's verifier accepts for the rest of
// the web: name constraints, critical, limited to the intercepted domains, and no IPs.
func TestCANameConstraints(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	if !ca.cert.PermittedDNSDomainsCritical {
		t.Error("name constraints are not critical")
	}
	if got, want := ca.cert.PermittedDNSDomains, PermittedDomains(); !slices.Equal(got, want) {
		t.Errorf("permitted domains %v, want %v", got, want)
	}
	pool := ca.Pool()
	for _, tc := range []struct {
		name string
		dns  []string
		ips  []net.IP
		ok   bool
	}{
		{"login host", []string{"login.microsoftonline.com"}, nil, true},
		{"regional api host", []string{"eu.api.security.microsoft.com"}, nil, true},
		{"api-* host", []string{"api-eu.securitycenter.microsoft.com"}, nil, true},
		{"gov host", []string{"api-gov.securitycenter.microsoft.us"}, nil, true},
		{"other domain", []string{"www.example.com"}, nil, false},
		{"other microsoft host", []string{"www.microsoft.com"}, nil, false},
		{"suffix trick", []string{"evilgraph.microsoft.com"}, nil, false},
		{"one good one bad", []string{"graph.microsoft.com", "bank.example"}, nil, false},
		{"ip address", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := signLeaf(t, ca, tc.dns, tc.ips)
			opts := x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			if len(tc.dns) > 0 {
				opts.DNSName = tc.dns[0]
			}
			_, err := leaf.Verify(opts)
			if tc.ok && err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !tc.ok {
				var ie x509.CertificateInvalidError
				if !errors.As(err, &ie) || ie.Reason != x509.CANotAuthorizedForThisName {
					t.Fatalf("verify: got %v, want CANotAuthorizedForThisName", err)
				}
			}
		})
	}
}

func TestPermittedDomains(t *testing.T) {
	t.Parallel()
	got := PermittedDomains()
	for _, want := range []string{"login.microsoftonline.com", "login.windows.net", "login.microsoftonline.us",
		"api.security.microsoft.com", "securitycenter.microsoft.com", "securitycenter.windows.com",
		"api-gov.securitycenter.microsoft.us", "graph.microsoft.com", "graph.microsoft.us"} {
		if !slices.Contains(got, want) {
			t.Errorf("PermittedDomains() = %v, lacks %s", got, want)
		}
	}
	for _, d := range got {
		for _, p := range got {
			if d != p && inDomain(d, p) {
				t.Errorf("%s is redundant: already under %s", d, p)
			}
		}
		if d == "microsoft.com" || d == "windows.net" || d == "microsoft.us" {
			t.Errorf("constraint %s covers far more than the intercepted hosts", d)
		}
	}
}

func TestWriteLoadCA(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	dir := t.TempDir()
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("ca-key.pem mode %v, want 0600", got)
	}
	loaded, err := LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.cert.Equal(ca.cert) {
		t.Error("loaded certificate differs")
	}
	if err := ca.WriteCA(dir); err == nil {
		t.Error("WriteCA overwrote an existing CA")
	}

	other := newTestCA(t)
	odir := t.TempDir()
	if err := other.WriteCA(odir); err != nil {
		t.Fatal(err)
	}
	_, err = LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(odir, "ca-key.pem"))
	if err == nil || err.Error() != "ca key: does not match the certificate" {
		t.Errorf("mismatched key: got %v", err)
	}
	if _, err := LoadCA(filepath.Join(dir, "ca-key.pem"), filepath.Join(dir, "ca-key.pem")); err == nil {
		t.Error("a key file was accepted as the certificate")
	}
}

func TestLeavesMintOncePerHostAndBeforeExpiry(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	// The clock starts inside the CA's validity, derived from it: a fixed date failed every
	// day after the hour the CA's NotBefore (its creation less an hour) passed it (the
	// leaf then predates its CA and does not verify).
	now := ca.cert.NotBefore.Add(2 * time.Hour)
	l := newLeaves(ca, 24*time.Hour, func() time.Time { return now })
	ctx := t.Context()
	done := make(chan error, 8)
	for range 8 {
		go func() { _, err := l.get(ctx, "api.security.microsoft.com"); done <- err }()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := l.minted.Load(); got != 1 {
		t.Fatalf("minted %d leaves for one host, want 1", got)
	}
	c, _ := l.get(ctx, "api.security.microsoft.com")
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "api.security.microsoft.com", CurrentTime: now}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Leaf.PublicKey.(*ecdsa.PublicKey); !ok || c.Leaf.NotAfter.Sub(now) != 24*time.Hour {
		t.Errorf("leaf key %T, lifetime %v; want ECDSA, 24h", c.Leaf.PublicKey, c.Leaf.NotAfter.Sub(now))
	}
	now = now.Add(15 * time.Hour) // 9 h left: still more than a third
	l.get(ctx, "api.security.microsoft.com")
	if got := l.minted.Load(); got != 1 {
		t.Errorf("re-minted with 9h left: %d mints", got)
	}
	now = now.Add(2 * time.Hour) // 7 h left: mint again
	c2, _ := l.get(ctx, "api.security.microsoft.com")
	if got := l.minted.Load(); got != 2 || c2 == c {
		t.Errorf("not re-minted with 7h left: %d mints", got)
	}
	if _, err := l.get(ctx, "www.example.com"); err == nil {
		t.Error("minted a leaf outside the CA's constraints")
	}
}

// A client dialling endless names under a wildcard pattern must not grow the cache without bound.
func TestLeafCacheIsBounded(t *testing.T) {
	t.Parallel()
	l := newLeaves(newTestCA(t), time.Hour, time.Now)
	for i := range maxLeaves + 10 {
		if _, err := l.get(t.Context(), fmt.Sprintf("api-%d.securitycenter.microsoft.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.certs); n > maxLeaves {
		t.Errorf("%d leaves cached, want at most %d", n, maxLeaves)
	}
}
