package emulator

import (
	"fmt"
	"time"
)

// Quotas and one-shot throttling, the two ways the emulated API answers 429.

// quotaKey names one fixed window: a tenant and an API family ("alerts", "machines",
// "advancedqueries"...).
type quotaKey struct {
	tenant string
	family string
}

type quotaWindow struct {
	start time.Time
	count int
}

// admit counts a request of tenant t to family and says whether it must be refused, with
// how long until it may retry, and the limit and window to quote in the message.
func (e *Emulator) admit(t *tenant, family string) (retry time.Duration, limit int, window time.Duration, limited bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t.throttle != nil {
		retry = max(*t.throttle, 0)
		t.throttle = nil
		e.throttled++
		return retry, 100, time.Minute, true
	}
	if e.quotaN <= 0 {
		return 0, 0, 0, false
	}
	now := e.now()
	k := quotaKey{tenant: t.id, family: family}
	w := e.windows[k]
	if w == nil || !now.Before(w.start.Add(e.quotaWindow)) {
		w = &quotaWindow{start: now}
		e.windows[k] = w
	}
	w.count++
	if w.count <= e.quotaN {
		return 0, 0, 0, false
	}
	e.throttled++
	return w.start.Add(e.quotaWindow).Sub(now), e.quotaN, e.quotaWindow, true
}

// timeSpan formats d like .NET's TimeSpan ("00:01:00", "00:00:00.5000000"), as MDE's quota
// message does.
func timeSpan(d time.Duration) string {
	h := int64(d / time.Hour)
	m := int64(d % time.Hour / time.Minute)
	s := int64(d % time.Minute / time.Second)
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if frac := int64(d % time.Second / 100); frac != 0 {
		out += fmt.Sprintf(".%07d", frac)
	}
	return out
}
