package config

import (
	"strings"
	"time"
)

// RoutingConfig says how a request names its tenant and where it is sent.
type RoutingConfig struct {
	// TenantHeader is the request header that carries the tenant name or ID; it must be a
	// valid HTTP header name and not one the proxy owns (Authorization, Host, ...). Unset:
	// X-Tenant-ID.
	TenantHeader string `yaml:"tenant_header"`
	// Region is the region for tenants that name none; it must be in the region table, or
	// "auto" for the nearest healthy one. Unset: global.
	Region string `yaml:"region"`
	// ProbeInterval is the time between two rounds of round-trip probes to every endpoint,
	// used by "auto". Unset: 1 minute.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// HostSuffix, such as ".mdegate.local", makes a request to contoso.mdegate.local name the
	// tenant contoso. Unset: the host names no tenant.
	HostSuffix string `yaml:"host_suffix"`
	// DefaultTenant (a tenant's name or ID) serves requests that name no tenant, for a
	// one-tenant sidecar. Unset: such requests get 400 MissingTenant.
	DefaultTenant string `yaml:"default_tenant"`
}

// reservedHeaders are request headers the proxy sets, strips or relies on, so a client
// cannot use them to name its tenant.
var reservedHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "host": true, "connection": true,
	"content-length": true, "content-type": true, "transfer-encoding": true, "te": true,
	"trailer": true, "upgrade": true, "keep-alive": true, "proxy-connection": true,
}

// validateRouting checks the routing section.
func (c *Config) validateRouting(ps *problems) {
	r := &c.Routing
	if h := r.TenantHeader; !isToken(h) {
		ps.add("routing.tenant_header", "is not a valid HTTP header name")
	} else if reservedHeaders[strings.ToLower(h)] {
		ps.add("routing.tenant_header", "%q is a header the proxy itself sets or consumes; pick another", h)
	}
	c.Cloud.regionCheck(ps)("routing.region", r.Region)
	if r.ProbeInterval < 0 {
		ps.add("routing.probe_interval", "%v is negative", r.ProbeInterval)
	}
	if s := r.HostSuffix; s != "" && !validHostSuffix(s) {
		ps.add("routing.host_suffix", "is not a DNS suffix starting with a dot (e.g. .mdegate.local)")
	}
	if d := r.DefaultTenant; d != "" && c.TenantIndex(d) < 0 {
		ps.add("routing.default_tenant", "is not the name or id of a tenant in tenants")
	}
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
