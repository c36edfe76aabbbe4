package proxy

import (
	"testing"
	"time"
)

// The log admits limit at once, then one per expiry; a withdrawn latest admission frees its
// slot; a quiet log forgets everything, and its memory is reused.
func TestSlidingLog(t *testing.T) {
	const s = int64(time.Second)
	l := newSlidingLog(3, 10*time.Second)
	steps := []struct {
		name     string
		now      int64
		want     int64
		add      bool
		cancel   bool
		wantLive int
	}{
		{"empty", 0, 0, true, false, 1},
		{"second", 1 * s, 1 * s, true, false, 2},
		{"third", 2 * s, 2 * s, true, false, 3},
		{"full: waits for the first to leave", 3 * s, 10 * s, true, false, 4},
		{"full: after the reservation", 4 * s, 11 * s, false, false, 4},
		{"withdrawn reservation", 4 * s, 11 * s, true, true, 4}, // adds at 11 s, withdraws it
		{"first left", 10 * s, 11 * s, false, false, 3},
		{"all left", 30 * s, 30 * s, false, false, 0},
	}
	for _, st := range steps {
		got := l.next(st.now)
		if got != st.want {
			t.Errorf("%s: next(%v) = %v, want %v", st.name, time.Duration(st.now), time.Duration(got), time.Duration(st.want))
		}
		if st.add {
			l.add(got)
		}
		if st.cancel {
			l.cancel(got)
		}
		if live := len(l.times) - l.head; live != st.wantLive {
			t.Errorf("%s: %d live admissions, want %d", st.name, live, st.wantLive)
		}
	}
	// Steady use reuses the same array.
	before := cap(l.times)
	for i := range 1000 {
		now := 40*s + int64(i)*4*s
		l.add(l.next(now))
	}
	if cap(l.times) > max(before, 8) {
		t.Errorf("the log grew to %d entries for a limit of 3", cap(l.times))
	}
}
