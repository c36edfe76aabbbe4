package intercept

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// caLifetime is how long a CA made by NewCA is valid. Tools are told to trust it once, so it
// outlives many deployments; its name constraints, not its lifetime, bound the harm of its key.
const caLifetime = 10 * 365 * 24 * time.Hour

// CA is the private certificate authority that signs the leaf certificates of intercepted
// hosts. Its methods are safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// NewCA makes a new CA: an ECDSA P-256 key and a self-signed certificate valid for ten years,
// with critical name constraints permitting only PermittedDomains (and no IP address), so the
// key cannot sign a certificate that verifies for any other name.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tag := serial.Text(16)
	if len(tag) > 8 {
		tag = tag[:8]
	}
	tmpl := &x509.Certificate{
		SerialNumber:                serial,
		Subject:                     pkix.Name{Organization: []string{"mdegate"}, CommonName: "mdegate interception CA " + tag},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(caLifetime),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         PermittedDomains(),
		ExcludedIPRanges: []*net.IPNet{
			{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	return &CA{cert: cert, key: key}, nil
}

// LoadCA reads a CA from a PEM certificate file and a PEM private key file (PKCS#8, SEC 1 EC or
// PKCS#1 RSA). The certificate must be a CA, unexpired, and the key must match it. A CA without name
// constraints is accepted (an operator may bring a constrained sub-CA of their own), but a
// leaf is only ever minted for an intercepted host, and never for a host the CA's constraints
// exclude.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	return parseCA(certPEM, keyPEM)
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("ca certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca certificate: not a CA (basic constraints or key usage certSign missing)")
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, fmt.Errorf("ca certificate: expired on %s; make a new CA", cert.NotAfter.UTC().Format(time.DateOnly))
	}
	kblock, _ := pem.Decode(keyPEM)
	if kblock == nil {
		return nil, errors.New("ca key: no PEM block")
	}
	key, err := parseKey(kblock.Bytes)
	if err != nil {
		return nil, err // never wraps key material
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("ca key: does not match the certificate")
	}
	return &CA{cert: cert, key: key}, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("ca key: unsupported key type")
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("ca key: not a PKCS#8, EC or RSA private key")
}

// WriteCA writes the CA to dir as ca.pem (the certificate tools are told to trust, mode 0644)
// and ca-key.pem (PKCS#8, mode 0600). It never overwrites: an existing file is an error, since
// replacing a CA silently breaks every tool that trusts the old one.
func (ca *CA) WriteCA(dir string) error {
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("ca key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeNew(filepath.Join(dir, "ca-key.pem"), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o644); err != nil {
		os.Remove(filepath.Join(dir, "ca-key.pem"))
		return err
	}
	return nil
}

func writeNew(name string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// CertPEM returns the CA's certificate in PEM, as written to ca.pem.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// Pool returns a new pool holding only the CA's certificate (for clients and tests that trust it).
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// permits reports whether the CA's name constraints allow a certificate for host.
func (ca *CA) permits(host string) bool {
	c := ca.cert
	if len(c.PermittedDNSDomains) > 0 {
		ok := false
		for _, d := range c.PermittedDNSDomains {
			if inDomain(host, d) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, d := range c.ExcludedDNSDomains {
		if inDomain(host, d) {
			return false
		}
	}
	return true
}

// inDomain follows RFC 5280's dNSName constraint: d itself and every subdomain; a constraint
// with a leading dot only subdomains.
func inDomain(host, d string) bool {
	d = normalizeHost(d)
	if len(d) > 0 && d[0] == '.' {
		return len(host) > len(d) && host[len(host)-len(d):] == d
	}
	return host == d || (len(host) > len(d) && host[len(host)-len(d)-1:] == "."+d)
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}
