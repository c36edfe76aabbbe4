package tokens

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name              string
		life              time.Duration
		refresh, unusable time.Duration // after now
	}{
		{"one hour", 3599 * time.Second, 3599*time.Second - 10*time.Minute, 3599*time.Second - time.Minute},
		{"four seconds", 4 * time.Second, 3 * time.Second, 3600 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := schedule(Token{ExpiresOn: now.Add(tt.life)}, now)
			if got := h.refreshAt.Sub(now); got != tt.refresh {
				t.Errorf("refresh after %v, want %v", got, tt.refresh)
			}
			if got := h.usable.Sub(now); got != tt.unusable {
				t.Errorf("usable for %v, want %v", got, tt.unusable)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := backoff(200); got != 30*time.Second {
		t.Errorf("backoff(200) = %v, want 30s", got)
	}
}
