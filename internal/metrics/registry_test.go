package metrics_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mdegate/mdegate/internal/metrics"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

func tenant(name, region string) *routing.Tenant {
	return &routing.Tenant{Name: name, ID: name + "-id", Endpoint: &routing.Endpoint{Region: region, URL: &url.URL{Scheme: "https", Host: region}}}
}

func TestCallsByLabels(t *testing.T) {
	r := metrics.New(metrics.Options{})
	contoso, fabrikam := tenant("contoso", "eu"), tenant("fabrikam", "us")
	calls := []proxy.Observation{
		{Tenant: contoso, Method: "GET", Family: proxy.FamilyOf("/api/alerts"), Status: 200, Total: 30 * time.Millisecond, Upstream: 20 * time.Millisecond, Reached: true},
		{Tenant: contoso, Method: "GET", Family: proxy.FamilyOf("/api/ALERTS/da1"), Status: 200, Reached: true},
		{Tenant: contoso, Method: "POST", Family: proxy.FamilyOf("/api/advancedqueries/run"), Status: 429, Reached: true},
		{Tenant: fabrikam, Method: "BREW", Family: proxy.FamilyOf("/api/coffee"), Status: 502, UpstreamFailed: true},
		{Method: "GET", Family: proxy.FamilyOf("/healthz"), Status: 400},
	}
	for _, o := range calls {
		r.Start()
		r.Done(o)
	}
	want := `
# HELP mdegate_requests_total Calls answered, by tenant, region, method, API family and status class (2xx ... 5xx).
# TYPE mdegate_requests_total counter
mdegate_requests_total{family="advancedqueries",method="POST",region="eu",status="4xx",tenant="contoso"} 1
mdegate_requests_total{family="alerts",method="GET",region="eu",status="2xx",tenant="contoso"} 2
mdegate_requests_total{family="other",method="GET",region="",status="4xx",tenant=""} 1
mdegate_requests_total{family="other",method="other",region="us",status="5xx",tenant="fabrikam"} 1
# HELP mdegate_region_up 1 when the last call to the region got an answer from MDE, 0 when it could not reach it.
# TYPE mdegate_region_up gauge
mdegate_region_up{region="eu"} 1
mdegate_region_up{region="us"} 0
# HELP mdegate_upstream_throttled_total Answers of 429 Too Many Requests from MDE, by tenant.
# TYPE mdegate_upstream_throttled_total counter
mdegate_upstream_throttled_total{tenant="contoso"} 1
# HELP mdegate_requests_in_flight Calls being served right now.
# TYPE mdegate_requests_in_flight gauge
mdegate_requests_in_flight 0
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), "mdegate_requests_total",
		"mdegate_region_up", "mdegate_upstream_throttled_total", "mdegate_requests_in_flight"); err != nil {
		t.Error(err)
	}
	// Tenants removed by a reload leave the scrape.
	r.Retain([]*routing.Tenant{contoso})
	if n, err := testutil.GatherAndCount(r.Gatherer(), "mdegate_requests_total"); err != nil || n != 3 {
		t.Errorf("%d request series after fabrikam was removed (%v), want 3", n, err)
	}
}

// The hot path allocates nothing once a tenant's series exist.
func TestDoneAllocatesNothing(t *testing.T) {
	r := metrics.New(metrics.Options{})
	o := proxy.Observation{Tenant: tenant("contoso", "eu"), Method: "GET", Family: proxy.FamilyOf("/api/machines"), Status: 200, Reached: true, Attempts: 1}
	r.Done(o)
	if n := testing.AllocsPerRun(1000, func() { r.Start(); r.Done(o) }); n != 0 {
		t.Errorf("%v allocations per observed call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = proxy.FamilyOf("/api/Machines/abc/vulnerabilities") }); n != 0 {
		t.Errorf("FamilyOf: %v allocations, want 0", n)
	}
}

// Retries, failovers and throttle waits are counted by API family (and region), never by
// tenant or path; the region table's RTT and health are read at scrape time.
func TestRetryAndRegionMetrics(t *testing.T) {
	r := metrics.New(metrics.Options{Regions: func() []metrics.RegionStatus {
		return []metrics.RegionStatus{
			{Region: "eu", RTT: 12 * time.Millisecond, Probed: true, Reachable: true},
			{Region: "us", RTT: 30 * time.Millisecond, Probed: true, Reachable: true, Down: true}, // a 503 just now
			{Region: "uk", Probed: true}, // unreachable in the last round
			{Region: "global"},           // never probed (no auto tenant), no failure: healthy
		}
	}})
	contoso := tenant("contoso", "us")
	alerts, hunting := proxy.FamilyOf("/api/alerts"), proxy.FamilyOf("/api/advancedqueries/run")
	for _, o := range []proxy.Observation{
		{Tenant: contoso, Method: "GET", Family: alerts, Region: "global", Status: 200, Reached: true, Attempts: 2, FailoverFrom: "us"},
		{Tenant: contoso, Method: "GET", Family: alerts, Region: "us", Status: 200, Reached: true, Attempts: 1, ThrottleWait: 300 * time.Millisecond},
		{Tenant: contoso, Method: "POST", Family: hunting, Region: "us", Status: 200, Reached: true, Attempts: 2, ThrottleWait: 2 * time.Second},
		{Tenant: contoso, Method: "GET", Family: alerts, Status: 429}, // the gateway's own 429: never sent
	} {
		r.Start()
		r.Done(o)
	}
	want := `
# HELP mdegate_failovers_total Calls answered by another region's endpoint than the one first tried, by first region (from) and answering region (to).
# TYPE mdegate_failovers_total counter
mdegate_failovers_total{from="us",to="global"} 1
# HELP mdegate_region_healthy 1 when the region's endpoint may be chosen: not cooling down after a failed call and not unreachable in the last probe round; else 0.
# TYPE mdegate_region_healthy gauge
mdegate_region_healthy{region="eu"} 1
mdegate_region_healthy{region="global"} 1
mdegate_region_healthy{region="uk"} 0
mdegate_region_healthy{region="us"} 0
# HELP mdegate_region_rtt_seconds Median round trip to the region's endpoint in the last probe round (absent when unreachable or not probed; probes run while a tenant's region is auto).
# TYPE mdegate_region_rtt_seconds gauge
mdegate_region_rtt_seconds{region="eu"} 0.012
mdegate_region_rtt_seconds{region="us"} 0.03
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), "mdegate_failovers_total",
		"mdegate_region_healthy", "mdegate_region_rtt_seconds"); err != nil {
		t.Error(err)
	}
	attempts := map[string]float64{}
	waits := map[string]uint64{}
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "mdegate_upstream_attempts_total":
				attempts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			case "mdegate_throttle_wait_seconds":
				waits[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	if attempts["alerts"] != 3 || attempts["advancedqueries"] != 2 || attempts["machines"] != 0 {
		t.Errorf("attempts by family %v, want alerts 3, advancedqueries 2", attempts)
	}
	if len(waits) != 2 || waits["alerts"] != 1 || waits["advancedqueries"] != 1 {
		t.Errorf("throttle waits observed by family %v, want one each for alerts and advancedqueries", waits)
	}
}

func TestTokenMetrics(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := metrics.New(metrics.Options{Now: func() time.Time { return now }, Tenants: func() []metrics.TenantStatus {
		return []metrics.TenantStatus{
			{Name: "contoso", Region: "eu", Status: tokens.Status{State: tokens.StateOK, Expires: now.Add(90 * time.Second)}},
			{Name: "northwind", Region: "global", Status: tokens.Status{State: tokens.StateFailing, Code: "AADSTS700016", Failures: 3}},
		}
	}})
	r.TokenFetched("northwind", time.Millisecond, &tokens.Error{Code: "AADSTS700016", Status: 400})
	r.TokenFetched("contoso", time.Millisecond, &tokens.Error{Status: 503})
	r.TokenFetched("contoso", time.Millisecond, nil)
	want := `
# HELP mdegate_token_expiry_seconds Seconds until the tenant's held token expires (absent when none is held).
# TYPE mdegate_token_expiry_seconds gauge
mdegate_token_expiry_seconds{tenant="contoso"} 90
# HELP mdegate_token_fetch_failures_total Failed token requests, by tenant and Entra code (AADSTS..., or http_NNN / unreachable when Entra gave none).
# TYPE mdegate_token_fetch_failures_total counter
mdegate_token_fetch_failures_total{code="AADSTS700016",tenant="northwind"} 1
mdegate_token_fetch_failures_total{code="http_503",tenant="contoso"} 1
# HELP mdegate_token_state 1 for the tenant's current token state: ok, failing (code says Entra's AADSTS code), expired or never (not tried yet).
# TYPE mdegate_token_state gauge
mdegate_token_state{code="",region="eu",state="ok",tenant="contoso"} 1
mdegate_token_state{code="AADSTS700016",region="global",state="failing",tenant="northwind"} 1
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), "mdegate_token_expiry_seconds",
		"mdegate_token_fetch_failures_total", "mdegate_token_state"); err != nil {
		t.Error(err)
	}
}

// BenchmarkDone is the metrics' share of one call: in flight up and down, one counter, two
// histograms, the region gauge.
func BenchmarkDone(b *testing.B) {
	r := metrics.New(metrics.Options{})
	o := proxy.Observation{Tenant: tenant("contoso", "eu"), Method: "GET", Family: proxy.FamilyOf("/api/machines"), Status: 200, Reached: true}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Start()
			r.Done(o)
		}
	})
}
