package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// The keys about how callers reach the gateway: public_url, trusted_proxies,
// routing.host_suffix and routing.default_tenant.

// validateExternal checks those keys; validate calls it.
func (c *Config) validateExternal() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if raw := c.PublicURL; raw != "" {
		if msg := checkBaseURL(raw, true, true); msg != "" {
			add("public_url", "%s", msg)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			add(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not an IP address or CIDR prefix (e.g. 10.0.0.0/8)", p)
		}
	}
	if s := c.Routing.HostSuffix; s != "" && !validHostSuffix(s) {
		add("routing.host_suffix", "%q is not a DNS suffix starting with a dot (e.g. .mdegate.local)", s)
	}
	if d := c.Routing.DefaultTenant; d != "" {
		found := false
		for _, t := range c.Tenants {
			if strings.EqualFold(t.Name, d) || strings.EqualFold(t.ID, d) {
				found = true
				break
			}
		}
		if !found {
			add("routing.default_tenant", "%q is not the name or id of a tenant in tenants", d)
		}
	}
	return ps
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

func validHostSuffix(s string) bool {
	if len(s) < 2 || len(s) > 253 || s[0] != '.' || strings.Contains(s, "..") || strings.HasSuffix(s, ".") {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// publicURL is public_url parsed; nil when unset. Call only on a validated Config.
func (c *Config) publicURL() *url.URL {
	if c.PublicURL == "" {
		return nil
	}
	u, _ := url.Parse(c.PublicURL) // validated
	return u
}

// trustedProxies is trusted_proxies parsed. Call only on a validated Config.
func (c *Config) trustedProxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}
