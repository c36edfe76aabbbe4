package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The access log's view of who called: the peer's address, or the client a trusted proxy
// names in X-Forwarded-For, and the User-Agent. Nothing here allocates on the untrusted path.

// maxUserAgent caps the User-Agent logged: the line stays a line.
const maxUserAgent = 256

// remoteAddr is the caller's IP address for the access log: the peer's, unless the peer is one
// of TrustedProxies; then X-Forwarded-For is read from the right, each trusted proxy's entry
// skipped, and the first address no trusted proxy owns is the client (the nearest one that
// could have lied is believed, no further). A malformed entry ends the walk at the last
// address known good.
func (h *Handler) remoteAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if len(h.trusted) == 0 {
		return peer
	}
	if a, err := netip.ParseAddr(peer); err != nil || !inPrefixes(h.trusted, a) {
		return peer
	}
	addr := peer
	xff := r.Header["X-Forwarded-For"]
	for i := len(xff) - 1; i >= 0; i-- {
		v := xff[i]
		for v != "" {
			var f string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				f, v = v[j+1:], v[:j]
			} else {
				f, v = v, ""
			}
			f = strings.TrimSpace(f)
			a, err := netip.ParseAddr(f)
			if err != nil {
				return addr
			}
			addr = f
			if !inPrefixes(h.trusted, a) {
				return addr
			}
		}
	}
	return addr
}

// userAgent is the caller's User-Agent, cut to maxUserAgent bytes.
func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return ua
}

// inPrefixes reports whether a (IPv4-mapped or not) is in one of ps.
func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
