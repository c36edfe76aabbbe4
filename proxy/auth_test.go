package proxy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"testing"
)

func TestCertName(t *testing.T) {
	u, _ := url.Parse("spiffe://partner.example/soar")
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "cn.example"}, DNSNames: []string{"dns.example"},
		EmailAddresses: []string{"ops@partner.example"}, URIs: []*url.URL{u}}
	for _, tt := range []struct{ subject, want string }{
		{"cn.example", "cn.example"},
		{"dns.example", "dns.example"},
		{"ops@partner.example", "ops@partner.example"},
		{"spiffe://partner.example/soar", "spiffe://partner.example/soar"},
		{"other.example", ""},
	} {
		if got := certName(cert, map[string]*client{tt.subject: {}}); got != tt.want {
			t.Errorf("cert_subject %q: got %q, want %q", tt.subject, got, tt.want)
		}
	}
}
