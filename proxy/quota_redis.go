package proxy

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rs/zerolog"
)

// A Redis-backed Limiter, so that several gateway replicas share one quota per (tenant, API): MDE counts per app and tenant, not per replica (issue #8).
//
// Each decision is one round trip: a Lua script (EVALSHA, EVAL on NOSCRIPT) that reads the
// API's state, decides and writes it back atomically, so replicas never race on a
// read-modify-write. It keeps MemoryLimiter's sliding-window logs (window.go) in Redis, in
// microseconds of the Redis server's clock (so replicas need not agree on the time), under
// keys sharing one hash tag (one Redis Cluster slot) per (tenant, API name):
//
//	<prefix>{<tenant>:<api>}    a hash; field u: MDE said 429 until then (a Retry-After
//	                            learned by any replica)
//	<prefix>{<tenant>:<api>}:m  the minute log: a list of admission times, oldest first
//	<prefix>{<tenant>:<api>}:h  the same for the hour
//
// The state outlives a reload (and a restart) by itself.
//
// Every key expires once its contents have left their span, so an idle tenant leaves
// nothing behind.
//
// Redis slow or down never fails a request: a decision that Redis does not answer within
// Timeout is taken by the local fallback limiter, the limiter turns "degraded" (logged once),
// and stays so until a periodic PING succeeds again (logged once too).

// scriptNow starts the scripts that are given a time: "now" is ARGV[1] in µs, or the server's
// TIME when that is 0, so every replica reads one clock.
const scriptNow = `
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`

// takeScript decides one request, as MemoryLimiter.Take. KEYS: the hash, then one log per
// limit. ARGV: now in µs (0: the server's TIME), the longest acceptable wait in µs, then per
// log its limit and span in µs. It returns {admission - now in µs, admission} when the slot
// is taken (at the admission time), or {-(wait in µs), 0} when the wait is longer than
// allowed (nothing is taken).
const takeScript = scriptNow + `
local maxwait = tonumber(ARGV[2])
local at = now
local u = tonumber(redis.call('HGET', KEYS[1], 'u'))
if u and u > at then at = u end
for i = 2, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local span = tonumber(ARGV[2 * i])
  local k = KEYS[i]
  while true do
    local first = tonumber(redis.call('LINDEX', k, 0))
    if first == nil or first + span > now then break end
    redis.call('LPOP', k)
  end
  local n = redis.call('LLEN', k)
  if n > 0 then
    local last = tonumber(redis.call('LINDEX', k, -1))
    if last > at then at = last end
    if n >= limit then
      local t = tonumber(redis.call('LINDEX', k, n - limit)) + span
      if t > at then at = t end
    end
  end
end
if at - now > maxwait then
  return {-(at - now), 0}
end
local sat = string.format('%.0f', at)
for i = 2, #KEYS do
  redis.call('RPUSH', KEYS[i], sat)
  redis.call('PEXPIRE', KEYS[i], math.ceil((at + tonumber(ARGV[2 * i]) - now) / 1000) + 1000)
end
return {at - now, sat}
`

// cancelScript withdraws an admission a caller did not use (it left while waiting): only
// when it is still the latest, as slidingLog.cancel. KEYS: the logs; ARGV[1]: its time.
const cancelScript = `
for i = 1, #KEYS do
  if redis.call('LINDEX', KEYS[i], -1) == ARGV[1] then redis.call('RPOP', KEYS[i]) end
end
return 0
`

// backoffScript records MDE's Retry-After. KEYS[1] is the API's hash; ARGV: now in µs (0:
// the server's TIME) and the wait in µs.
const backoffScript = scriptNow + `
local u = now + tonumber(ARGV[2])
local old = tonumber(redis.call('HGET', KEYS[1], 'u'))
if old and old >= u then return 0 end
redis.call('HSET', KEYS[1], 'u', string.format('%.0f', u))
redis.call('PEXPIRE', KEYS[1], math.ceil((u - now) / 1000) + 1000)
return 1
`

var (
	takeLua    = redis.NewScript(takeScript)
	cancelLua  = redis.NewScript(cancelScript)
	backoffLua = redis.NewScript(backoffScript)
)

// Defaults of RedisLimiterOptions.
const (
	DefaultRedisKeyPrefix = "mdegate:"
	DefaultRedisTimeout   = 50 * time.Millisecond
	defaultRedisProbe     = time.Second
)

// RedisLimiterOptions configure a RedisLimiter.
type RedisLimiterOptions struct {
	// URL is the Redis server: redis://[user:password@]host:port/db, or rediss:// for TLS.
	// Required. It may hold a password: it is never logged.
	URL string
	// KeyPrefix starts every key the limiter writes. Empty means DefaultRedisKeyPrefix.
	KeyPrefix string
	// Timeout bounds each decision's round trip to Redis; past it the decision is the
	// fallback's. Zero means DefaultRedisTimeout.
	Timeout time.Duration
	// TenantIDs are the tenants limited (lowercase). Requests of other tenants are not limited.
	TenantIDs []string
	// Minute is the length of the window PerMinute counts in; the hourly window is 60 of them.
	// Zero means time.Minute. Tests shorten it. Every replica must use the same.
	Minute time.Duration
	// Fallback decides while Redis is unreachable and hears every Backoff. Nil means a
	// MemoryLimiter over the same tenants and Minute.
	Fallback Limiter
	// Logger receives the transitions between shared and degraded. Zero value: no log.
	Logger zerolog.Logger
	// OnState is called on each transition with shared true (Redis answers) or false
	// (degraded to the fallback), and once at construction with true. Nil means no call.
	OnState func(shared bool)
	// ProbeInterval is how often a degraded limiter PINGs Redis to return to the shared
	// state. Zero means 1 s.
	ProbeInterval time.Duration
	// Now is the clock the scripts decide with. Nil means the Redis server's clock, which
	// replicas share; tests inject one.
	Now func() time.Time
}

// RedisLimiter is a Limiter whose state lives in Redis, shared by every gateway using the
// same server and key prefix. It falls back to a local limiter while Redis is slow or down.
// Close stops its prober and closes the connections.
type RedisLimiter struct {
	client   *redis.Client
	keys     map[string][]apiKeys // tenant → keys by API.Index; read-only after construction
	minute   time.Duration
	timeout  time.Duration
	fallback Limiter
	log      zerolog.Logger
	onState  func(bool)
	now      func() time.Time

	degraded atomic.Bool
	stop     chan struct{}
	done     sync.WaitGroup
	closed   sync.Once
}

var _ Limiter = (*RedisLimiter)(nil)

// ParseRedisURL checks a Redis URL. Its error never repeats the URL, which may hold a
// password.
func ParseRedisURL(u string) (*redis.Options, error) {
	o, err := redis.ParseURL(u)
	if err != nil {
		if _, ok := errors.AsType[*url.Error](err); ok {
			return nil, errors.New("not a valid URL") // url.Error quotes the URL
		}
		return nil, errors.New(strings.TrimPrefix(err.Error(), "redis: "))
	}
	return o, nil
}

// NewRedisLimiter builds a RedisLimiter and starts its prober. It does not contact Redis: a
// server down at start is found by the first decision, which then falls back.
func NewRedisLimiter(opts RedisLimiterOptions) (*RedisLimiter, error) {
	ro, err := ParseRedisURL(opts.URL)
	if err != nil {
		return nil, err
	}
	l := &RedisLimiter{
		keys: make(map[string][]apiKeys, len(opts.TenantIDs)), minute: opts.Minute, timeout: opts.Timeout,
		fallback: opts.Fallback, log: opts.Logger, onState: opts.OnState, now: opts.Now, stop: make(chan struct{}),
	}
	if l.minute <= 0 {
		l.minute = time.Minute
	}
	if l.timeout <= 0 {
		l.timeout = DefaultRedisTimeout
	}
	if l.fallback == nil {
		l.fallback = NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: opts.TenantIDs, Minute: l.minute})
	}
	if l.onState == nil {
		l.onState = func(bool) {}
	}
	prefix := opts.KeyPrefix
	if prefix == "" {
		prefix = DefaultRedisKeyPrefix
	}
	for _, id := range opts.TenantIDs {
		id = strings.ToLower(id)
		keys := make([]apiKeys, len(apiDefs))
		for i, a := range apiDefs {
			base := prefix + "{" + id + ":" + a.name + "}"
			keys[i] = apiKeys{hash: base, minute: base + ":m", hour: base + ":h"}
		}
		l.keys[id] = keys
	}
	// Every wait is bounded by the per-decision context; no retry could fit in it.
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = l.timeout, l.timeout, l.timeout, l.timeout
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries = -1
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	quietRedis.Do(func() { redis.SetLogger(discardRedisLog{}) })
	l.client = redis.NewClient(ro)
	l.onState(true)
	probe := opts.ProbeInterval
	if probe <= 0 {
		probe = defaultRedisProbe
	}
	l.done.Add(1)
	go l.probe(probe)
	return l, nil
}

// quietRedis silences go-redis's own logger, which is process-wide and would print every
// failed dial to stderr while Redis is down; the limiter logs each transition itself.
var quietRedis sync.Once

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// Shared reports whether decisions are taken in Redis (false: degraded to the fallback).
func (l *RedisLimiter) Shared() bool { return !l.degraded.Load() }

// Close stops the prober, waits for it and closes the connections to Redis.
func (l *RedisLimiter) Close() error {
	var err error
	l.closed.Do(func() {
		close(l.stop)
		l.done.Wait()
		err = l.client.Close()
	})
	return err
}

// probe PINGs Redis while degraded, until Close.
func (l *RedisLimiter) probe(every time.Duration) {
	defer l.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if !l.degraded.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		err := l.client.Ping(ctx).Err()
		cancel()
		if err == nil && l.degraded.CompareAndSwap(true, false) {
			l.log.Info().Msg("quota store reachable again: quotas shared")
			l.onState(true)
		}
	}
}

// fail records a failed round trip: the first one after a success is logged.
func (l *RedisLimiter) fail(op string, err error) {
	if l.degraded.CompareAndSwap(false, true) {
		l.log.Warn().Str("op", op).Str("error", err.Error()).
			Msg("quota store unreachable: quotas local to this gateway until it is back")
		l.onState(false)
	}
}

// apiKeys are one (tenant, API)'s keys, built at construction.
type apiKeys struct{ hash, minute, hour string }

func (l *RedisLimiter) key(tenantID string, f *API) *apiKeys {
	keys := l.keys[tenantID]
	if keys == nil || f == nil || f.Index < 0 || f.Index >= len(keys) {
		return nil
	}
	return &keys[f.Index]
}

// nowMicros is the injected clock in µs, or 0 for the Redis server's clock.
func (l *RedisLimiter) nowMicros() int64 {
	if l.now == nil {
		return 0
	}
	return l.now().UnixMicro()
}

// span is the span of a log for window, with MemoryLimiter's slack, in µs.
func span(window time.Duration) int64 {
	return (window + max(window/30, time.Second)).Microseconds()
}

// Take implements Limiter.
func (l *RedisLimiter) Take(ctx context.Context, tenantID string, f *API, maxWait time.Duration) (time.Duration, error) {
	k := l.key(tenantID, f)
	if k == nil {
		return 0, nil
	}
	if l.degraded.Load() {
		return l.fallback.Take(ctx, tenantID, f, maxWait)
	}
	keys := make([]string, 1, 3)
	keys[0] = k.hash
	args := make([]any, 2, 6)
	args[0], args[1] = l.nowMicros(), maxWait.Microseconds()
	if f.Limits.PerMinute > 0 {
		keys = append(keys, k.minute)
		args = append(args, f.Limits.PerMinute, span(l.minute))
	}
	if f.Limits.PerHour > 0 {
		keys = append(keys, k.hour)
		args = append(args, f.Limits.PerHour, span(60*l.minute))
	}
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	v, err := takeLua.Run(rctx, l.client, keys, args...).Slice()
	cancel()
	var wait int64
	if err == nil {
		var ok bool
		if len(v) == 2 {
			wait, ok = v[0].(int64)
		}
		if !ok {
			err = errors.New("unexpected answer from the quota script")
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err() // the caller left; Redis is not to blame
		}
		l.fail("take", err)
		return l.fallback.Take(ctx, tenantID, f, maxWait)
	}
	if wait < 0 {
		return 0, &ThrottledError{RetryAfter: time.Duration(-wait) * time.Microsecond}
	}
	delay := time.Duration(wait) * time.Microsecond
	if delay <= 0 {
		return 0, nil
	}
	if err := sleep(ctx, delay); err != nil {
		// The caller left: give the slot back if it is still the latest (one more round
		// trip, only then, bounded like any other).
		if at, ok := v[1].(string); ok && len(keys) > 1 {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
			_ = cancelLua.Run(cctx, l.client, keys[1:], at).Err()
			cancel()
		}
		return 0, err
	}
	return delay, nil
}

// Backoff implements Limiter: the Retry-After holds back every replica. The fallback hears it
// too, so it is ready should Redis go away.
func (l *RedisLimiter) Backoff(tenantID string, f *API, until time.Time) {
	l.fallback.Backoff(tenantID, f, until)
	k := l.key(tenantID, f)
	if k == nil || l.degraded.Load() {
		return
	}
	wait := time.Until(until)
	if l.now != nil {
		wait = until.Sub(l.now())
	}
	if wait <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := backoffLua.Run(ctx, l.client, []string{k.hash}, l.nowMicros(), wait.Microseconds()).Err(); err != nil {
		l.fail("backoff", err)
	}
}
