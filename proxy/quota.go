package proxy

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limiter keeps MDE's quotas per (tenant, API) on the gateway's side, so that many
// tools sharing a tenant wait for a slot instead of collecting MDE's 429s. *MemoryLimiter is
// the in-process implementation; a shared store may implement it for several gateways.
type Limiter interface {
	// Take waits for a slot for one request of the tenant's API, at most maxWait. It
	// returns how long it waited; when the slot is further away than maxWait it waits not at
	// all and returns a *ThrottledError saying when to come back. A cancelled ctx ends the
	// wait with ctx's error.
	Take(ctx context.Context, tenantID string, a *API, maxWait time.Duration) (time.Duration, error)
	// Backoff tells the limiter that MDE refused the tenant's API until the given time (its
	// Retry-After): requests of that API wait at least until then.
	Backoff(tenantID string, a *API, until time.Time)
}

// ThrottledError is the gateway's own refusal: the quota slot is too far away.
type ThrottledError struct {
	// RetryAfter is when a slot is expected to be free.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return "quota: next slot in " + e.RetryAfter.String()
}

// retryAfterHeader is RetryAfter in whole seconds, rounded up: a client that waits that long
// finds its slot.
func (e *ThrottledError) retryAfterHeader() string {
	s := int64(e.RetryAfter / time.Second)
	if e.RetryAfter%time.Second != 0 {
		s++
	}
	return strconv.FormatInt(max(s, 1), 10)
}

// MemoryLimiterOptions configure a MemoryLimiter.
type MemoryLimiterOptions struct {
	// TenantIDs are the tenants limited (lowercase). Requests of other tenants are not limited.
	TenantIDs []string
	// Minute is the length of the window PerMinute counts in; the hourly window is 60 of them.
	// Zero means time.Minute. Tests shorten it.
	Minute time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// MemoryLimiter is a Limiter in process memory: per (tenant, API) two sliding-window logs
// (window.go), one per minute and one per hour.
//
// A log for a limit of L per window W admits at most L requests in any span of W plus a slack
// (W/30, at least 1 s). Whatever MDE's windows are (fixed or sliding, however aligned), none
// sees more than L as long as the delay between the gateway's admission and MDE's count
// varies by less than the slack. A burst of up to L goes through at once; the rest wait for
// the oldest admission to leave the span. Sustained, it uses W/(W+slack) of the allowance:
// 96.8 % for a minute or an hour.
type MemoryLimiter struct {
	tenants map[string]*tenantLimits // read-only after construction
	minute  time.Duration
	now     func() time.Time
}

var _ Limiter = (*MemoryLimiter)(nil)

// tenantLimits are one tenant's logs. A reload's new limiter may share it with the old one
// (Carry): both generations then count against the same logs, as MDE does.
type tenantLimits struct {
	mu      sync.Mutex
	buckets map[bucketKey]*buckets // created on first use
}

// bucketKey names one API's logs together with the limits they were made for, so that a
// generation with other limits for the API starts afresh while one with the same limits
// shares the logs.
type bucketKey struct {
	name               string
	perMinute, perHour int
}

// buckets are one (tenant, API)'s limits; tenantLimits.mu guards them.
type buckets struct {
	minute, hour *slidingLog // nil when the API has no such limit
	until        time.Time   // MDE said 429 until then
}

// NewMemoryLimiter builds a MemoryLimiter.
func NewMemoryLimiter(opts MemoryLimiterOptions) *MemoryLimiter {
	l := &MemoryLimiter{tenants: make(map[string]*tenantLimits, len(opts.TenantIDs)), minute: opts.Minute, now: opts.Now}
	if l.minute <= 0 {
		l.minute = time.Minute
	}
	if l.now == nil {
		l.now = time.Now
	}
	for _, id := range opts.TenantIDs {
		l.tenants[strings.ToLower(id)] = &tenantLimits{buckets: make(map[bucketKey]*buckets)}
	}
	return l
}

// bucket returns the log for limit per window, with the slack the type's doc gives.
func bucket(limit int, window time.Duration) *slidingLog {
	return newSlidingLog(limit, window+max(window/30, time.Second))
}

func (l *MemoryLimiter) buckets(tenantID string, f *API) (*tenantLimits, *buckets) {
	tl := l.tenants[tenantID]
	if tl == nil || f == nil {
		return nil, nil
	}
	k := bucketKey{f.Name, f.Limits.PerMinute, f.Limits.PerHour}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	b := tl.buckets[k]
	if b == nil {
		b = &buckets{}
		if f.Limits.PerMinute > 0 {
			b.minute = bucket(f.Limits.PerMinute, l.minute)
		}
		if f.Limits.PerHour > 0 {
			b.hour = bucket(f.Limits.PerHour, 60*l.minute)
		}
		tl.buckets[k] = b
	}
	return tl, b
}

// Take implements Limiter.
func (l *MemoryLimiter) Take(ctx context.Context, tenantID string, f *API, maxWait time.Duration) (time.Duration, error) {
	tl, b := l.buckets(tenantID, f)
	if b == nil {
		return 0, nil
	}
	now := l.now()
	n := now.UnixNano()
	tl.mu.Lock()
	at := n
	if !b.until.IsZero() { // (the zero time has no UnixNano)
		at = max(at, b.until.UnixNano())
	}
	if b.minute != nil {
		at = max(at, b.minute.next(n))
	}
	if b.hour != nil {
		at = max(at, b.hour.next(n))
	}
	delay := time.Duration(at - n)
	if delay > maxWait {
		tl.mu.Unlock()
		return 0, &ThrottledError{RetryAfter: delay}
	}
	if b.minute != nil {
		b.minute.add(at)
	}
	if b.hour != nil {
		b.hour.add(at)
	}
	tl.mu.Unlock()
	if delay <= 0 {
		return 0, nil
	}
	if err := sleep(ctx, delay); err != nil {
		tl.mu.Lock()
		if b.minute != nil {
			b.minute.cancel(at)
		}
		if b.hour != nil {
			b.hour.cancel(at)
		}
		tl.mu.Unlock()
		return 0, err
	}
	return delay, nil
}

// Backoff implements Limiter.
func (l *MemoryLimiter) Backoff(tenantID string, f *API, until time.Time) {
	tl, b := l.buckets(tenantID, f)
	if b == nil {
		return
	}
	tl.mu.Lock()
	if until.After(b.until) {
		b.until = until
	}
	tl.mu.Unlock()
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Carry makes l continue old's quota state, for a reload: every tenant both limit shares
// old's logs, so requests admitted by either generation count against one quota, and an
// API whose limits did not change keeps its history (one whose limits changed starts
// afresh). A tenant only l limits starts empty; a tenant only old limited is dropped. It
// does nothing when the two count in windows of different lengths. Call it before l's first
// Take; old may go on serving its draining requests.
func (l *MemoryLimiter) Carry(old *MemoryLimiter) {
	if old == nil || old == l || old.minute != l.minute {
		return
	}
	for id := range l.tenants {
		if tl, ok := old.tenants[id]; ok {
			l.tenants[id] = tl
		}
	}
}

// CarryQuota makes the limiter of a new generation continue the old one's state (see
// MemoryLimiter.Carry): between two MemoryLimiters, or into a RedisLimiter's in-memory
// fallback (the shared state in Redis survives a reload by itself). Other pairs, and nils,
// are left alone. Call it before next's first Take.
func CarryQuota(next, prev Limiter) {
	mem := func(l Limiter) *MemoryLimiter {
		switch l := l.(type) {
		case *MemoryLimiter:
			return l
		case *RedisLimiter:
			m, _ := l.fallback.(*MemoryLimiter)
			return m
		}
		return nil
	}
	if n, p := mem(next), mem(prev); n != nil && p != nil {
		n.Carry(p)
	}
}
