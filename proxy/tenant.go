package proxy

import (
	"net/http"
	"strings"

	"github.com/mdegate/mdegate/routing"
)

// Where a request may name its tenant, in order of precedence:
//
//  1. the path prefix /tenants/{alias-or-id}/ before /api/ (for tools that take a base URL),
//  2. the tenant header (X-Tenant-ID unless configured otherwise),
//  3. the host name, {alias-or-id}{HostSuffix} (for tools that take only a host),
//  4. the caller's default (clients[].default_tenant), then Options.DefaultTenant.
//
// A caller restricted to a list of tenants gets one 403, naming no tenant, for any name
// outside its list, whether it is configured or not (issue 14, finding 6).
//
// The first three are explicit: when two of them name different tenants the request is
// refused with 400 TenantConflict, never settled by a silent pick. Naming the same tenant by
// alias in one place and by ID in another is no conflict. A default only applies when nothing
// explicit names a tenant.

// tenantsPrefix starts a path that names its tenant.
const tenantsPrefix = "/tenants/"

// claim is one place in the request naming a tenant.
type claim struct {
	where string // "path", "header" or "host", for the conflict message
	name  string
}

// splitTenantPath splits "/tenants/{name}/rest" into name and "/rest". ok is false for a path
// without the prefix; rest is "" for "/tenants/{name}" alone.
func splitTenantPath(p string) (name, rest string, ok bool) {
	if !strings.HasPrefix(p, tenantsPrefix) {
		return "", p, false
	}
	s := p[len(tenantsPrefix):]
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i:], true
}

// hostTenant returns the tenant a Host value names through the configured suffix, or "".
func (h *Handler) hostTenant(host string) string {
	if h.hostSuffix == "" || host == "" || host[0] == '[' {
		return ""
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	n := len(host) - len(h.hostSuffix)
	if n <= 0 || !strings.EqualFold(host[n:], h.hostSuffix) {
		return ""
	}
	return host[:n]
}

// selectTenant finds the tenant r names (see the precedence above) and records it in c, with
// the path prefix to keep in rewritten links. asked is the name that was resolved, or failed to
// resolve, so that a caller's tenant policy can judge it; it is "" when no single name was
// asked (missing tenant, conflict). It allocates nothing when only the header names the tenant.
//
// tokenTenant is the tenant ID of the request's gateway token, "" without one: it names the
// tenant before all the others, as explicitly as they do.
func (h *Handler) selectTenant(r *http.Request, c *call, cl *client, pathName string, prefixed bool, tokenTenant string) (tn *routing.Tenant, asked string, err error) {
	var claims [4]claim
	n := 0
	if tokenTenant != "" {
		claims[n] = claim{"token", tokenTenant}
		n++
	}
	if prefixed {
		claims[n] = claim{"path", pathName}
		n++
	}
	if v := r.Header[h.tenantHeader]; len(v) > 0 {
		if name := strings.TrimSpace(v[0]); name != "" {
			claims[n] = claim{"header", name}
			n++
		}
	}
	if name := h.hostTenant(r.Host); name != "" {
		claims[n] = claim{"host", name}
		n++
	}
	if n == 0 {
		name := h.defaultTenant
		if cl != nil && cl.defaultTenant != "" {
			name = cl.defaultTenant
		}
		if name == "" {
			return nil, "", h.missing
		}
		tn, err := h.routes.Resolve(name)
		if cl.restricted() && (err != nil || !cl.tenants[tn.ID]) {
			return nil, "", cl.forbidden // names no tenant, the default included
		}
		if err != nil {
			return nil, name, unknownTenant(name)
		}
		return tn, name, nil
	}
	var chosen *routing.Tenant
	for i := range n {
		tn, err := h.routes.Resolve(claims[i].name)
		if cl.restricted() && (err != nil || !cl.tenants[tn.ID]) {
			// Judged before any conflict, so that a conflict is only ever between tenants
			// the caller may use and the answer is the same whether the other exists or not.
			return nil, "", cl.forbidden
		}
		if err != nil {
			return nil, claims[i].name, unknownTenant(claims[i].name)
		}
		if chosen == nil {
			chosen = tn
		} else if tn != chosen {
			return nil, "", tenantConflict(claims[0], claims[i], h.headerName)
		}
	}
	if prefixed {
		// Links keep the prefix in the tenant's configured spelling, which is URL- and
		// JSON-safe whatever the caller typed.
		c.linkPrefix = tenantsPrefix + chosen.Name
		if strings.EqualFold(pathName, chosen.ID) {
			c.linkPrefix = tenantsPrefix + chosen.ID
		}
	}
	return chosen, claims[0].name, nil
}
