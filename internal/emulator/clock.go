package emulator

import (
	"sync"
	"time"
)

// Clock is a manual clock for Options.Now: time moves only when Advance is called, so tests
// of quotas, token expiry and machine-action progress never sleep. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads start. A zero start means 2024-05-01 08:00 UTC.
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = dataEpoch
	}
	return &Clock{t: start}
}

// Now returns the clock's time; pass c.Now as Options.Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
