package proxy

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// The limiter lets a whole minute's limit through at once, then makes the rest wait for the
// oldest admission to leave the window plus its slack (60 s + 2 s); a slot beyond max_wait is
// refused with an honest Retry-After. Under demand that never stops, it admits at least 95 %
// of MDE's allowance, and no 62-s span (so no 60-s window at MDE, fixed or sliding, with up to
// 2 s of delay jitter) ever holds more than the limit. The clock is injected and max_wait is
// zero, so nothing sleeps.
func TestMemoryLimiterShapes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"T1", "t2"}, Now: func() time.Time { return now }})
	fs := newAPITable(nil, nil, 0)
	alerts := fs.named("list_alerts")
	ctx := context.Background()

	// Ten minutes of a request every 100 ms: six times the allowance.
	var admitted []time.Time
	var firstRetry time.Duration
	for i := range 6000 {
		_, err := l.Take(ctx, "t1", alerts, 0)
		var th *ThrottledError
		switch {
		case err == nil:
			admitted = append(admitted, now)
		case errors.As(err, &th):
			if firstRetry == 0 {
				firstRetry = th.RetryAfter
			}
		default:
			t.Fatal(err)
		}
		if i == 99 && len(admitted) != 100 {
			t.Fatalf("the first 100 (a whole minute's limit, in 10 s) were not all admitted: %d", len(admitted))
		}
		now = now.Add(100 * time.Millisecond)
	}
	// The 101st came 10 s after the first, whose slot frees at 62 s.
	if firstRetry != 52*time.Second {
		t.Errorf("first Retry-After %v, want 52 s (the first admission's 62 s span minus the 10 s since)", firstRetry)
	}
	// 600 s is 9 full spans of 62 s and 42 s more: 10 bursts of 100.
	if got, allowance := len(admitted), 100*10; float64(got) < 0.95*float64(allowance) || got > allowance {
		t.Errorf("%d admitted in 10 minutes for a 100/min family, want at least 95 %% of %d", got, allowance)
	}
	for i := range admitted {
		j := i
		for j < len(admitted) && admitted[j].Sub(admitted[i]) < 62*time.Second {
			j++
		}
		if j-i > 100 {
			t.Fatalf("%d admitted in the 62 s from %v, want at most 100", j-i, admitted[i])
		}
	}
	// Another tenant, and another family, have their own quota.
	if _, err := l.Take(ctx, "t2", alerts, 0); err != nil {
		t.Errorf("t2 held back by t1: %v", err)
	}
	if _, err := l.Take(ctx, "t1", fs.named("list_machines"), 0); err != nil {
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
	if _, err := l.Take(cctx, "t2", fs.named("list_machines"), time.Hour); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

// A family whose limits are -1 is not shaped: a thousand requests at one instant are all
// admitted at once. Only MDE's own Retry-After holds it back. -1 per minute with the hourly
// limit kept still counts the hour.
func TestMemoryLimiterUnlimited(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"t1"}, Now: func() time.Time { return now }})
	fs := newAPITable(map[string]FamilyLimits{
		"alerts":   {PerMinute: -1, PerHour: -1},
		"machines": {PerMinute: -1},
	}, nil, 0)
	ctx := context.Background()
	for i := range 1000 {
		if waited, err := l.Take(ctx, "t1", fs.named("list_alerts"), 0); err != nil || waited != 0 {
			t.Fatalf("request %d of an unlimited family: waited %v, %v", i, waited, err)
		}
	}
	admitted := 0
	for range 2000 {
		if _, err := l.Take(ctx, "t1", fs.named("list_machines"), 0); err == nil {
			admitted++
		}
	}
	if admitted != 1500 {
		t.Errorf("machines with no minute limit admitted %d at once, want the hourly limit, 1500", admitted)
	}
	l.Backoff("t1", fs.named("list_alerts"), now.Add(5*time.Second))
	var th *ThrottledError
	if _, err := l.Take(ctx, "t1", fs.named("list_alerts"), 0); !errors.As(err, &th) || th.RetryAfter != 5*time.Second {
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
