package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// The keys about how callers reach the gateway from outside: public_url and trusted_proxies.

// validateExternal checks public_url and trusted_proxies.
func (c *Config) validateExternal(ps *problems) {
	if raw := c.PublicURL; raw != "" {
		if msg := checkBaseURL(raw, true, true); msg != "" {
			ps.add("public_url", "%s", msg)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			ps.add(fmt.Sprintf("trusted_proxies[%d]", i), "is not an IP address or CIDR prefix (e.g. 10.0.0.0/8)")
		}
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// PublicBaseURL is public_url parsed; nil when unset. Call only on a valid Config.
func (c *Config) PublicBaseURL() *url.URL {
	if c.PublicURL == "" {
		return nil
	}
	u, _ := url.Parse(c.PublicURL) // validated
	return u
}

// TrustedProxyPrefixes is trusted_proxies parsed. Call only on a valid Config.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}
