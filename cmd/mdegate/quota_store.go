package main

import (
	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// The quota store: limits.redis shares the per (tenant, API family) quota state between
// gateway replicas through Redis (proxy.RedisLimiter); without it each gateway shapes alone
// in memory.

// newLimiter builds the generation's quota limiter: nil when shaping is off, a RedisLimiter
// (returned twice, the second time to report its state and close it) with limits.redis, else
// a MemoryLimiter.
func (gw *gateway) newLimiter(cfg *config.Config, routes *routing.Table) (proxy.Limiter, *proxy.RedisLimiter, error) {
	if !cfg.Limits.Shaping() {
		return nil, nil, nil
	}
	ids := tenantIDs(routes)
	if r := cfg.Limits.Redis; r != nil {
		l, err := proxy.NewRedisLimiter(proxy.RedisLimiterOptions{
			URL: r.URL, KeyPrefix: r.KeyPrefix, Timeout: r.Timeout, TenantIDs: ids,
			Minute: gw.opts.QuotaMinute, Logger: gw.log.With().Str("component", "quota").Logger(),
		})
		if err != nil {
			return nil, nil, err
		}
		return l, l, nil
	}
	return proxy.NewMemoryLimiter(proxy.MemoryLimiterOptions{TenantIDs: ids, Minute: gw.opts.QuotaMinute}), nil, nil
}

// quotaStore is the quota store's state for /metrics and /readyz: whether limits.redis is set,
// and whether Redis decides (shared) or this gateway alone (degraded).
func (gw *gateway) quotaStore() (configured, shared bool) {
	g := gw.acquire()
	if g == nil {
		return false, false
	}
	defer g.release()
	if g.redis == nil {
		return false, false
	}
	return true, g.redis.Shared()
}

// quotaState is /readyz's "quota" field: "off" (limits.shape false), "local" (each gateway
// shapes alone), "shared" (through Redis) or "degraded" (Redis unreachable: this gateway
// shapes alone until it is back). A degraded quota store does not make the gateway unready:
// it keeps serving, failing open to local shaping.
func (g *generation) quotaState() string {
	switch {
	case !g.cfg.Limits.Shaping():
		return "off"
	case g.redis == nil:
		return "local"
	case g.redis.Shared():
		return "shared"
	default:
		return "degraded"
	}
}

// tenantIDs lists the configured tenants' IDs, which the quota limiters key their state by.
func tenantIDs(t *routing.Table) []string {
	ids := make([]string, 0, len(t.Tenants()))
	for _, tn := range t.Tenants() {
		ids = append(ids, tn.ID)
	}
	return ids
}
