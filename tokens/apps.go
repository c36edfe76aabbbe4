package tokens

import "context"

// Apps hands out tokens for tenants served by different Entra apps (a partner with several
// apps, or one app per customer group): each tenant's tokens come from its app's Source. It
// is safe for concurrent use and immutable after NewApps.
type Apps struct {
	def      *Source
	byTenant map[string]*Source
	all      []*Source
}

// NewApps builds an Apps. def serves every tenant not in byTenant (keyed by lowercase tenant
// ID). all lists every distinct Source, for Close; nil means def and byTenant's values.
func NewApps(def *Source, byTenant map[string]*Source, all []*Source) *Apps {
	if all == nil {
		seen := map[*Source]bool{def: true}
		all = append(all, def)
		for _, s := range byTenant {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
		}
	}
	return &Apps{def: def, byTenant: byTenant, all: all}
}

// Source returns the Source that serves the tenant: one map lookup.
func (a *Apps) Source(tenantID string) *Source {
	if len(a.byTenant) == 0 {
		return a.def // the usual case: one app for every tenant
	}
	if s, ok := a.byTenant[tenantID]; ok {
		return s
	}
	return a.def
}

// Token returns the tenant's token from its app's Source (see Source.Token).
func (a *Apps) Token(ctx context.Context, tenantID string) (Token, error) {
	return a.Source(tenantID).Token(ctx, tenantID)
}

// TokenFor returns the tenant's token for another resource from its app's Source (see
// Source.TokenFor).
func (a *Apps) TokenFor(ctx context.Context, tenantID, resource string) (Token, error) {
	return a.Source(tenantID).TokenFor(ctx, tenantID, resource)
}

// Statuses reports the tenant's token state per resource from its app's Source (see
// Source.Statuses).
func (a *Apps) Statuses(tenantID string) []ResourceStatus {
	return a.Source(tenantID).Statuses(tenantID)
}

// Invalidate drops the tenant's token if it is still bad (see Source.Invalidate).
func (a *Apps) Invalidate(tenantID string, bad Token) {
	a.Source(tenantID).Invalidate(tenantID, bad)
}

// Status reports the tenant's token state from its app's Source (see Source.Status).
func (a *Apps) Status(tenantID string) Status {
	return a.Source(tenantID).Status(tenantID)
}

// Close closes every Source and waits for their background refreshes.
func (a *Apps) Close() {
	for _, s := range a.all {
		s.Close()
	}
}
