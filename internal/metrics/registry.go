package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// TenantStatus is one configured tenant's token state as the metrics show it.
type TenantStatus struct {
	Name   string // the tenant's alias
	Region string // the region serving it ("auto" resolved)
	tokens.Status
}

// Options configure a Registry.
type Options struct {
	// Tenants lists the configured tenants and their token state; it is called on every
	// scrape, so it must be cheap and safe for concurrent use. Nil means no token state
	// metrics.
	Tenants func() []TenantStatus
	// Regions lists the region table's endpoints and their health; it is called on every
	// scrape, so it must be cheap and safe for concurrent use. Nil means no region RTT and
	// health metrics.
	Regions func() []RegionStatus
	// QuotaStore says whether limits.redis is set and, if so, whether Redis decides (shared)
	// or this gateway's own limiter does (degraded); it is called on every scrape. Nil means
	// no quota store metric.
	QuotaStore func() (configured, shared bool)
	// Now is the clock for seconds-until-expiry. Nil means time.Now.
	Now func() time.Time
	// Version is the version label of mdegate_build_info. Empty means "unknown".
	Version string
	// Commit is the commit label of mdegate_build_info. Empty means the vcs.revision the Go
	// toolchain stamped into the binary, or "unknown" when there is none.
	Commit string
}

// Registry holds the gateway's metrics. It implements proxy.Metrics. Safe for concurrent use.
type Registry struct {
	reg *prometheus.Registry
	now func() time.Time

	inFlight     prometheus.Gauge
	requests     *prometheus.CounterVec
	total        *prometheus.HistogramVec
	upstream     *prometheus.HistogramVec
	regionUp     *prometheus.GaugeVec
	throttled    *prometheus.CounterVec
	fetches      *prometheus.CounterVec
	fetchFails   *prometheus.CounterVec
	fetchSeconds prometheus.Histogram
	reloads      *prometheus.CounterVec
	lastReload   prometheus.Gauge
	throttleWait *prometheus.HistogramVec
	attempts     []prometheus.Counter // by proxy.FamilyIndex
	failovers    *prometheus.CounterVec

	tenants sync.Map // *routing.Tenant -> *tenantSeries
	regions sync.Map // region name -> *regionSeries
}

var _ proxy.Metrics = (*Registry)(nil)

// latencyBuckets span a cached-token answer (milliseconds) to a long advanced hunting query.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// waitBuckets span a shaped burst's spacing (tens of milliseconds) to the longest max_wait
// anyone should configure.
var waitBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New builds a Registry with Go runtime and process metrics included.
func New(opts Options) *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), now: opts.Now}
	if r.now == nil {
		r.now = time.Now
	}
	r.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "mdegate_requests_in_flight",
		Help: "Calls being served right now."})
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mdegate_requests_total",
		Help: "Calls answered, by tenant, region, method, API family and status class (2xx ... 5xx)."},
		[]string{"tenant", "region", "method", "family", "status"})
	r.total = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mdegate_request_duration_seconds",
		Help: "Time from a call's arrival to its last byte, by region and API family.", Buckets: latencyBuckets},
		[]string{"region", "family"})
	r.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mdegate_upstream_duration_seconds",
		Help: "Time MDE took to send its response headers (the region's round trip), by region and API family.", Buckets: latencyBuckets},
		[]string{"region", "family"})
	r.regionUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mdegate_region_up",
		Help: "1 when the last call to the region got an answer from MDE, 0 when it could not reach it."},
		[]string{"region"})
	r.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mdegate_upstream_throttled_total",
		Help: "Answers of 429 Too Many Requests from MDE, by tenant."}, []string{"tenant"})
	r.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mdegate_token_fetches_total",
		Help: "Token requests to Entra, by tenant and result (ok or failed)."}, []string{"tenant", "result"})
	r.fetchFails = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mdegate_token_fetch_failures_total",
		Help: "Failed token requests, by tenant and Entra code (AADSTS..., or http_NNN / unreachable when Entra gave none)."},
		[]string{"tenant", "code"})
	r.fetchSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mdegate_token_fetch_duration_seconds",
		Help: "Time a token request to Entra took.", Buckets: latencyBuckets})
	r.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mdegate_config_reloads_total",
		Help: "Configuration reloads, by result (ok or refused)."}, []string{"result"})
	r.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{Name: "mdegate_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration in use was loaded (Unix time)."})
	r.throttleWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mdegate_throttle_wait_seconds",
		Help:    "Time a call waited for its quota slot or out MDE's Retry-After, by API family (calls that did not wait are not observed).",
		Buckets: waitBuckets}, []string{"family"})
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mdegate_upstream_attempts_total",
		Help: "Requests sent to MDE, failovers and replays (401, 429) included, by API family; compare with mdegate_requests_total."},
		[]string{"family"})
	for _, f := range proxy.FamilyNames() {
		r.attempts = append(r.attempts, attempts.WithLabelValues(f)) // resolved once: Done allocates nothing
	}
	r.failovers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mdegate_failovers_total",
		Help: "Calls answered by another region's endpoint than the one first tried, by first region (from) and answering region (to)."},
		[]string{"from", "to"})
	r.reg.MustRegister(r.inFlight, r.requests, r.total, r.upstream, r.regionUp, r.throttled,
		r.fetches, r.fetchFails, r.fetchSeconds, r.reloads, r.lastReload, r.throttleWait, attempts, r.failovers,
		buildInfo(opts.Version, opts.Commit),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.Tenants != nil {
		r.reg.MustRegister(&tokenCollector{tenants: opts.Tenants, now: r.now})
	}
	if opts.Regions != nil {
		r.reg.MustRegister(&regionCollector{regions: opts.Regions})
	}
	if opts.QuotaStore != nil {
		r.reg.MustRegister(&quotaCollector{state: opts.QuotaStore})
	}
	return r
}

// Handler serves the metrics in Prometheus' text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Gatherer is the underlying registry, for tests and for adding collectors.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// TokenFetched records one token request; it fits tokens.Options.OnFetch once the tenant ID
// is mapped to a name by the caller.
func (r *Registry) TokenFetched(tenant string, took time.Duration, err *tokens.Error) {
	r.fetchSeconds.Observe(took.Seconds())
	if err == nil {
		r.fetches.WithLabelValues(tenant, "ok").Inc()
		return
	}
	r.fetches.WithLabelValues(tenant, "failed").Inc()
	code := err.Code
	switch {
	case code != "":
	case err.Status != 0:
		code = "http_" + strconv.Itoa(err.Status)
	default:
		code = "unreachable"
	}
	r.fetchFails.WithLabelValues(tenant, code).Inc()
}

// Reloaded records a configuration reload attempt; ok is false when it was refused.
func (r *Registry) Reloaded(ok bool) {
	if !ok {
		r.reloads.WithLabelValues("refused").Inc()
		return
	}
	r.reloads.WithLabelValues("ok").Inc()
	r.lastReload.Set(float64(r.now().UnixNano()) / 1e9)
}

// Retain forgets the series of tenants that are no longer configured (after a reload), so
// removed tenants do not linger in every scrape.
func (r *Registry) Retain(live []*routing.Tenant) {
	keep := make(map[*routing.Tenant]bool, len(live))
	names := make(map[string]bool, len(live))
	for _, tn := range live {
		keep[tn] = true
		names[tn.Name] = true
	}
	gone := map[string]bool{}
	r.tenants.Range(func(k, _ any) bool {
		tn := k.(*routing.Tenant)
		if !keep[tn] && tn != noTenant {
			r.tenants.Delete(k)
			if !names[tn.Name] {
				gone[tn.Name] = true
			}
		}
		return true
	})
	for name := range gone {
		l := prometheus.Labels{"tenant": name}
		r.requests.DeletePartialMatch(l)
		r.throttled.DeletePartialMatch(l)
		r.fetches.DeletePartialMatch(l)
		r.fetchFails.DeletePartialMatch(l)
	}
}
