package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/blackhole"
)

// The status page's quota column (issue 19): the busiest API is the one fullest relative to
// its limit, not the one with the most calls; its count is the admissions of the current
// minute window; a tenant with nothing in any window, or not limited at all, has none.
func TestMemoryLimiterBusiest(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"T1", "t2"}, Now: clock.now})
	fs := newAPITable(nil, nil, 0)
	alerts, live, investigate := fs.named("list_alerts"), fs.named("run_live_response"), fs.named("start_investigation")
	take := func(tenant string, a *API, n int) {
		t.Helper()
		for range n {
			if _, err := l.Take(context.Background(), tenant, a, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	take("t1", alerts, 5) // 5/100
	take("t1", live, 2)   // 2/10: fuller
	take("t1", investigate, 40)
	clock.add(30 * time.Second)
	take("t1", alerts, 1)

	if got, ok := l.Busiest("T1"); !ok || got != (QuotaUse{API: "run_live_response", Used: 2, Limit: 10}) {
		t.Errorf("t1: got %+v, %v; want run_live_response 2/10", got, ok)
	}
	take("t1", alerts, 20) // 26/100 passes 2/10
	if got, ok := l.Busiest("t1"); !ok || got != (QuotaUse{API: "list_alerts", Used: 26, Limit: 100}) {
		t.Errorf("t1 after more alerts: got %+v, %v; want list_alerts 26/100", got, ok)
	}
	for _, id := range []string{"t2", "t3"} { // unused; not limited
		if got, ok := l.Busiest(id); ok {
			t.Errorf("%s: got %+v, want none", id, got)
		}
	}

	// The first admissions leave the window 62 s after them (a minute and its slack): only
	// the 21 taken 30 s later remain, and the live-response calls are gone.
	clock.add(32 * time.Second)
	if got, ok := l.Busiest("t1"); !ok || got != (QuotaUse{API: "list_alerts", Used: 21, Limit: 100}) {
		t.Errorf("t1 at 62 s: got %+v, %v; want list_alerts 21/100", got, ok)
	}
	clock.add(30 * time.Second)
	if got, ok := l.Busiest("t1"); ok {
		t.Errorf("t1 after every window passed: got %+v, want none (the hourly-only API is not reported)", got)
	}
}

// With Redis deciding, the gateway knows no count without a round trip, so it reports none;
// while degraded, it reports its fallback's, which then decides.
func TestRedisLimiterBusiest(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	l := newRedisLimiter(t, "redis://"+blackhole.Listen(t)+"/0", "use:", clock, nil)
	alerts := newAPITable(nil, nil, 0).named("list_alerts")
	if got, ok := l.Busiest(redisTenant); ok {
		t.Errorf("shared: got %+v, want none", got)
	}
	for range 3 { // the first one times out and degrades; all three are the fallback's
		if _, err := l.Take(context.Background(), redisTenant, alerts, 0); err != nil {
			t.Fatal(err)
		}
	}
	if l.Shared() {
		t.Fatal("still shared with a Redis that never answers")
	}
	if got, ok := l.Busiest(redisTenant); !ok || got != (QuotaUse{API: "list_alerts", Used: 3, Limit: 100}) {
		t.Errorf("degraded: got %+v, %v; want list_alerts 3/100", got, ok)
	}
}

// The Handler reports its limiter's quota use, and none without a limiter.
func TestHandlerQuotaUse(t *testing.T) {
	t.Parallel()
	l := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"t1"}})
	if _, err := l.Take(context.Background(), "t1", newAPITable(nil, nil, 0).named("list_alerts"), 0); err != nil {
		t.Fatal(err)
	}
	h := &Handler{limiter: l}
	if got, ok := h.QuotaUse("t1"); !ok || got != (QuotaUse{API: "list_alerts", Used: 1, Limit: 100}) {
		t.Errorf("got %+v, %v; want list_alerts 1/100", got, ok)
	}
	if got, ok := (&Handler{}).QuotaUse("t1"); ok {
		t.Errorf("no limiter: got %+v, want none", got)
	}
}
