package proxy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/blackhole"
	"github.com/mdegate/mdegate/internal/redistest"
)

const redisTenant = "00000000-0000-4000-8000-0000000000aa"

// testClock is an injected clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer is a log written by the limiter's prober and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newRedisLimiter(t *testing.T, url, prefix string, clock *testClock, log *lockedBuffer) *RedisLimiter {
	t.Helper()
	opts := RedisLimiterOptions{URL: url, KeyPrefix: prefix, TenantIDs: []string{redisTenant},
		ProbeInterval: 20 * time.Millisecond}
	if clock != nil {
		opts.Now = clock.now
		opts.Fallback = NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{redisTenant}, Now: clock.now})
	}
	if log != nil {
		opts.Logger = zerolog.New(log)
	}
	l, err := NewRedisLimiter(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// retryIn is Take's answer with no wait allowed: 0 when a slot was free, else how far away
// the next one is.
func retryIn(t *testing.T, l Limiter, f *API) time.Duration {
	t.Helper()
	_, err := l.Take(context.Background(), redisTenant, f, 0)
	if te, ok := errors.AsType[*ThrottledError](err); ok {
		return te.RetryAfter
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// Two replicas sharing one Redis decide as one MemoryLimiter would: the same burst, the same
// refill, and a Retry-After learned by one holds the other back.
func TestRedisLimiterSharesOneQuota(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	fs := newAPITable(map[string]FamilyLimits{"alerts": {PerMinute: 5, PerHour: 1000}, "machines": {PerMinute: 100, PerHour: 3},
		"liveresponse": {PerMinute: 3, PerHour: -1}}, nil, 0)
	tests := []struct {
		name string
		api  string
		// steps: advance the clock by d, then take one slot from replica (i%2).
		steps []time.Duration
	}{
		{"minute limit then the window slides", "list_alerts", []time.Duration{0, 0, 0, 0, 0, 0, 0, 10 * time.Second, 20 * time.Second, 32 * time.Second, 0, 0, time.Second, 0, 10 * time.Second, 0}},
		{"hourly limit binds", "list_machines", []time.Duration{0, 0, 0, 0, time.Minute, 30 * time.Minute, 0, 32 * time.Minute, 0}},
		{"no hourly limit", "run_live_response", []time.Duration{0, 0, 0, 0, 61 * time.Second, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &testClock{t: time.Unix(1_800_000_000, 0)}
			p := prefix + strings.ReplaceAll(tt.name, " ", "-") + ":"
			replicas := []Limiter{newRedisLimiter(t, url, p, clock, nil), newRedisLimiter(t, url, p, clock, nil)}
			mem := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{redisTenant}, Now: clock.now})
			f := fs.named(tt.api)
			refused := 0
			defer func() {
				if refused == 0 {
					t.Error("no step was refused: the case tests nothing")
				}
			}()
			for i, d := range tt.steps {
				clock.add(d)
				want := retryIn(t, mem, f)
				if want > 0 {
					refused++
				}
				got := retryIn(t, replicas[i%2], f)
				if diff := (got - want).Abs(); diff > time.Millisecond {
					t.Fatalf("step %d: redis retry in %v, memory %v", i, got, want)
				}
			}
		})
	}

	t.Run("retry-after learned by one replica", func(t *testing.T) {
		clock := &testClock{t: time.Unix(1_800_000_000, 0)}
		p := prefix + "backoff:"
		a, b := newRedisLimiter(t, url, p, clock, nil), newRedisLimiter(t, url, p, clock, nil)
		f := fs.classify("GET", "/api/alerts")
		a.Backoff(redisTenant, f, clock.now().Add(7*time.Second))
		if got := retryIn(t, b, f); got != 7*time.Second {
			t.Fatalf("the other replica: retry in %v, want 7s", got)
		}
		a.Backoff(redisTenant, f, clock.now().Add(time.Second)) // shorter: kept the longer
		clock.add(6 * time.Second)
		if got := retryIn(t, b, f); got != time.Second {
			t.Fatalf("after 6 s: retry in %v, want 1s", got)
		}
		clock.add(time.Second)
		if got := retryIn(t, b, f); got != 0 {
			t.Fatalf("after the Retry-After: retry in %v, want a slot", got)
		}
	})

	t.Run("state expires", func(t *testing.T) {
		p := prefix + "expiry:"
		l := newRedisLimiter(t, url, p, nil, nil) // the server's clock
		f := fs.classify("GET", "/api/alerts")
		if got := retryIn(t, l, f); got != 0 {
			t.Fatalf("first take: retry in %v", got)
		}
		o, _ := redis.ParseURL(url)
		c := redis.NewClient(o)
		defer c.Close()
		base := p + "{" + redisTenant + ":list_alerts}" // keys per API (issue 17)
		for key, most := range map[string]time.Duration{base + ":m": 63 * time.Second, base + ":h": 3722 * time.Second} {
			ttl, err := c.PTTL(context.Background(), key).Result()
			if err != nil || ttl <= 0 || ttl > most {
				t.Errorf("%s ttl %v, %v: want at most %v (the log's span and a second)", key, ttl, err, most)
			}
		}
	})
}

// Redis down, or too slow: a decision never waits longer than the timeout, the local limiter
// takes over, the degradation is logged once, and the limiter is shared again once Redis
// answers.
func TestRedisLimiterFailsOpen(t *testing.T) {
	srv := redistest.Start(t)
	var log lockedBuffer
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	l := newRedisLimiter(t, srv.URL(), "fo:", clock, &log)
	f := newAPITable(nil, nil, 0).classify("GET", "/api/alerts")
	if got := retryIn(t, l, f); got != 0 || !l.Shared() {
		t.Fatalf("with redis: retry %v, shared %v", got, l.Shared())
	}
	srv.Kill()
	for i := range 12 { // the local log is empty: 100 go at once
		start := time.Now()
		got := retryIn(t, l, f)
		if took := time.Since(start); took > DefaultRedisTimeout+50*time.Millisecond {
			t.Errorf("take %d took %v with redis down", i, took)
		}
		if want := time.Duration(0); got != want {
			t.Errorf("take %d: retry in %v, want a local slot", i, got)
		}
	}
	if l.Shared() {
		t.Fatal("still shared with redis down")
	}
	if n := strings.Count(log.String(), "quota store unreachable"); n != 1 {
		t.Errorf("degradation logged %d times, want once:\n%s", n, log.String())
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for !l.Shared() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !l.Shared() {
		t.Fatal("not shared again 5 s after redis came back")
	}
	if n := strings.Count(log.String(), "quota store reachable again"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, log.String())
	}
	if got := retryIn(t, l, f); got != 0 {
		t.Errorf("first take after recovery: retry in %v (the restarted Redis is empty)", got)
	}

	// A server that accepts and never answers: the decision still returns within the timeout.
	hung := blackhole.Listen(t)
	slow := newRedisLimiter(t, "redis://"+hung+"/0", "slow:", clock, nil)
	start := time.Now()
	if got := retryIn(t, slow, f); got != 0 {
		t.Errorf("hung redis: retry in %v, want a local slot", got)
	}
	if took := time.Since(start); took > DefaultRedisTimeout+50*time.Millisecond {
		t.Errorf("hung redis: take took %v, want at most the %v timeout", took, DefaultRedisTimeout)
	}
	if slow.Shared() {
		t.Error("hung redis: still shared")
	}
}

func TestParseRedisURLHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://:s3cret-pw@host:6379/x", "redis://:s3cret-pw@host:6379/0/1", "http://:s3cret-pw@host/", "redis://:s3cret-pw@ho st\x7f:1/0"} {
		_, err := ParseRedisURL(u)
		if err == nil {
			t.Errorf("%q accepted", u)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q repeats the password", err)
		}
	}
}

// BenchmarkTake is the cost of one quota decision: in memory, and one Redis round trip (on
// loopback; add the network's round trip for a Redis elsewhere).
func BenchmarkTake(b *testing.B) {
	f := newAPITable(map[string]FamilyLimits{"alerts": {PerMinute: 1 << 30, PerHour: 1 << 30}}, nil, 0).classify("GET", "/api/alerts")
	run := func(b *testing.B, l Limiter) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Take(context.Background(), redisTenant, f, time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("memory", func(b *testing.B) {
		run(b, NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{redisTenant}}))
	})
	b.Run("redis", func(b *testing.B) {
		l, err := NewRedisLimiter(RedisLimiterOptions{URL: redistest.URL(b), KeyPrefix: redistest.Prefix(b), TenantIDs: []string{redisTenant}, Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		run(b, l)
		if !l.Shared() {
			b.Fatal("degraded during the benchmark: the numbers are the fallback's")
		}
	})
}
