package routing

import (
	"sort"
	"sync/atomic"
	"time"
)

// Auto is the region name that means "the nearest healthy endpoint of the region table",
// as measured by a Prober.
const Auto = "auto"

// health is an endpoint's passive health and its last probe. Every field is atomic: requests
// read it without a lock.
type health struct {
	downUntil atomic.Int64 // unix nanoseconds; the endpoint is skipped before then
	fails     atomic.Int32 // consecutive failures, for the exponential cool-down
	rtt       atomic.Int64 // median probe round trip in nanoseconds; 0 = not measured
	reachable atomic.Int32 // 0 = not probed, 1 = reachable, 2 = unreachable
}

// Down reports whether the endpoint is in a cool-down after failures at time now.
func (e *Endpoint) Down(now time.Time) bool {
	return now.UnixNano() < e.downUntil.Load()
}

// RTT returns the median round trip of the last probe, and whether the endpoint answered it.
// A zero RTT with ok false means it was never probed or could not be reached.
func (e *Endpoint) RTT() (rtt time.Duration, ok bool) {
	return time.Duration(e.rtt.Load()), e.reachable.Load() == 1
}

// Healthy reports whether ep may be chosen now (it is not cooling down after failures).
func (t *Table) Healthy(ep *Endpoint) bool { return !ep.Down(t.now()) }

// ReportFailure marks ep down after a connection error, TLS failure or 502/503/504: the
// first failure for CoolDown, each consecutive one for twice as long, up to MaxCoolDown. It
// returns the cool-down applied.
func (t *Table) ReportFailure(ep *Endpoint) time.Duration {
	n := ep.fails.Add(1)
	d := t.coolDown
	for i := int32(1); i < n && d < t.maxCoolDown; i++ {
		d *= 2
	}
	d = min(d, t.maxCoolDown)
	ep.downUntil.Store(t.now().Add(d).UnixNano())
	return d
}

// ReportSuccess clears ep's failure count after an answer that was not a failure. It costs
// one atomic load when there is nothing to clear.
func (t *Table) ReportSuccess(ep *Endpoint) {
	if ep.fails.Load() != 0 {
		ep.fails.Store(0)
		ep.downUntil.Store(0)
	}
}

// Candidates returns the endpoints a tenant's request may use, in preference order: for a
// pinned tenant its endpoint then global; for an Auto tenant every endpoint, nearest first.
// The slice is shared and must not be changed.
func (t *Table) Candidates(tn *Tenant) []*Endpoint {
	if tn.Auto {
		return *t.auto.Load()
	}
	return tn.pinned
}

// Pick chooses the endpoint of a tenant's next attempt among cands (from Candidates): the
// first healthy one after index after (-1 for the first attempt). When none after it is
// healthy, it returns the next one anyway (trying beats failing), and i = -1 when there is
// none left. It takes no lock and allocates nothing.
func (t *Table) Pick(cands []*Endpoint, after int) (ep *Endpoint, i int) {
	now := t.now()
	for j := after + 1; j < len(cands); j++ {
		if !cands[j].Down(now) {
			return cands[j], j
		}
	}
	if after+1 < len(cands) {
		return cands[after+1], after + 1
	}
	return nil, -1
}

// Nearest returns the endpoint Auto tenants use first now (ignoring passive health).
func (t *Table) Nearest() *Endpoint { return (*t.auto.Load())[0] }

// Probe is one endpoint's measurement.
type Probe struct {
	// Endpoint is the endpoint measured.
	Endpoint *Endpoint
	// RTT is the median round trip of the samples; meaningful only when Reachable.
	RTT time.Duration
	// Reachable is true when at least one sample got an HTTP answer.
	Reachable bool
}

// Hysteresis: the nearest endpoint is replaced only by one faster by both margins, so
// endpoints of equal distance do not flap.
const (
	switchRatio  = 0.8 // the new one takes at most 80% of the current one's round trip
	switchMargin = 5 * time.Millisecond
)

// SetProbes records a round of probe results and recomputes the Auto order: the current
// nearest endpoint stays first unless it became unreachable or another reachable one is
// clearly faster; the rest follow by round trip, unreachable ones last. Endpoints missing from
// probes keep their previous measurement.
func (t *Table) SetProbes(probes []Probe) {
	for _, p := range probes {
		p.Endpoint.rtt.Store(int64(p.RTT))
		if p.Reachable {
			p.Endpoint.reachable.Store(1)
		} else {
			p.Endpoint.reachable.Store(2)
		}
	}
	old := *t.auto.Load()
	order := append([]*Endpoint(nil), old...)
	sort.SliceStable(order, func(i, j int) bool { return closer(order[i], order[j]) })
	cur, best := old[0], order[0]
	curRTT, curOK := cur.RTT()
	bestRTT, bestOK := best.RTT()
	keep := cur != best && curOK && (!bestOK ||
		float64(bestRTT) > switchRatio*float64(curRTT) || curRTT-bestRTT < switchMargin)
	if keep {
		rest := order[:0:0]
		for _, ep := range order {
			if ep != cur {
				rest = append(rest, ep)
			}
		}
		order = append([]*Endpoint{cur}, rest...)
	}
	t.auto.Store(&order)
}

// closer orders endpoints for Auto: reachable before not, then by round trip, then global
// first, then by name.
func closer(a, b *Endpoint) bool {
	ar, aok := a.RTT()
	br, bok := b.RTT()
	switch {
	case aok != bok:
		return aok
	case aok && ar != br:
		return ar < br
	case (a.Region == Global) != (b.Region == Global):
		return a.Region == Global
	}
	return a.Region < b.Region
}

// initialOrder is the Auto order before any probe: global, then the others by name.
func initialOrder(eps map[string]*Endpoint) *[]*Endpoint {
	order := make([]*Endpoint, 0, len(eps))
	for _, ep := range eps {
		order = append(order, ep)
	}
	sort.Slice(order, func(i, j int) bool { return closer(order[i], order[j]) })
	return &order
}
