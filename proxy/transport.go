package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// Timeouts on the way to MDE. There is no total deadline: an answer streams for as long as it
// takes (a 200 MB export), and a caller that leaves cancels it.
const (
	dialTimeout = 10 * time.Second
	tlsTimeout  = 10 * time.Second
	// DefaultHeaderTimeout bounds the wait for MDE's response headers. Advanced hunting
	// queries run up to 200 s before the first byte, so it is 5 minutes.
	DefaultHeaderTimeout = 5 * time.Minute
	idleTimeout          = 90 * time.Second
	// maxConnsPerHost bounds connections, idle or busy, to one MDE host.
	maxConnsPerHost = 256
	// h2StreamWindow is how much of one answer MDE may send over HTTP/2 ahead of the caller
	// reading it: the memory a slow caller can hold (Go's default is 4 MiB). 1 MiB still
	// moves ~30 MB/s per stream at a 30 ms round trip.
	h2StreamWindow = 1 << 20
)

// NewTransport returns the transport to MDE: TLS 1.2+, verified against roots (nil means the
// system roots), HTTP/2 when the server offers it, and an idle pool sized for many callers on
// few hosts. headerTimeout bounds the wait for response headers; zero means
// DefaultHeaderTimeout. Proxies from the environment (HTTPS_PROXY, HTTP_PROXY) are ignored:
// a sidecar pod often sets them for its tools, which reach MDE through this gateway (issue 16).
func NewTransport(roots *x509.CertPool, headerTimeout time.Duration) *http.Transport {
	if headerTimeout <= 0 {
		headerTimeout = DefaultHeaderTimeout
	}
	return &http.Transport{
		Proxy:                 nil, // never the environment's proxy (issue 16)
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   tlsTimeout,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       idleTimeout,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   maxConnsPerHost,
		// A burst of callers queues for a connection instead of opening hundreds of TLS
		// sessions to one MDE host at once (a storm of handshakes times out; HTTP/2, when
		// offered, needs only one connection anyway).
		MaxConnsPerHost:   maxConnsPerHost,
		ForceAttemptHTTP2: true, // a custom TLS config turns HTTP/2 off unless asked
		HTTP2:             &http.HTTP2Config{MaxReceiveBufferPerStream: h2StreamWindow},
	}
}
