package proxy

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	fs := newFamilies(map[string]FamilyLimits{"alerts": {PerMinute: 7}}, 5*time.Minute)
	tests := []struct{ path, want string }{
		{"/api/alerts", "alerts"},
		{"/api/v1.0/Alerts/da637", "alerts"},
		{"/api/alerts/batchUpdate", "alerts_batchupdate"},
		{"/api/machines", "machines"},
		{"/api/machines/contoso-m01/isolate", "machines"},
		{"/api/machines/m1/runliveresponse", "liveresponse"},
		{"/api/machines/SoftwareInventoryByMachine", "exports"},
		{"/api/machines/SoftwareVulnerabilitiesExport", "export_files"},
		{"/api/advancedqueries/run", "advancedqueries"},
		{"/api/indicators/import", "indicators_import"},
		{"/api/Software", "software"},
		{"/api/somethingnew", "other"},
		{"/api", "other"},
	}
	for _, tt := range tests {
		if got := fs.classify(tt.path).Name; got != tt.want {
			t.Errorf("classify(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
	if f := fs.classify("/api/alerts"); f.Limits.PerMinute != 7 || f.Limits.PerHour != 1500 || f.Limits.Timeout != 5*time.Minute {
		t.Errorf("alerts limits %+v, want the override with the defaults kept", f.Limits)
	}
	if f := fs.classify("/api/advancedqueries/run"); f.Limits.Timeout != 4*time.Minute || !f.replayable(http.MethodPost) {
		t.Errorf("advanced hunting %+v: want 4 m and replayable POST", f)
	}
	if fs.classify("/api/machines/x/isolate").replayable(http.MethodPost) {
		t.Error("an isolation is replayable")
	}
	if n := testing.AllocsPerRun(100, func() { fs.classify("/api/v1.0/Machines/SoftwareInventoryByMachine") }); n != 0 {
		t.Errorf("classify allocates %v times, want 0", n)
	}
}

// The buckets admit a burst of a tenth, then spread the rest, and never more than the limit
// in a window; a slot beyond max_wait is refused with an honest Retry-After. The clock is
// injected and max_wait is zero, so nothing sleeps.
func TestMemoryLimiterShapes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"T1", "t2"}, Now: func() time.Time { return now }})
	fs := newFamilies(nil, 0)
	alerts := fs.byName["alerts"]
	ctx := context.Background()

	admitted, refused := 0, 0
	var firstRetry time.Duration
	// 150 requests, one every 400 ms: 60 s.
	for i := range 150 {
		_, err := l.Take(ctx, "t1", alerts, 0)
		var th *ThrottledError
		switch {
		case err == nil:
			admitted++
		case errors.As(err, &th):
			refused++
			if firstRetry == 0 {
				firstRetry = th.RetryAfter
			}
		default:
			t.Fatal(err)
		}
		if i == 9 && refused != 0 {
			t.Fatalf("the first 10 (the burst) were not all admitted: %d refused", refused)
		}
		now = now.Add(400 * time.Millisecond)
	}
	if admitted > 100 || admitted < 90 {
		t.Errorf("%d admitted in a minute for a 100/min family, want 90..100", admitted)
	}
	if firstRetry <= 0 || firstRetry > time.Second {
		t.Errorf("first Retry-After %v, want the time to the next slot (< 1 s at 1.4/s)", firstRetry)
	}
	// Another tenant, and another family, have their own quota.
	if _, err := l.Take(ctx, "t2", alerts, 0); err != nil {
		t.Errorf("t2 held back by t1: %v", err)
	}
	if _, err := l.Take(ctx, "t1", fs.byName["machines"], 0); err != nil {
		t.Errorf("machines held back by alerts: %v", err)
	}
	// MDE's Retry-After holds the family back until then.
	l.Backoff("t2", alerts, now.Add(30*time.Second))
	var th *ThrottledError
	if _, err := l.Take(ctx, "t2", alerts, 10*time.Second); !errors.As(err, &th) || th.RetryAfter != 30*time.Second {
		t.Errorf("after a 30 s backoff: %v, want a 30 s refusal", err)
	} else if th.retryAfterHeader() != "30" {
		t.Errorf("Retry-After header %q, want 30", th.retryAfterHeader())
	}
	// A caller that leaves ends its wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Take(cctx, "t2", fs.byName["machines"], time.Hour); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

// A family whose limits are -1 is not shaped: a thousand requests at one instant are all
// admitted at once. Only MDE's own Retry-After holds it back. -1 per minute with the hourly
// limit kept still counts the hour.
func TestMemoryLimiterUnlimited(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"t1"}, Now: func() time.Time { return now }})
	fs := newFamilies(map[string]FamilyLimits{
		"alerts":   {PerMinute: -1, PerHour: -1},
		"machines": {PerMinute: -1},
	}, 0)
	ctx := context.Background()
	for i := range 1000 {
		if waited, err := l.Take(ctx, "t1", fs.byName["alerts"], 0); err != nil || waited != 0 {
			t.Fatalf("request %d of an unlimited family: waited %v, %v", i, waited, err)
		}
	}
	admitted := 0
	for range 1000 {
		if _, err := l.Take(ctx, "t1", fs.byName["machines"], 0); err == nil {
			admitted++
		}
	}
	if admitted < 100 || admitted > 1500 {
		t.Errorf("machines with no minute limit admitted %d at once, want the hourly burst (150)", admitted)
	}
	l.Backoff("t1", fs.byName["alerts"], now.Add(5*time.Second))
	var th *ThrottledError
	if _, err := l.Take(ctx, "t1", fs.byName["alerts"], 0); !errors.As(err, &th) || th.RetryAfter != 5*time.Second {
		t.Errorf("unlimited family after MDE's 5 s Retry-After: %v, want a 5 s refusal", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"8", 8 * time.Second, true},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := retryAfter(http.Header{"Retry-After": {tt.v}}, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Retry-After %q: got %v %v, want %v %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}
