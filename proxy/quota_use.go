package proxy

import "strings"

// Quota use, for the status page (issue 19): which of a tenant's APIs is closest to its
// limit right now. It is read from the limiter's own sliding-window logs, under the lock that
// already guards them, only when asked: Take does no extra work for it.
//
// The window read is the per-minute one. Every API of the table but one (start_investigation,
// 50 per hour) has a per-minute limit; a burst fills it first; and it says what the tenant is
// doing in the last minute, which is what a page refreshed every few seconds is for. A
// tenant held back by an hourly limit shows instead as quota waits
// (mdegate_throttle_wait_seconds) and the gateway's own 429s. An API limited per hour only
// is not reported.

// QuotaUse is one tenant's busiest API: the one whose per-minute window is fullest relative
// to its limit.
type QuotaUse struct {
	// API is the API's name in the table (limits.apis.NAME), such as list_alerts.
	API string
	// Used counts the requests admitted in the current window (the last minute plus the
	// limiter's slack, see MemoryLimiter), those still waiting for their slot included; it
	// never exceeds Limit.
	Used int
	// Limit is the API's per-minute limit.
	Limit int
}

// quotaReader is a Limiter that can tell a tenant's quota use; MemoryLimiter and
// RedisLimiter are.
type quotaReader interface {
	Busiest(tenantID string) (QuotaUse, bool)
}

var (
	_ quotaReader = (*MemoryLimiter)(nil)
	_ quotaReader = (*RedisLimiter)(nil)
)

// QuotaUse reports the tenant's busiest API in the per-minute window (see QuotaUse). ok is
// false when the handler shapes no quota (Options.Limiter nil, or one that cannot tell), the
// tenant is not limited, or none of its APIs admitted a request in the window.
func (h *Handler) QuotaUse(tenantID string) (use QuotaUse, ok bool) {
	if r, is := h.limiter.(quotaReader); is {
		return r.Busiest(tenantID)
	}
	return QuotaUse{}, false
}

// Busiest returns the tenant's API whose per-minute window is fullest relative to its limit
// (ties: the larger count, then the name), with that window's count and limit. ok is false
// when the tenant is not limited or nothing was admitted in any of its windows. It costs one
// pass over the APIs the tenant has used, under the tenant's lock, and changes no state.
//
// After a reload that changed an API's limits, the log kept for the old limits is weighed
// too, until its admissions leave the window: both were counted by MDE.
func (l *MemoryLimiter) Busiest(tenantID string) (use QuotaUse, ok bool) {
	tl := l.tenants[strings.ToLower(tenantID)]
	if tl == nil {
		return QuotaUse{}, false
	}
	now := l.now().UnixNano()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for k, b := range tl.buckets {
		if b.minute == nil || k.perMinute <= 0 {
			continue
		}
		n := b.minute.live(now)
		if n == 0 {
			continue
		}
		c := QuotaUse{API: k.name, Used: n, Limit: k.perMinute}
		if !ok || c.fuller(use) {
			use, ok = c, true
		}
	}
	return use, ok
}

// fuller reports whether u is closer to its limit than v (ties: more used, then the name, so
// that the answer does not depend on map order).
func (u QuotaUse) fuller(v QuotaUse) bool {
	a, b := u.Used*v.Limit, v.Used*u.Limit // u.Used/u.Limit vs v.Used/v.Limit
	switch {
	case a != b:
		return a > b
	case u.Used != v.Used:
		return u.Used > v.Used
	}
	return u.API < v.API
}

// Busiest reports the tenant's busiest API as MemoryLimiter.Busiest does, from what this
// gateway knows locally and never with a round trip to Redis (a page listing thousands of
// tenants would make one per tenant): while decisions are shared the counts live in Redis
// alone and ok is false; while degraded it is the fallback's answer, which counts this
// gateway's admissions only.
func (l *RedisLimiter) Busiest(tenantID string) (use QuotaUse, ok bool) {
	if !l.degraded.Load() {
		return QuotaUse{}, false
	}
	if r, is := l.fallback.(quotaReader); is {
		return r.Busiest(tenantID)
	}
	return QuotaUse{}, false
}
