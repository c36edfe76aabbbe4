package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/proxy"
)

// Issue 17's "done when", through the real gateway against the emulator with MDE's
// documented per-API limits enforced. The gateway's quota minute is stretched to an hour
// (gatewayOptions.QuotaMinute): it then admits no more than the emulator's minute allows
// however slow the machine is, and a max_wait far below that hour makes every call over
// the limit the gateway's immediate 429 instead of a wait. Nothing waits a real minute.

const issue17Extra = "limits:\n  max_wait: 200ms\n"

// startLimitedGateway is the gateway (quota minute an hour, extra YAML) in front of an
// emulator enforcing the documented limits.
func startLimitedGateway(t *testing.T, extra string) *testGateway {
	t.Helper()
	secret := "test-secret~" + strings.Repeat("q7", 8)
	emu := startEmulator(t, secret, func(o *emulator.Options) { o.EnforceLimits = true })
	return serveGatewayQuota(t, emu, secret, func(ca string) string {
		return demoYAML(emu, "127.0.0.1:0", secret, ca, extra)
	}, time.Hour)
}

// seenAPI counts the requests the emulator received for its API name, and fails the test on
// any it answered 429: the gateway must keep every caller within MDE's limits.
func seenAPI(t *testing.T, emu *emulator.Emulator, api string) int {
	t.Helper()
	n := 0
	for _, s := range emu.Requests() {
		if s.Status == http.StatusTooManyRequests {
			t.Errorf("MDE answered 429 to %s %s: the gateway let too many through", s.Method, s.Path)
		}
		if s.API == api {
			n++
		}
	}
	return n
}

// wantGateway429 checks that the answer is the gateway's own refusal.
func wantGateway429(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: %s (Retry-After %q), want the gateway's 429", what, resp.Status, resp.Header.Get("Retry-After"))
	}
	if code, _, _ := mdeError(t, body); code != "TooManyRequests" {
		t.Errorf("%s: code %q, want TooManyRequests", what, code)
	}
}

// Regression (issue 17): /API/ in capitals fell into "other" at 100/min; live response is
// 10/min per tenant.
func TestLiveResponseShapedPerAPI(t *testing.T) {
	t.Parallel()
	g := startLimitedGateway(t, issue17Extra)
	body := `{"Commands":[{"type":"RunScript","params":[{"key":"ScriptName","value":"a.ps1"}]}],"Comment":"t"}`
	for i := range 10 {
		resp, b := g.do(t, "POST", fmt.Sprintf("/API/machines/contoso-m%02d/runliveresponse", i%7+1), "contoso", strings.NewReader(body))
		if resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("call %d: 429 within the limit: %s", i+1, b)
		}
	}
	resp, b := g.do(t, "POST", "/API/machines/contoso-m01/runliveresponse", "contoso", strings.NewReader(body))
	wantGateway429(t, "the 11th live response", resp, b)
	if n := seenAPI(t, g.emu, "RunLiveResponse"); n != 10 {
		t.Errorf("MDE saw %d live responses, want 10", n)
	}
	// Another tenant has its own quota.
	if resp, b := g.do(t, "POST", "/api/machines/fabrikam-m01/runliveresponse", "fabrikam", strings.NewReader(body)); resp.StatusCode == http.StatusTooManyRequests {
		t.Errorf("fabrikam's first live response: 429 %s", b)
	}
}

// Regression (issue 17): GetPackageUri is 2/min; the family's 100/min let MDE answer 429.
func TestGetPackageURIThirdCallRefused(t *testing.T) {
	t.Parallel()
	g := startLimitedGateway(t, issue17Extra)
	for i := range 2 {
		if resp, b := g.do(t, "GET", "/api/machineactions/a1/GetPackageUri", "contoso", nil); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("call %d: 429 within the limit: %s", i+1, b)
		}
	}
	resp, b := g.do(t, "GET", "/api/machineactions/a1/GetPackageUri", "contoso", nil)
	wantGateway429(t, "the third GetPackageUri", resp, b)
	if n := seenAPI(t, g.emu, "GetPackageUri"); n != 2 {
		t.Errorf("MDE saw %d GetPackageUri calls, want 2", n)
	}
}

// Regression (issue 17): quota was counted per family, so device polling at its limit made
// an isolation wait (or refused it). Each API counts on its own, as MDE does.
func TestPollingDoesNotDelayIsolate(t *testing.T) {
	t.Parallel()
	// The machines family at 3/min: every API of it gets 3, each its own.
	g := startLimitedGateway(t, issue17Extra+"  families:\n    machines: {per_minute: 3}\n")
	for i := range 3 {
		if resp, b := g.do(t, "GET", "/api/machines", "contoso", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("poll %d: %s %s", i+1, resp.Status, b)
		}
	}
	resp, b := g.do(t, "GET", "/api/machines", "contoso", nil)
	wantGateway429(t, "the 4th poll", resp, b)
	resp, b = g.do(t, "POST", "/api/machines/contoso-m01/isolate", "contoso", strings.NewReader(`{"Comment":"incident 42","IsolationType":"Full"}`))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("isolate after polling at the limit: %s %s, want it through at once", resp.Status, b)
	}
	if n := seenAPI(t, g.emu, "IsolateMachine"); n != 1 {
		t.Errorf("MDE saw %d isolations, want 1", n)
	}
}

// Each surface gets its own token: XDR incidents the api.security.microsoft.com audience,
// Graph security the graph.microsoft.com one (on the Graph host), MDE its own.
func TestSurfacesGetTheirTokens(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	for _, c := range []struct{ path, api, region, audience string }{
		{"/api/machines", "ListMachines", "eu", emulator.ResourceMDE},
		{"/api/incidents", "ListIncidents", "eu", emulator.ResourceXDR},
		{"/v1.0/security/incidents", "GraphListIncidents", "graph", emulator.ResourceGraph},
	} {
		g.emu.ResetRequests()
		resp, b := g.do(t, "GET", c.path, "contoso", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s %s", c.path, resp.Status, b)
			continue
		}
		seen := g.emu.Requests()
		if len(seen) != 1 {
			t.Errorf("%s: the emulator saw %d requests, want 1", c.path, len(seen))
			continue
		}
		if s := seen[0]; s.API != c.api || s.Region != c.region || s.Audience != c.audience || s.TenantID != demoContoso {
			t.Errorf("%s reached %s on %q with aud %q (tid %s); want %s on %q with aud %q (tid %s)",
				c.path, s.API, s.Region, s.Audience, s.TenantID, c.api, c.region, c.audience, demoContoso)
		}
	}
	// /readyz shows each resource the tenant used, MDE's first; the MDE fields stay.
	for _, tn := range readyz(t, g)["tenants"].([]any) {
		tm := tn.(map[string]any)
		if tm["name"] != "contoso" {
			continue
		}
		var got []string
		for _, r := range tm["resources"].([]any) {
			rm := r.(map[string]any)
			got = append(got, fmt.Sprint(rm["resource"], " ", rm["token"]))
		}
		want := []string{emulator.ResourceMDE + " ok", emulator.ResourceXDR + " ok", emulator.ResourceGraph + " ok"} // the others sorted
		if strings.Join(got, ", ") != strings.Join(want, ", ") || tm["token"] != "ok" {
			t.Errorf("/readyz contoso: token %v, resources %v; want ok and %v", tm["token"], got, want)
		}
	}
}

// Regression (issue 17): links on api-{us,eu,uk}.security.microsoft.com were not rewritten,
// so a tool following one left the gateway.
func TestRegionalSecurityHostLinkRewritten(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	g.emu.SetNextLinkBase("https://api-eu.security.microsoft.com")
	resp, b := g.do(t, "GET", "/api/machines", "contoso", nil) // 7 machines, pages of 3
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s", resp.Status, b)
	}
	var page struct {
		NextLink string `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(page.NextLink, g.URL+"/") {
		t.Fatalf("nextLink %q, want it on the gateway %s", page.NextLink, g.URL)
	}
	if resp, b := g.do(t, "GET", strings.TrimPrefix(page.NextLink, g.URL), "contoso", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("following the rewritten link: %s %s", resp.Status, b)
	}
}

// Regression (issue 17): every reload built a fresh limiter, granting a new burst against
// MDE's limits. Ten reloads in a minute let no more than the limit through.
func TestReloadsKeepQuota(t *testing.T) {
	t.Parallel()
	g := startLimitedGateway(t, issue17Extra)
	refused := 0
	for i := range 11 {
		resp, b := g.do(t, "GET", "/api/machineactions/a1/GetPackageUri", "contoso", nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			wantGateway429(t, fmt.Sprintf("call %d", i+1), resp, b)
			refused++
		}
		if i < 10 && !g.reload(t) {
			t.Fatalf("reload %d refused:\n%s", i+1, g.logs)
		}
	}
	if n := seenAPI(t, g.emu, "GetPackageUri"); n != 2 || refused != 9 {
		t.Errorf("MDE saw %d GetPackageUri calls and the gateway refused %d over 10 reloads; want 2 and 9", n, refused)
	}
	// A reload that changes another API's limits keeps this one's count.
	g.writeConfig(t, "127.0.0.1:0", issue17Extra+"  apis:\n    run_live_response: {per_minute: 5}\n")
	if !g.reload(t) {
		t.Fatalf("reload with limits.apis refused:\n%s", g.logs)
	}
	resp, b := g.do(t, "GET", "/api/machineactions/a1/GetPackageUri", "contoso", nil)
	wantGateway429(t, "after a reload changing another API", resp, b)
	if n := seenAPI(t, g.emu, "GetPackageUri"); n != 2 {
		t.Errorf("MDE saw %d GetPackageUri calls, want 2", n)
	}
}

// Regression (issue 17): a $filter the emulator could not evaluate used to be ignored, so a
// test got the first page instead of MDE's 400; it is a 400 through the gateway.
func TestUnevaluableFilterIs400(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	resp, b := g.do(t, "GET", "/api/machines?$filter=startswith(computerDnsName,'contoso')", "contoso", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("%s %s, want 400", resp.Status, b)
	}
	if code, _, _ := mdeError(t, b); code == "" {
		t.Errorf("no error code in %s", b)
	}
}

// The gateway's API table and the emulator's cannot drift: for every route both know, the
// same surface and the same documented limits.
func TestAPITableMatchesEmulator(t *testing.T) {
	t.Parallel()
	known := 0
	for _, e := range emulator.APIs() {
		path := concretePath(e.Path)
		if path == "/api/" {
			continue // the emulator's service index
		}
		a := proxy.APIOf(e.Method, path)
		if a.Name == "other" || a.Name == "graph_other" {
			t.Logf("%s %s (%s): not in the gateway's table", e.Method, e.Path, e.Name)
			continue
		}
		known++
		if a.Surface.String() != e.Surface || a.Limits.PerMinute != e.PerMinute || a.Limits.PerHour != e.PerHour {
			t.Errorf("%s %s: gateway %s %s %d/min %d/h, emulator %s %s %d/min %d/h",
				e.Method, e.Path, a.Name, a.Surface, a.Limits.PerMinute, a.Limits.PerHour, e.Name, e.Surface, e.PerMinute, e.PerHour)
		}
	}
	if known < 30 {
		t.Errorf("only %d of the emulator's routes are in the gateway's table", known)
	}
}

// concretePath turns an emulator template into a request path: * is one segment, name(* an
// OData function call.
func concretePath(tmpl string) string {
	segs := strings.Split(tmpl, "/")
	for i, s := range segs {
		switch {
		case s == "*":
			segs[i] = "x1"
		case strings.HasSuffix(s, "(*"):
			segs[i] = strings.TrimSuffix(s, "*") + "x='1')"
		}
	}
	return strings.Join(segs, "/")
}
