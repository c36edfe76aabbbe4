package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// The hot path resolves label values once: a tenant's series are found by the *routing.Tenant
// pointer, and within it each (method, family, status class) counter is kept after its first
// use, so an observation is two lookups and atomic adds, without allocating.

var methods = [...]string{"other", http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodHead, http.MethodOptions}

var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func methodIndex(m string) int {
	for i := 1; i < len(methods); i++ {
		if m == methods[i] {
			return i
		}
	}
	return 0
}

func classIndex(status int) int {
	if c := status / 100; c >= 1 && c <= 5 {
		return c
	}
	return 0
}

// tenantSeries are one tenant's counters. counters is copy-on-write: readers load it without
// a lock; a miss takes mu, re-checks and appends.
type tenantSeries struct {
	name   string
	region *regionSeries

	counters atomic.Pointer[[]keyedCounter]
	mu       sync.Mutex // serializes additions to counters
}

type keyedCounter struct {
	key uint16
	c   prometheus.Counter
}

// regionSeries are one region's histograms, per family, each made on first use (so a scrape
// shows only families that were called).
type regionSeries struct {
	name            string
	total, upstream []atomic.Pointer[observer]
	up              atomic.Pointer[gauge] // made when MDE is first reached or missed
}

type gauge struct{ prometheus.Gauge }

func (rs *regionSeries) upGauge(vec *prometheus.GaugeVec) prometheus.Gauge {
	if g := rs.up.Load(); g != nil {
		return g.Gauge
	}
	g := &gauge{vec.WithLabelValues(rs.name)}
	rs.up.CompareAndSwap(nil, g)
	return g.Gauge
}

type observer struct{ prometheus.Observer }

func (rs *regionSeries) observer(vec *prometheus.HistogramVec, slots []atomic.Pointer[observer], f proxy.FamilyIndex) prometheus.Observer {
	if int(f) >= len(slots) {
		f = proxy.FamilyOther
	}
	if o := slots[f].Load(); o != nil {
		return o.Observer
	}
	o := &observer{vec.WithLabelValues(rs.name, f.String())}
	slots[f].CompareAndSwap(nil, o) // a racing twin holds the same child
	return o.Observer
}

// noTenant stands for calls the gateway refused before knowing the tenant.
var noTenant = &routing.Tenant{Name: "", Endpoint: &routing.Endpoint{Region: ""}}

// Start counts a call in flight.
func (r *Registry) Start() { r.inFlight.Inc() }

// Done records a finished call.
func (r *Registry) Done(o proxy.Observation) {
	r.inFlight.Dec()
	tn := o.Tenant
	if tn == nil {
		tn = noTenant
	}
	ts := r.tenantSeries(tn)
	key := uint16(methodIndex(o.Method))<<12 | uint16(o.Family)<<4 | uint16(classIndex(o.Status))
	ts.counter(r, key, o).Inc()
	if o.Status == http.StatusTooManyRequests && o.Reached {
		r.throttled.WithLabelValues(ts.name).Inc() // rare: resolved when it happens
	}
	if o.Attempts > 0 && int(o.Family) < len(r.attempts) {
		r.attempts[o.Family].Add(float64(o.Attempts))
	}
	if o.ThrottleWait > 0 { // rare: resolved when it happens
		r.throttleWait.WithLabelValues(o.Family.String()).Observe(o.ThrottleWait.Seconds())
	}
	if o.FailoverFrom != "" { // rare
		r.failovers.WithLabelValues(o.FailoverFrom, o.Region).Inc()
	}
	rs := ts.region
	if o.Region != "" && o.Region != rs.name { // an auto tenant, or a failover
		rs = r.regionSeries(o.Region)
	}
	rs.observer(r.total, rs.total, o.Family).Observe(o.Total.Seconds())
	switch {
	case o.Reached:
		rs.observer(r.upstream, rs.upstream, o.Family).Observe(o.Upstream.Seconds())
		rs.upGauge(r.regionUp).Set(1)
	case o.UpstreamFailed:
		rs.upGauge(r.regionUp).Set(0)
	}
}

func (r *Registry) tenantSeries(tn *routing.Tenant) *tenantSeries {
	if v, ok := r.tenants.Load(tn); ok {
		return v.(*tenantSeries)
	}
	ts := &tenantSeries{name: tn.Name, region: r.regionSeries(tn.Endpoint.Region)}
	ts.counters.Store(new([]keyedCounter))
	v, _ := r.tenants.LoadOrStore(tn, ts)
	return v.(*tenantSeries)
}

func (r *Registry) regionSeries(region string) *regionSeries {
	if v, ok := r.regions.Load(region); ok {
		return v.(*regionSeries)
	}
	n := len(proxy.FamilyNames())
	rs := &regionSeries{name: region, total: make([]atomic.Pointer[observer], n),
		upstream: make([]atomic.Pointer[observer], n)}
	v, _ := r.regions.LoadOrStore(region, rs)
	return v.(*regionSeries)
}

func (ts *tenantSeries) counter(r *Registry, key uint16, o proxy.Observation) prometheus.Counter {
	for _, kc := range *ts.counters.Load() {
		if kc.key == key {
			return kc.c
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	old := *ts.counters.Load()
	for _, kc := range old {
		if kc.key == key {
			return kc.c
		}
	}
	c := r.requests.WithLabelValues(ts.name, ts.region.name, methods[methodIndex(o.Method)],
		o.Family.String(), statusClasses[classIndex(o.Status)])
	next := append(append(make([]keyedCounter, 0, len(old)+1), old...), keyedCounter{key, c})
	ts.counters.Store(&next)
	return c
}
