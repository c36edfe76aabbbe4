package intercept

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// leafBackdate covers clients whose clock runs behind the gateway's.
	leafBackdate = 5 * time.Minute
	// maxLeaves bounds the cache: a pattern such as api-*.securitycenter.microsoft.com admits
	// any number of names, and a client must not grow the gateway's memory by dialling them.
	maxLeaves = 1024
)

// leaves mints and caches one leaf certificate per intercepted host. A leaf is minted on first
// use and again once less than a third of its lifetime is left, never per connection.
type leaves struct {
	ca       *CA
	lifetime time.Duration
	now      func() time.Time
	group    singleflight.Group
	minted   atomic.Int64 // leaves minted so far (tests count them)

	mu    sync.Mutex
	certs map[string]*tls.Certificate
}

func newLeaves(ca *CA, lifetime time.Duration, now func() time.Time) *leaves {
	return &leaves{ca: ca, lifetime: lifetime, now: now, certs: map[string]*tls.Certificate{}}
}

// get returns the cached leaf for host, or mints one. Concurrent callers for one host share
// one mint; a caller whose ctx ends stops waiting without cancelling the mint for the others.
func (l *leaves) get(ctx context.Context, host string) (*tls.Certificate, error) {
	l.mu.Lock()
	c := l.certs[host]
	l.mu.Unlock()
	if c != nil && l.now().Before(c.Leaf.NotAfter.Add(-l.lifetime/3)) {
		return c, nil
	}
	ch := l.group.DoChan(host, func() (any, error) { return l.mint(host) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*tls.Certificate), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *leaves) mint(host string) (*tls.Certificate, error) {
	// Another caller may have minted while this one waited for the group.
	l.mu.Lock()
	c := l.certs[host]
	l.mu.Unlock()
	now := l.now()
	if c != nil && now.Before(c.Leaf.NotAfter.Add(-l.lifetime/3)) {
		return c, nil
	}
	if !l.ca.permits(host) {
		return nil, fmt.Errorf("leaf for %s: outside the CA's name constraints", host)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(l.lifetime)
	if ca := l.ca.cert.NotAfter; notAfter.After(ca) {
		notAfter = ca
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-leafBackdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, l.ca.cert, key.Public(), l.ca.key)
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: %w", host, err)
	}
	c = &tls.Certificate{Certificate: [][]byte{der, l.ca.cert.Raw}, PrivateKey: key, Leaf: leaf}
	l.minted.Add(1)
	l.mu.Lock()
	if len(l.certs) >= maxLeaves {
		for h, old := range l.certs { // expired ones first, else any one
			if now.After(old.Leaf.NotAfter) || len(l.certs) >= maxLeaves {
				delete(l.certs, h)
			}
		}
	}
	l.certs[host] = c
	l.mu.Unlock()
	return c, nil
}
