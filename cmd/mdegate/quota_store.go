package main

import (
	"context"
	"time"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// The quota store: limits.redis shares the per (tenant, API family) quota state between
// gateway replicas through Redis (proxy.RedisLimiter); without it each gateway shapes alone
// in memory.

// RedisConfig is limits.redis.
type RedisConfig struct {
	// URL is the Redis server, redis://[user:password@]host:port/db (rediss:// for TLS); put
	// a password in with ${VAR}. Required when limits.redis is present. Never logged.
	URL string `yaml:"url"`
	// KeyPrefix starts every key the gateway writes, so several gateway fleets (or other
	// users) can share one Redis. Unset: "mdegate:". Replicas sharing a quota must use the
	// same prefix.
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds each quota decision's round trip to Redis; past it the decision is this
	// gateway's own and the quota store is reported degraded until Redis answers again.
	// Unset: 50ms.
	Timeout time.Duration `yaml:"timeout"`
}

// validateRedis checks limits.redis.
func (c *Config) validateRedis() []Problem {
	r := c.Limits.Redis
	if r == nil {
		return nil
	}
	var ps []Problem
	switch {
	case r.URL == "":
		ps = append(ps, Problem{Key: "limits.redis.url", Msg: "is required (redis://host:6379/0)"})
	default:
		if _, err := proxy.ParseRedisURL(r.URL); err != nil {
			ps = append(ps, Problem{Key: "limits.redis.url", Msg: err.Error()})
		}
	}
	if r.Timeout < 0 {
		ps = append(ps, Problem{Key: "limits.redis.timeout", Msg: r.Timeout.String() + " is negative"})
	}
	if !c.Limits.shaping() {
		ps = append(ps, Problem{Key: "limits.redis", Msg: "is set but limits.shape is false: there is no quota to share"})
	}
	return ps
}

type quotaMinuteKey struct{}

// withQuotaMinute returns a context whose serve counts quotas in windows of d instead of a
// minute (an hour being 60 of them), so tests can match the emulator's short quota window.
func withQuotaMinute(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, quotaMinuteKey{}, d)
}

func quotaMinute(ctx context.Context) time.Duration {
	d, _ := ctx.Value(quotaMinuteKey{}).(time.Duration)
	return d
}

// newLimiter builds the generation's quota limiter: nil when shaping is off, a RedisLimiter
// (returned twice, the second time to report its state and close it) with limits.redis, else
// a MemoryLimiter.
func (gw *gateway) newLimiter(cfg *Config, routes *routing.Table) (proxy.Limiter, *proxy.RedisLimiter, error) {
	if !cfg.Limits.shaping() {
		return nil, nil, nil
	}
	ids := tenantIDs(routes)
	if r := cfg.Limits.Redis; r != nil {
		l, err := proxy.NewRedisLimiter(proxy.RedisLimiterOptions{
			URL: r.URL, KeyPrefix: r.KeyPrefix, Timeout: r.Timeout, TenantIDs: ids,
			Minute: gw.quotaMinute, Logger: gw.log.With().Str("component", "quota").Logger(),
		})
		if err != nil {
			return nil, nil, err
		}
		return l, l, nil
	}
	return proxy.NewMemoryLimiter(proxy.MemoryLimiterOptions{TenantIDs: ids, Minute: gw.quotaMinute}), nil, nil
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
	case !g.cfg.Limits.shaping():
		return "off"
	case g.redis == nil:
		return "local"
	case g.redis.Shared():
		return "shared"
	default:
		return "degraded"
	}
}
