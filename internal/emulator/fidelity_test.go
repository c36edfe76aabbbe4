package emulator

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Tests of the behaviour issue 17 asks of the emulator so that the gateway's tests can fail
// where Microsoft would: tokens per resource, audience per API, per-API quotas, OData,
// the routes tools call, machine actions and case-sensitive bodies.

const (
	xdrScope   = ResourceXDR + "/.default"
	graphScope = ResourceGraph + "/.default"
	altScope   = ResourceMDEAlt + "/.default"
)

// tokenFor gets a token for scope through MSAL.
func tokenFor(t *testing.T, e *Emulator, tenant, scope string) string {
	t.Helper()
	res, err := msalClient(t, e, tenant, secretCred(t, secret)).AcquireTokenByCredential(context.Background(), []string{scope})
	if err != nil {
		t.Fatalf("AcquireTokenByCredential(%s, %s): %v", tenant, scope, err)
	}
	return res.AccessToken
}

func TestTokensPerResource(t *testing.T) {
	t.Parallel()
	e := start(t, func(o *Options) {
		o.Tenants[1].GraphRoles = []string{"SecurityAlert.Read.All"}
	})
	e.SetRoles(contosoID, ResourceXDR, []string{"Incident.Read.All"})
	for _, tc := range []struct {
		tenant, scope, aud string
		roles              []string
	}{
		{contosoID, mdeScope, ResourceMDE, DefaultRoles},
		{contosoID, altScope, ResourceMDEAlt, DefaultRoles},
		{contosoID, xdrScope, ResourceXDR, []string{"Incident.Read.All"}},
		{contosoID, graphScope, ResourceGraph, DefaultGraphRoles},
		{fabrikamID, xdrScope, ResourceXDR, DefaultXDRRoles},
		{fabrikamID, graphScope, ResourceGraph, []string{"SecurityAlert.Read.All"}},
	} {
		t.Run(tc.tenant[:4]+" "+tc.scope, func(t *testing.T) {
			cl := claims(t, tokenFor(t, e, tc.tenant, tc.scope))
			if cl["aud"] != tc.aud || cl["ver"] != "1.0" || cl["iss"] != "https://sts.windows.net/"+tc.tenant+"/" {
				t.Errorf("aud %v ver %v iss %v, want %s 1.0 sts.windows.net", cl["aud"], cl["ver"], cl["iss"], tc.aud)
			}
			var got []string
			for _, r := range cl["roles"].([]any) {
				got = append(got, r.(string))
			}
			if strings.Join(got, ",") != strings.Join(tc.roles, ",") {
				t.Errorf("roles %v, want %v", got, tc.roles)
			}
		})
	}
}

func TestAudiencePerSurface(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	mde, alt := token(t, e, contosoID), tokenFor(t, e, contosoID, altScope)
	xdr, graph := tokenFor(t, e, contosoID, xdrScope), tokenFor(t, e, contosoID, graphScope)
	mdeURL, graphURL := e.RegionURL("global"), e.GraphURL()
	hunt := map[string]string{"Query": "DeviceInfo | take 1"}
	for _, tc := range []struct {
		name, method, url, tok string
		body                   any
		status                 int
		code, api, surface     string
	}{
		{"mde token on mde", "GET", mdeURL + "/api/machines", mde, nil, 200, "", "ListMachines", "mde"},
		{"alternative scope on mde", "GET", mdeURL + "/API/Machines", alt, nil, 200, "", "ListMachines", "mde"},
		{"xdr token on mde", "GET", mdeURL + "/api/machines", xdr, nil, 403, "Forbidden", "ListMachines", "mde"},
		{"mde token on xdr incidents", "GET", mdeURL + "/api/incidents", mde, nil, 403, "Forbidden", "ListIncidents", "xdr"},
		{"xdr token on xdr incidents", "GET", mdeURL + "/api/incidents", xdr, nil, 200, "", "ListIncidents", "xdr"},
		{"xdr hunting", "POST", mdeURL + "/api/advancedhunting/run", xdr, hunt, 200, "", "AdvancedHunting", "xdr"},
		{"mde token on xdr hunting", "POST", mdeURL + "/api/advancedhunting/run", mde, hunt, 403, "Forbidden", "AdvancedHunting", "xdr"},
		{"graph token on mde", "GET", mdeURL + "/api/alerts", graph, nil, 403, "Forbidden", "ListAlerts", "mde"},
		{"graph incidents", "GET", graphURL + "/v1.0/security/incidents", graph, nil, 200, "", "GraphListIncidents", "graph"},
		{"graph beta alerts", "GET", graphURL + "/beta/security/alerts_v2", graph, nil, 200, "", "GraphListAlerts", "graph"},
		{"graph hunting", "POST", graphURL + "/v1.0/security/runHuntingQuery", graph, hunt, 200, "", "GraphRunHuntingQuery", "graph"},
		// Graph answers 401 InvalidAuthenticationToken to a token for another audience.
		{"mde token on graph", "GET", graphURL + "/v1.0/security/incidents", mde, nil, 401, "InvalidAuthenticationToken", "GraphListIncidents", "graph"},
		{"graph outside security", "GET", graphURL + "/v1.0/users", graph, nil, 404, "NotFound", "", ""},
		{"graph routes not on mde host", "GET", mdeURL + "/v1.0/security/incidents", graph, nil, 404, "NotFound", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.ResetRequests()
			a := do(t, e, tc.method, tc.url, tc.tok, tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.code != "" {
				if got := a.json(t)["error"].(map[string]any)["code"]; got != tc.code {
					t.Errorf("code %v, want %s", got, tc.code)
				}
			}
			seen := e.Requests()
			if len(seen) != 1 {
				t.Fatalf("%d requests recorded", len(seen))
			}
			if seen[0].API != tc.api || seen[0].Surface != tc.surface {
				t.Errorf("recorded API %q surface %q, want %q %q", seen[0].API, seen[0].Surface, tc.api, tc.surface)
			}
			if tc.api != "" && seen[0].Audience != claims(t, tc.tok)["aud"] {
				t.Errorf("recorded audience %q, want the token's", seen[0].Audience)
			}
		})
	}
}

func TestPerAPILimits(t *testing.T) {
	t.Parallel()
	clock := NewClock(time.Time{})
	e := start(t, func(o *Options) {
		o.Now = clock.Now
		o.EnforceLimits = true
		o.Apps = append(o.Apps, App{ClientID: "other-app", Secret: secret})
	})
	tok := token(t, e, contosoID)
	base := e.RegionURL("global")
	pkg := do(t, e, "POST", base+"/api/machines/contoso-m01/collectInvestigationPackage", tok, map[string]string{"Comment": "c"})
	if pkg.status != 201 {
		t.Fatalf("collect = %d %s", pkg.status, pkg.body)
	}
	uri := base + "/api/machineactions/" + pkg.json(t)["id"].(string) + "/GetPackageUri"

	// GetPackageUri: 2/min, then MDE's 429 until the minute ends.
	for i := 0; i < 2; i++ {
		if a := do(t, e, "GET", uri, tok, nil); a.status != 404 {
			t.Fatalf("GetPackageUri %d = %d %s, want 404 (not collected yet)", i, a.status, a.body)
		}
	}
	clock.Advance(20 * time.Second)
	a := do(t, e, "GET", uri, tok, nil)
	want := `"code":"429","message":"API calls quota exceeded! Maximum allowed 2 per 00:01:00 for the key Destination+TenantID+AppID. You can send requests again in 40 seconds."`
	if a.status != 429 || a.header.Get("Retry-After") != "40" || !strings.Contains(string(a.body), want) {
		t.Fatalf("third GetPackageUri = %d Retry-After %q %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	// Each API counts on its own, and so does each app.
	if a := do(t, e, "GET", base+"/api/machines", tok, nil); a.status != 200 {
		t.Errorf("machines while GetPackageUri is throttled = %d", a.status)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"other-app"}, "client_secret": {secret}, "scope": {mdeScope}}
	if st, m := postToken(t, e, contosoID+"/oauth2/v2.0/token", form); st != 200 {
		t.Fatalf("other app token = %d", st)
	} else if a := do(t, e, "GET", uri, m["access_token"].(string), nil); a.status == 429 {
		t.Errorf("other app's GetPackageUri = 429: %s", a.body)
	}
	// The hour window: 120/h.
	clock.Advance(40 * time.Second)
	calls := 2
	for i := 0; i < 60 && calls < 120; i++ {
		if i > 0 {
			clock.Advance(time.Minute)
		}
		for j := 0; j < 2 && calls < 120; j++ {
			if a := do(t, e, "GET", uri, tok, nil); a.status == 429 {
				t.Fatalf("call %d in minute %d = 429 %s", calls+1, i, a.body)
			}
			calls++
		}
	}
	a = do(t, e, "GET", uri, tok, nil)
	if a.status != 429 || !strings.Contains(string(a.body), "Maximum allowed 120 per 01:00:00") || a.header.Get("Retry-After") != "60" {
		t.Fatalf("call 121 in the hour = %d %s", a.status, a.body)
	}

	// runliveresponse is 10/min whatever the case of the path.
	cmd := map[string]any{"Commands": []map[string]any{{"type": "RunScript", "params": []map[string]string{{"key": "ScriptName", "value": "x.ps1"}}}}, "Comment": "c"}
	got := map[int]int{}
	for i := 0; i < 11; i++ {
		got[do(t, e, "POST", base+"/API/machines/contoso-m02/runliveresponse", tok, cmd).status]++
	}
	if got[429] != 1 || got[201]+got[400] != 10 {
		t.Errorf("11 live responses in a minute: %v, want ten answered and one 429", got)
	}
	// SetAPILimit overrides; turning limits off stops every 429.
	e.SetAPILimit("ListMachines", 1, 0)
	clock.Advance(time.Hour)
	tok = token(t, e, contosoID) // the old one expired an hour ago
	do(t, e, "GET", base+"/api/machines", tok, nil)
	if a := do(t, e, "GET", base+"/api/machines", tok, nil); a.status != 429 {
		t.Errorf("ListMachines over an override of 1/min = %d", a.status)
	}
	e.SetEnforceLimits(false)
	if a := do(t, e, "GET", base+"/api/machines", tok, nil); a.status != 200 {
		t.Errorf("limits off = %d", a.status)
	}
}

func TestOData(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	tok := token(t, e, contosoID)
	ids := func(a answer) string {
		var out []string
		for _, v := range a.json(t)["value"].([]any) {
			m := v.(map[string]any)
			id, _ := m["id"].(string)
			if id == "" {
				id = strings.TrimSuffix(strings.Split(mustString(m["incidentId"]), ".")[0], "")
			}
			out = append(out, id)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		path, want string
	}{
		{"/api/machines?$filter=computerDnsName eq 'contoso-pc02.contoso.example'", "contoso-m02"},
		{"/api/machines?$filter=healthStatus eq 'Inactive'", ""},
		{"/api/machines?$filter=lastSeen gt 2024-05-01T08:04:00Z", "contoso-m06,contoso-m07"},
		{"/api/machines?$filter=healthStatus eq 'Active' and lastSeen gt 2024-05-01T08:04:00Z&$top=1", "contoso-m06"},
		{"/api/machines?$top=2&$skip=5", "contoso-m06,contoso-m07"},
		{"/api/alerts?$filter=severity eq 'High'", "contoso-a02,contoso-a04,contoso-a07"},
		{"/api/alerts?$filter=status eq 'New' and severity eq 'Low'", "contoso-a03"},
		{"/api/alerts?$expand=evidence&$top=1", "contoso-a01"},
		{"/api/machines/contoso-m03/alerts", "contoso-a03"},
		{"/api/users/user04/alerts", "contoso-a04"},
		{"/api/domains/contoso.example/machines?$top=10", "contoso-m01,contoso-m02,contoso-m03,contoso-m04,contoso-m05,contoso-m06,contoso-m07"},
		{"/api/machines/findbyip(ip='10.1.0.3',timestamp=2024-05-01T08:00:00Z)", "contoso-m03"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			a := get(t, e, strings.ReplaceAll(tc.path, " ", "%20"), tok)
			if a.status != 200 {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			if got := ids(a); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}

	// Paging: alerts and incidents page like machines, and the nextLink keeps the filter.
	a := get(t, e, "/api/alerts?$filter=status%20eq%20'New'", tok)
	next, _ := a.json(t)["@odata.nextLink"].(string)
	if ids(a) != "contoso-a01,contoso-a02,contoso-a03" || next != e.RegionURL("global")+"/api/alerts?$filter=status+eq+%27New%27&$skip=3" {
		t.Errorf("first page %s, nextLink %q", ids(a), next)
	}
	if a := do(t, e, "GET", next, tok, nil); ids(a) != "contoso-a04,contoso-a05,contoso-a06" {
		t.Errorf("second page %s", ids(a))
	}
	xdr := tokenFor(t, e, contosoID, xdrScope)
	if a := get(t, e, "/api/incidents", xdr); a.json(t)["@odata.nextLink"] == nil {
		t.Errorf("incidents without $top give no nextLink: %s", a.body)
	}
	if a := get(t, e, "/api/incidents?$top=101", xdr); a.status != 400 {
		t.Errorf("incidents $top=101 = %d, want 400 (page size is at most 100)", a.status)
	}

	// $select keeps only what was asked, in that order.
	if a := get(t, e, "/api/machines?$top=1&$select=id,computerDnsName", tok); !strings.Contains(string(a.body), `"value":[{"id":"contoso-m01","computerDnsName":"contoso-pc01.contoso.example"}]`) {
		t.Errorf("$select: %s", a.body)
	}

	// What the emulator cannot evaluate is a 400, never the first page (issue 17).
	for _, q := range []string{
		"$filter=startswith(computerDnsName,'contoso')",
		"$filter=healthStatus eq 'Active' or riskScore eq 'High'",
		"$filter=osVersion eq '10'",
		"$filter=computerDnsName gt 'a'",
		"$filter=lastSeen gt yesterday",
		"$filter=computerDnsName eq contoso",
		"$orderby=lastSeen desc",
		"$select=nope",
		"$top=abc",
	} {
		t.Run(q, func(t *testing.T) {
			a := get(t, e, "/api/machines?"+strings.ReplaceAll(q, " ", "%20"), tok)
			if a.status != 400 || a.json(t)["error"].(map[string]any)["code"] != "ODataError" {
				t.Errorf("status %d: %s", a.status, a.body)
			}
		})
	}
}

func mustString(v any) string {
	b := mustJSON(v)
	return strings.Trim(string(b), `"`)
}

func TestRoutesToolsCall(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	tok := token(t, e, contosoID)
	sha := strings.Repeat("ab", 20)
	for _, p := range []string{
		"/api/machines/contoso-m02/vulnerabilities",
		"/api/machines/contoso-m02/software",
		"/api/machines/contoso-m02/logonusers",
		"/api/files/" + sha,
		"/api/ips/10.1.0.2/stats",
		"/api/vulnerabilities",
		"/api/Software",
		"/api/recommendations",
		"/api/deviceavinfo",
		"/api/machineactions",
		"/api/indicators?$filter=indicatorType%20eq%20'DomainName'",
		"/API/V1.0/MACHINES/contoso-m01",
	} {
		if a := get(t, e, p, tok); a.status != 200 {
			t.Errorf("GET %s = %d %s", p, a.status, a.body)
		}
	}
	if a := get(t, e, "/api/machines/findbyip(ip='10.1.0.3')", tok); a.status != 400 {
		t.Errorf("findbyip without timestamp = %d", a.status)
	}

	// Graph: @odata.type on each item, nextLink on the Graph link base.
	graph := tokenFor(t, e, contosoID, graphScope)
	e.SetGraphLinkBase("https://graph.microsoft.com")
	a := do(t, e, "GET", e.GraphURL()+"/v1.0/security/alerts_v2?$top=2", graph, nil)
	m := a.json(t)
	items := m["value"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["@odata.type"] != "#microsoft.graph.security.alert" {
		t.Errorf("alerts_v2: %s", a.body)
	}
	if next := m["@odata.nextLink"]; next != "https://graph.microsoft.com/v1.0/security/alerts_v2?$top=2&$skip=2" {
		t.Errorf("Graph nextLink %v", next)
	}
	a = do(t, e, "GET", e.GraphURL()+"/v1.0/security/incidents?$filter=severity%20eq%20'high'", graph, nil)
	if inc := a.json(t)["value"].([]any); len(inc) != 3 || inc[0].(map[string]any)["@odata.type"] != "#microsoft.graph.security.incident" {
		t.Errorf("Graph incidents: %s", a.body)
	}

	// batchUpdate changes what alerts and filters show; indicators/import stores each.
	if a := do(t, e, "POST", e.RegionURL("global")+"/api/alerts/batchUpdate", tok, map[string]any{"alertIds": []string{"contoso-a01"}, "status": "Resolved"}); a.status != 200 {
		t.Fatalf("batchUpdate = %d %s", a.status, a.body)
	}
	if a := get(t, e, "/api/alerts?$filter=status%20eq%20'Resolved'", tok); !strings.Contains(string(a.body), `"id":"contoso-a01"`) {
		t.Errorf("resolved alerts: %s", a.body)
	}
	imp := map[string]any{"Indicators": []map[string]any{
		{"indicatorValue": "evil.example", "indicatorType": "DomainName", "action": "Block"},
		{"IndicatorValue": "x", "IndicatorType": "DomainName"},
	}}
	a = do(t, e, "POST", e.RegionURL("global")+"/api/indicators/import", tok, imp)
	if a.status != 200 || !strings.Contains(string(a.body), `"isFailed":false`) || !strings.Contains(string(a.body), `"isFailed":true`) {
		t.Errorf("import = %d %s", a.status, a.body)
	}
}

func TestMachineActionsProgress(t *testing.T) {
	t.Parallel()
	clock := NewClock(time.Time{})
	e := start(t, func(o *Options) { o.Now = clock.Now; o.ActionStep = time.Minute })
	tok := token(t, e, contosoID)
	base := e.RegionURL("global")
	status := func(id string) string {
		return do(t, e, "GET", base+"/api/machineactions/"+id, tok, nil).json(t)["status"].(string)
	}
	a := do(t, e, "POST", base+"/api/machines/contoso-m01/collectInvestigationPackage", tok, map[string]string{"Comment": "c"})
	id := a.json(t)["id"].(string)
	if a.status != 201 || status(id) != "Pending" {
		t.Fatalf("collect = %d %s", a.status, a.body)
	}
	if a := do(t, e, "POST", base+"/api/machines/contoso-m01/collectInvestigationPackage", tok, map[string]string{"Comment": "c"}); a.status != 400 || !strings.Contains(string(a.body), "ActiveRequestAlreadyExists") {
		t.Errorf("second collection = %d %s", a.status, a.body)
	}
	if a := do(t, e, "GET", base+"/api/machineactions/"+id+"/GetPackageUri", tok, nil); a.status != 404 {
		t.Errorf("GetPackageUri while pending = %d", a.status)
	}
	clock.Advance(time.Minute)
	if s := status(id); s != "InProgress" {
		t.Errorf("after one step: %s", s)
	}
	clock.Advance(time.Minute)
	if s := status(id); s != "Succeeded" {
		t.Errorf("after two steps: %s", s)
	}
	if a := do(t, e, "GET", base+"/api/machineactions/"+id+"/GetPackageUri", tok, nil); a.status != 200 || a.json(t)["value"] != ActionPackageURL {
		t.Errorf("GetPackageUri when done = %d %s", a.status, a.body)
	}
	if a := do(t, e, "POST", base+"/api/machineactions/"+id+"/cancel", tok, map[string]string{"Comment": "c"}); a.status != 400 {
		t.Errorf("cancel of a finished action = %d", a.status)
	}

	// Cancel an unfinished scan.
	a = do(t, e, "POST", base+"/api/machines/contoso-m02/runAntiVirusScan", tok, map[string]string{"Comment": "c", "ScanType": "Quick"})
	scan := a.json(t)["id"].(string)
	if a := do(t, e, "POST", base+"/api/machineactions/"+scan+"/cancel", tok, map[string]string{"Comment": "stop"}); a.status != 200 || status(scan) != "Cancelled" {
		t.Errorf("cancel = %d %s", a.status, a.body)
	}

	// Live response: poll the action, then fetch the result link of command 0.
	cmd := map[string]any{"Commands": []map[string]any{{"type": "GetFile", "params": []map[string]string{{"key": "Path", "value": `C:\x.txt`}}}}, "Comment": "c"}
	a = do(t, e, "POST", base+"/api/machines/contoso-m03/runliveresponse", tok, cmd)
	if a.status != 201 {
		t.Fatalf("runliveresponse = %d %s", a.status, a.body)
	}
	lr := a.json(t)["id"].(string)
	result := base + "/api/machineactions/" + lr + "/GetLiveResponseResultDownloadLink(index=0)"
	if a := do(t, e, "GET", result, tok, nil); a.status != 404 {
		t.Errorf("result while pending = %d", a.status)
	}
	if a := do(t, e, "POST", base+"/api/machines/contoso-m03/runliveresponse", tok, cmd); a.status != 400 {
		t.Errorf("second live response = %d", a.status)
	}
	clock.Advance(2 * time.Minute)
	got := do(t, e, "GET", base+"/api/machineactions/"+lr, tok, nil).json(t)
	if got["status"] != "Succeeded" || got["commands"].([]any)[0].(map[string]any)["commandStatus"] != "Completed" {
		t.Errorf("live response action: %v", got)
	}
	if a := do(t, e, "GET", result, tok, nil); a.status != 200 || a.json(t)["value"] != ActionPackageURL {
		t.Errorf("result = %d %s", a.status, a.body)
	}
}

// MDE reads request bodies case-sensitively: a body that would work against a lenient
// emulator must fail here as it fails against Microsoft (issue 17).
func TestBodiesAreCaseSensitive(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	tok := token(t, e, contosoID)
	base := e.RegionURL("global")
	for _, tc := range []struct {
		path   string
		body   string
		status int
	}{
		{"/api/machines/contoso-m01/isolate", `{"comment":"x","isolationType":"Full"}`, 400},
		{"/api/machines/contoso-m01/isolate", `{"Comment":"x","isolationType":"Selective"}`, 400},
		{"/api/machines/contoso-m01/isolate", `{"Comment":"x","IsolationType":"Full"}`, 201},
		{"/api/machines/contoso-m01/isolate", `{"Comment":"x","Extra":1}`, 201}, // unknown: ignored
		{"/api/advancedqueries/run", `{"query":"DeviceInfo"}`, 400},
		{"/api/advancedqueries/run", `{"Query":"DeviceInfo"}`, 200},
		{"/api/indicators", `{"IndicatorValue":"a.example","IndicatorType":"DomainName"}`, 400},
		{"/api/indicators", `{"indicatorValue":"a.example","indicatorType":"DomainName"}`, 200},
		{"/api/alerts/batchUpdate", `{"AlertIds":["contoso-a01"]}`, 400},
		{"/api/indicators/import", `{"indicators":[]}`, 400},
	} {
		t.Run(tc.body, func(t *testing.T) {
			a := do(t, e, http.MethodPost, base+tc.path, tok, []byte(tc.body))
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status == 400 && a.json(t)["error"].(map[string]any)["code"] != "InvalidRequestBody" {
				t.Errorf("code: %s", a.body)
			}
		})
	}
}

// Regression: an unknown machine action id deadlocked the emulator (findAction answered 404
// while holding the lock that recording the status takes).
func TestUnknownMachineActionIs404(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	tok := token(t, e, contosoID)
	base := e.RegionURL("global")
	for _, p := range []string{"/api/machineactions/nope", "/api/machineactions/nope/GetPackageUri"} {
		if a := do(t, e, "GET", base+p, tok, nil); a.status != 404 {
			t.Errorf("GET %s = %d %s, want 404", p, a.status, a.body)
		}
	}
}
