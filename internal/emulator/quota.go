package emulator

import (
	"fmt"
	"strings"
	"time"
)

// Quotas and one-shot throttling, the ways the emulated API answers 429. MDE counts each API
// on its own per app and tenant, in a minute and an hour window (the figures are in routes);
// SetQuota's older per-family window is kept for tests written against it.

// quotaKey names one fixed window of SetQuota: a tenant and an API family ("alerts",
// "machines", "advancedqueries"...).
type quotaKey struct {
	tenant string
	family string
}

type quotaWindow struct {
	start time.Time
	count int
}

// limitKey names the windows of one API for one app in one tenant.
type limitKey struct {
	tenant, app, api string
}

// limitWindows are the minute and hour windows of one limitKey.
type limitWindows struct {
	minute, hour quotaWindow
}

// limits are an API's limits per minute and per hour; 0 means none in that window.
type limits struct {
	perMinute, perHour int
}

// SetEnforceLimits turns MDE's documented per-API limits (see APIs) on or off. Off is the
// default, so load tests are not shaped by the emulator unless they ask. Every call starts
// fresh windows.
func (e *Emulator) SetEnforceLimits(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.enforceLimits = on
	e.limitState = make(map[limitKey]*limitWindows)
}

// SetAPILimit overrides the limits of the API named name (as listed by APIs, compared
// case-insensitively) while limits are enforced; perMinute or perHour 0 means none in that
// window, and both negative restores the documented figures. Windows already open keep
// their counts.
func (e *Emulator) SetAPILimit(name string, perMinute, perHour int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := strings.ToLower(name)
	if perMinute < 0 && perHour < 0 {
		delete(e.limitOverride, key)
		return
	}
	e.limitOverride[key] = limits{max(perMinute, 0), max(perHour, 0)}
}

// admit counts a request of app in tenant t to route rt (in family, for SetQuota) and says
// whether it must be refused, with how long until it may retry, and the limit and window to
// quote in the message. Refused requests do not count.
func (e *Emulator) admit(t *tenant, app, family string, rt *route) (retry time.Duration, limit int, window time.Duration, limited bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t.throttle != nil {
		retry = max(*t.throttle, 0)
		t.throttle = nil
		e.throttled++
		return retry, 100, time.Minute, true
	}
	now := e.now()
	if e.quotaN > 0 {
		k := quotaKey{tenant: t.id, family: family}
		w := e.windows[k]
		if w == nil || !now.Before(w.start.Add(e.quotaWindow)) {
			w = &quotaWindow{start: now}
			e.windows[k] = w
		}
		w.count++
		if w.count > e.quotaN {
			e.throttled++
			return w.start.Add(e.quotaWindow).Sub(now), e.quotaN, e.quotaWindow, true
		}
	}
	if !e.enforceLimits {
		return 0, 0, 0, false
	}
	lim, ok := e.limitOverride[strings.ToLower(rt.name)]
	if !ok {
		lim = limits{rt.perMinute, rt.perHour}
	}
	k := limitKey{tenant: t.id, app: strings.ToLower(app), api: rt.name}
	st := e.limitState[k]
	if st == nil {
		st = &limitWindows{}
		e.limitState[k] = st
	}
	// When both windows are full, quote the one that ends last (the hour on a tie).
	for _, w := range []struct {
		win *quotaWindow
		n   int
		d   time.Duration
	}{{&st.minute, lim.perMinute, time.Minute}, {&st.hour, lim.perHour, time.Hour}} {
		if w.n <= 0 {
			continue
		}
		if w.win.start.IsZero() || !now.Before(w.win.start.Add(w.d)) {
			*w.win = quotaWindow{start: now}
		}
		if r := w.win.start.Add(w.d).Sub(now); w.win.count >= w.n && r >= retry {
			retry, limit, window, limited = r, w.n, w.d, true
		}
	}
	if limited {
		e.throttled++
		return retry, limit, window, true
	}
	st.minute.count++
	st.hour.count++
	return 0, 0, 0, false
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
