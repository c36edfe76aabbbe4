package proxy

import (
	"net/netip"
	"strings"
)

// The gateway's external base URL, which links in answers are rewritten to: PublicURL when
// configured (behind a load balancer that changes scheme, host or path), otherwise what the
// caller used to reach the gateway: its Host header and whether the connection was TLS.
// X-Forwarded-Proto and X-Forwarded-Host are believed only from TrustedProxies; from anyone
// else a caller could point its own links elsewhere, which harms nobody but is no reason to
// listen to them.

// baseFinder is built once by New.
type baseFinder struct {
	public     string // PublicURL without a trailing slash; "" derive from the request
	publicJSON string // public, escaped for a JSON string
	trusted    []netip.Prefix
	dialled    func(host string) bool // Options.InterceptedHost; nil: none
}

func newBaseFinder(opts Options) baseFinder {
	b := baseFinder{trusted: opts.TrustedProxies, dialled: opts.InterceptedHost}
	if u := opts.PublicURL; u != nil {
		b.public = strings.TrimSuffix(u.String(), "/")
		b.publicJSON = jsonString(b.public)
	}
	return b
}

// find returns the base for c's links, with its tenant prefix: raw for headers, js for the
// inside of a JSON string. ok is false when the request gives no usable host.
func (b *baseFinder) find(c *call) (raw, js string, ok bool) {
	// A tool that dialled a Microsoft name the gateway answers (proxy mode, or that name
	// pointed at the gateway in DNS) pages on that name, so its next call takes the same path.
	if b.public != "" && (b.dialled == nil || !b.dialled(c.in.Host)) {
		if c.linkPrefix == "" {
			return b.public, b.publicJSON, true
		}
		return b.public + c.linkPrefix, b.publicJSON + c.linkPrefix, true
	}
	r := c.in
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if b.fromTrusted(r.RemoteAddr) {
		if v := firstField(r.Header["X-Forwarded-Proto"]); strings.EqualFold(v, "https") {
			scheme = "https"
		} else if strings.EqualFold(v, "http") {
			scheme = "http"
		}
		if v := firstField(r.Header["X-Forwarded-Host"]); v != "" && safeHost(v) {
			host = v
		}
	}
	if !safeHost(host) {
		return "", "", false
	}
	raw = scheme + "://" + host + c.linkPrefix
	return raw, raw, true // safeHost: nothing to escape
}

func (b *baseFinder) fromTrusted(remote string) bool {
	if len(b.trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	return inPrefixes(b.trusted, ap.Addr())
}

// firstField is the first comma-separated field of the first value, trimmed: the one the
// proxy nearest the client added.
func firstField(v []string) string {
	if len(v) == 0 {
		return ""
	}
	f, _, _ := strings.Cut(v[0], ",")
	return strings.TrimSpace(f)
}

// safeHost reports whether h is a plain host[:port]: letters, digits, '.', '-', '_', ':' and
// IPv6 brackets. Such a value needs no escaping in a URL, a header or a JSON string.
func safeHost(h string) bool {
	if h == "" || len(h) > maxLinkHost {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}
