package intercept

import (
	"crypto/tls"
	"errors"
)

// GetCertificate returns a tls.Config.GetCertificate for the gateway's own TLS listener: a
// ClientHello whose SNI names an intercepted host gets that host's leaf (so partners who point
// the Microsoft names at the gateway in their DNS see a valid certificate); any other
// ClientHello, or every one when the Proxy has no CA, goes to fallback (the gateway's own
// certificate). A nil fallback makes those handshakes fail.
//
// Requests that arrive this way are not in a tunnel (TunnelFrom is false): the gateway routes
// them by HostClass(r.Host), Login to the token endpoint and API to the forward path.
func (p *Proxy) GetCertificate(fallback func(*tls.ClientHelloInfo) (*tls.Certificate, error)) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if host := normalizeHost(hello.ServerName); host != "" && p.interceptClass(host) != Refused {
			return p.leaves.get(hello.Context(), host)
		}
		if fallback == nil {
			return nil, errors.New("intercept: no certificate for this server name")
		}
		return fallback(hello)
	}
}
