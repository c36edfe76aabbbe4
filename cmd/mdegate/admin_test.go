package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// getURL fetches a URL and returns the status and body.
// getText GETs url and returns the status and the body as text.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, body := getURL(t, url)
	return resp.StatusCode, string(body)
}

// /readyz shows each tenant's token state: ok, failing with the AADSTS code, or never tried;
// one unconsented tenant does not make the gateway unready.
func TestReadyzStates(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	if resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Fatalf("contoso: %d %s", resp.StatusCode, body)
	}
	if resp, body := g.do(t, "GET", "/api/alerts", "northwind", nil); resp.StatusCode != 503 {
		t.Fatalf("northwind: %d %s, want 503", resp.StatusCode, body)
	}
	status, body := getText(t, g.URL+"/readyz")
	_, _ = g.adminBodies.Write([]byte(body))
	if status != 200 {
		t.Fatalf("/readyz %d: %s", status, body)
	}
	var rd readiness
	if err := json.Unmarshal([]byte(body), &rd); err != nil {
		t.Fatalf("/readyz is not JSON: %v\n%s", err, body)
	}
	if rd.Status != "ready" || rd.Listen == "" || rd.Config != g.config || rd.LoadedAt.IsZero() {
		t.Errorf("readyz = %+v, want ready with listen, config and loaded_at", rd)
	}
	want := map[string]struct {
		state, code string
		expires     bool
	}{
		"contoso":   {"ok", "", true},
		"northwind": {"failing", "AADSTS700016", false},
		"fabrikam":  {"never", "", false},
	}
	if len(rd.Tenants) != len(want) {
		t.Fatalf("%d tenants in /readyz, want %d", len(rd.Tenants), len(want))
	}
	for _, tr := range rd.Tenants {
		w := want[tr.Name]
		if string(tr.Token) != w.state || tr.Code != w.code || (tr.ExpiresIn > 0) != w.expires {
			t.Errorf("%s: token %q code %q expires_in %v, want %q %q expires=%v", tr.Name, tr.Token, tr.Code, tr.ExpiresIn, w.state, w.code, w.expires)
		}
	}
	if tr := rd.Tenants[2]; tr.Name != "northwind" || !strings.Contains(tr.Hint, "consent") {
		t.Errorf("northwind hint %q, want one about consent", tr.Hint)
	}
	if rd.Tokens["ok"] != 1 || rd.Tokens["failing"] != 1 || rd.Tokens["never"] != 1 {
		t.Errorf("tokens summary %v, want one of each", rd.Tokens)
	}

	if status, body := getText(t, g.URL+"/healthz"); status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz %d %s", status, body)
	}
	// The admin paths are the gateway's own: never forwarded, no tenant needed.
	for _, r := range g.emu.Requests() {
		if !strings.HasPrefix(r.Path, "/api/") {
			t.Errorf("upstream saw %s", r.Path)
		}
	}
}

// With admin_listen set, the admin paths move there and the main listener no longer answers
// them (they are not under /api/, so the proxy refuses them in MDE's shape).
func TestAdminListen(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "admin_listen: 127.0.0.1:0\n")
	if g.Admin == "" {
		t.Fatal("no admin_listen in the listening line")
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, body := getText(t, g.Admin+p); status != 200 {
			t.Errorf("admin %s: %d %s", p, status, body)
		}
		resp, body := g.do(t, "GET", p, "", nil)
		if code, _, _ := mdeError(t, body); resp.StatusCode != 404 || code != "NotFound" {
			t.Errorf("main %s: %d %s, want 404 NotFound", p, resp.StatusCode, code)
		}
	}
	if n := len(g.emu.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

// The metrics the issue asks for, with their labels: bounded (API family, status class).
func TestMetricsNamesAndLabels(t *testing.T) {
	t.Parallel()
	// tailwind's region is auto, so the region table is probed.
	g := startGateway(t, tailwindAuto, withTailwind)
	for _, c := range []struct{ path, tenant string }{
		{"/api/alerts?$top=1", "contoso"},
		{"/api/Alerts?$top=1", "contoso"},
		{"/api/machines/contoso-m01", "contoso"},
		{"/api/nope/123", "fabrikam"},
		{"/api/alerts", "northwind"},
		{"/api/alerts", "tailspin"},
	} {
		if strings.HasPrefix(c.path, "/api/machines") {
			g.emu.Throttle(demoContoso, time.Second) // this call waits 1 s and is replayed
		}
		g.do(t, "GET", c.path, c.tenant, nil)
	}
	// us answers 503: fabrikam's call fails over to global, and us cools down.
	g.emu.FailRegion("us", 503)
	if resp, _ := g.do(t, "GET", "/api/alerts", "fabrikam", nil); resp.StatusCode != 200 {
		t.Fatalf("fabrikam's failover: %d", resp.StatusCode)
	}
	// A call is counted just after its log line is written: wait until none is in flight
	// but the scrape itself.
	var status int
	var body string
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body = getText(t, g.URL+"/metrics")
		if strings.Contains(body, "mdegate_requests_in_flight 0\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, _ = g.adminBodies.Write([]byte(body))
	if status != 200 {
		t.Fatalf("/metrics %d", status)
	}
	for _, want := range []string{
		`mdegate_requests_total{family="alerts",method="GET",region="eu",status="2xx",tenant="contoso"} 2`,
		`mdegate_requests_total{family="machines",method="GET",region="eu",status="2xx",tenant="contoso"} 1`,
		`mdegate_requests_total{family="other",method="GET",region="us",status="4xx",tenant="fabrikam"} 1`,
		`mdegate_requests_total{family="alerts",method="GET",region="global",status="5xx",tenant="northwind"} 1`,
		`mdegate_requests_total{family="alerts",method="GET",region="",status="4xx",tenant=""} 1`,
		`mdegate_request_duration_seconds_count{family="alerts",region="eu"} 2`,
		`mdegate_upstream_duration_seconds_count{family="alerts",region="eu"} 2`,
		`mdegate_requests_in_flight 0`,
		`mdegate_region_up{region="eu"} 1`,
		`mdegate_token_fetches_total{result="ok",tenant="contoso"} 1`,
		`mdegate_token_fetches_total{result="failed",tenant="northwind"} 1`,
		`mdegate_token_fetch_failures_total{code="AADSTS700016",tenant="northwind"} 1`,
		`mdegate_token_state{code="",region="eu",state="ok",tenant="contoso"} 1`,
		`mdegate_token_state{code="AADSTS700016",region="global",state="failing",tenant="northwind"} 1`,
		`mdegate_token_state{code="",region="us",state="ok",tenant="fabrikam"} 1`,
		`mdegate_token_expiry_seconds{tenant="contoso"} `,
		`mdegate_token_consecutive_failures{tenant="northwind"} 1`,
		`mdegate_config_reloads_total{result="ok"} 1`,
		`mdegate_token_fetch_duration_seconds_count 3`,
		`mdegate_throttle_wait_seconds_count{family="machines"} 1`,
		`mdegate_upstream_attempts_total{family="machines"} 2`,
		`mdegate_upstream_attempts_total{family="alerts"} 4`, // contoso 2, fabrikam 2 (a failover); northwind's never left
		`mdegate_failovers_total{from="us",to="global"} 1`,
		`mdegate_region_rtt_seconds{region="eu"} `,
		`mdegate_region_healthy{region="eu"} 1`,
		`mdegate_region_healthy{region="us"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Raw paths never become labels.
	for _, bad := range []string{"contoso-m01", "nope", "/api/"} {
		if strings.Contains(body, bad) {
			t.Errorf("/metrics holds %q: a raw path leaked into a label", bad)
		}
	}
}
