package config

import (
	"strings"
	"time"

	"github.com/mdegate/mdegate/proxy"
)

// LimitsConfig bounds what the gateway waits for.
type LimitsConfig struct {
	// UpstreamTimeout bounds the wait for MDE's response headers. Zero means 5 minutes:
	// advanced hunting queries run up to 200 s before their first byte. An answer that has
	// started streaming is never cut.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// Shape turns quota shaping on: each (tenant, API family) gets MDE's limits, and a request
	// over them waits for its slot. Unset: true.
	Shape *bool `yaml:"shape"`
	// MaxWait bounds the wait for a quota slot, and the Retry-After of an MDE 429 the gateway
	// waits out before replaying. Unset: 10 s.
	MaxWait time.Duration `yaml:"max_wait"`
	// Families overrides the limits of API families by name (alerts, machines,
	// advancedqueries, ...). Unset: MDE's documented limits.
	Families map[string]FamilyConfig `yaml:"families"`
	// APIs overrides the limits of single APIs by name, as `mdegate apis` prints them
	// (run_live_response, get_package_uri, ...), over the family's (limits_apis.go). Unset:
	// MDE's documented limits, or the family's override.
	APIs map[string]FamilyConfig `yaml:"apis"`
	// MaxBody caps a request body, in bytes; a larger one is answered 413. Zero means 10 MiB
	// (10485760); negative means no cap.
	MaxBody int64 `yaml:"max_body"`
	// Redis shares the quota state between gateway replicas. Unset: each gateway shapes
	// alone, in memory.
	Redis *RedisConfig `yaml:"redis"`

	// What a caller may hold (issue 14), the proxy's Options of the same names.

	// BodyTimeout is the time a request body has to arrive whole, counted from the request's
	// arrival (a total, not an idle time); a slower one is answered 408. Zero means 30 s
	// (proxy.DefaultBodyTimeout): a 10 MiB body at 3 Mbit/s.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// WriteIdleTimeout aborts an answer whose caller accepts no bytes for this long, freeing
	// its upstream connection; it moves with every successful write, so a slow but moving
	// export is never cut. Zero means 60 s (proxy.DefaultWriteIdleTimeout).
	WriteIdleTimeout time.Duration `yaml:"write_idle_timeout"`
	// TenantMaxConcurrent caps one tenant's requests in flight to Microsoft, so that no
	// tenant's callers take every connection to a region; more wait for a slot. Zero means
	// 64 (proxy.DefaultTenantMaxConcurrent, a quarter of a region's connections); -1: no cap.
	TenantMaxConcurrent int `yaml:"tenant_max_concurrent"`
	// AnonymousMaxConcurrent caps the requests in flight when no clients are configured
	// (every caller is the one anonymous caller); more are answered 429. Zero means 64
	// (proxy.DefaultMaxConcurrent, as for a client); -1: no cap.
	AnonymousMaxConcurrent int `yaml:"anonymous_max_concurrent"`
}

// FamilyConfig overrides one API family's limits (limits.families.NAME), or one API's
// (limits.apis.NAME: "the family's" below then reads "the API's").
type FamilyConfig struct {
	// PerMinute is the requests per minute MDE allows. Unset (or 0): the family's documented
	// limit. -1: no per-minute limit (the gateway does not shape the family per minute; MDE's
	// own 429s are still honoured).
	PerMinute int `yaml:"per_minute"`
	// PerHour is the requests per hour MDE allows. Unset (or 0): the family's documented
	// limit. -1: no hourly limit. Both -1 turn the family's shaping off.
	PerHour int `yaml:"per_hour"`
	// Timeout bounds the wait for MDE's response headers. Unset: the family's default (4 m
	// for advancedqueries), else limits.upstream_timeout.
	Timeout time.Duration `yaml:"timeout"`
}

// validate checks one override of limits.families or limits.apis, at key.
func (f FamilyConfig) validate(ps *problems, key string) {
	if f.PerMinute < unlimited {
		ps.add(key+".per_minute", "%d is neither -1 (unlimited), 0 (the default) nor a count", f.PerMinute)
	}
	if f.PerHour < unlimited {
		ps.add(key+".per_hour", "%d is neither -1 (unlimited), 0 (the default) nor a count", f.PerHour)
	}
	if f.Timeout < 0 {
		ps.add(key+".timeout", "%v is negative", f.Timeout)
	}
}

// validateOverrides checks limits.families or limits.apis (section): each name must be one
// of known (what says what they are, for the message), and each override's values valid. A name
// outside known is named, in the key, only when it looks like a key, as the walker does for
// unknown keys: anything else may be a secret pasted a line off (issue 14, item 9).
func validateOverrides(ps *problems, section string, m map[string]FamilyConfig, known []string, what string) {
	for _, name := range sortedKeys(m) {
		key := section + "." + name
		switch {
		case oneOf(name, known):
			m[name].validate(ps, key)
		case keyLike.MatchString(name):
			ps.add(key, "is not %s", what)
		default:
			ps.add(section, "has a name that is not %s", what)
		}
	}
}

// RedisConfig is limits.redis: the quota state shared between gateway replicas through Redis
// (proxy.RedisLimiter).
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

// unlimited is the per_minute or per_hour that turns a family's limit off.
const unlimited = -1

// validateLimits checks the limits section.
func (c *Config) validateLimits(ps *problems) {
	l := &c.Limits
	if l.UpstreamTimeout < 0 {
		ps.add("limits.upstream_timeout", "%v is negative", l.UpstreamTimeout)
	}
	if l.MaxWait < 0 {
		ps.add("limits.max_wait", "%v is negative", l.MaxWait)
	}
	families := proxy.FamilyNames()
	validateOverrides(ps, "limits.families", l.Families, families, "an API family (known: "+strings.Join(families, ", ")+")")
	validateOverrides(ps, "limits.apis", l.APIs, proxy.APINames(), "an API name (`mdegate apis` lists them)")
	if l.MaxBody < 0 && l.MaxBody != -1 {
		ps.add("limits.max_body", "%d: use a size in bytes, or -1 for no cap", l.MaxBody)
	}
	if l.BodyTimeout < 0 {
		ps.add("limits.body_timeout", "%v is negative", l.BodyTimeout)
	}
	if l.WriteIdleTimeout < 0 {
		ps.add("limits.write_idle_timeout", "%v is negative", l.WriteIdleTimeout)
	}
	if l.TenantMaxConcurrent < unlimited {
		ps.add("limits.tenant_max_concurrent", "%d is neither -1 (no cap), 0 (the default) nor a count", l.TenantMaxConcurrent)
	}
	if l.AnonymousMaxConcurrent < unlimited {
		ps.add("limits.anonymous_max_concurrent", "%d is neither -1 (no cap), 0 (the default) nor a count", l.AnonymousMaxConcurrent)
	}
	if r := l.Redis; r != nil {
		switch {
		case r.URL == "":
			ps.add("limits.redis.url", "is required (redis://host:6379/0)")
		default:
			if _, err := proxy.ParseRedisURL(r.URL); err != nil {
				ps.add("limits.redis.url", "%s", redisURLProblem(err))
			}
		}
		if r.Timeout < 0 {
			ps.add("limits.redis.timeout", "%s is negative", r.Timeout.String())
		}
		if !l.Shaping() {
			ps.add("limits.redis", "is set but limits.shape is false: there is no quota to share")
		}
	}
}

// Shaping reports whether quota shaping is on (limits.shape, default true).
func (l LimitsConfig) Shaping() bool { return l.Shape == nil || *l.Shape }

// ProxyLimits is the proxy's view of the limits section: the family overrides, and the
// transport's header timeout, the longest any API waits with every override applied
// (limits.upstream_timeout, the families', the APIs' and the table's own, such as advanced
// hunting's 4 minutes). The per-API overrides are APILimits.
func (l LimitsConfig) ProxyLimits() (families map[string]proxy.FamilyLimits, headerTimeout time.Duration) {
	families = make(map[string]proxy.FamilyLimits, len(l.Families))
	for name, f := range l.Families {
		families[name] = f.limits()
	}
	for _, a := range proxy.APIsWith(families, l.APILimits(), l.UpstreamTimeout) {
		headerTimeout = max(headerTimeout, a.Limits.Timeout)
	}
	return families, headerTimeout
}

func (f FamilyConfig) limits() proxy.Limits {
	return proxy.Limits{PerMinute: f.PerMinute, PerHour: f.PerHour, Timeout: f.Timeout}
}

// redisURLProblem says what is wrong with limits.redis.url from proxy.ParseRedisURL's error,
// in words of its own: the Redis client's messages repeat the database path and query
// values, where a password may have been pasted.
func redisURLProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "URL scheme"):
		return "is not a redis:// or rediss:// URL"
	case strings.Contains(msg, "database number"), strings.Contains(msg, "URL path"):
		return "must end in a database number such as /0"
	case strings.Contains(msg, "unix socket"):
		return "has an empty unix socket path"
	case strings.Contains(msg, "not a valid URL"):
		return "is not a valid URL"
	default:
		return "has an unknown or invalid query option"
	}
}
