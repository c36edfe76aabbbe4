package proxy

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestClassifyAPIs(t *testing.T) { // not parallel: AllocsPerRun
	tb := newAPITable(nil, nil, 0)
	tests := []struct{ method, path, want string }{
		{"GET", "/api/alerts", "list_alerts"},
		{"GET", "/api/v1.0/Alerts/da637", "get_alert"},
		{"PATCH", "/API/V1.0/alerts/da637", "update_alert"},
		{"POST", "/api/alerts/batchUpdate", "batch_update_alerts"},
		{"POST", "/api/alerts/createalertbyreference", "create_alert_by_reference"},
		{"GET", "/api/machines", "list_machines"},
		{"GET", "/api/machines/", "list_machines"},
		{"POST", "/api/machines/contoso-m01/isolate", "isolate_machine"},
		// Regression: the /api prefix was stripped case-sensitively, so Microsoft's own
		// spelling /API/machines/{id}/runliveresponse fell into "other" at 100/min.
		{"POST", "/API/machines/m1/runliveresponse", "run_live_response"},
		{"POST", "/Api/V1.0/Machines/m1/RunLiveResponse", "run_live_response"},
		{"POST", "/API/advancedqueries/run", "advanced_queries_run"},
		{"GET", "/api/machines/findbyip(ip='10.1.1.1',timestamp=2024-01-01T00:00:00Z)", "find_machines_by_ip"},
		{"GET", "/api/machines/m1/vulnerabilities", "machine_vulnerabilities"},
		{"POST", "/api/machines/m1/startInvestigation", "start_investigation"},
		{"GET", "/api/machineactions/a1/GetPackageUri", "get_package_uri"},
		{"GET", "/api/machineactions/a1/GetLiveResponseResultDownloadLink(index=0)", "get_live_response_result"},
		{"GET", "/api/machines/SoftwareInventoryByMachine", "software_inventory_by_machine"},
		{"GET", "/api/machines/FirmwareHardwareInventoryByMachine", "json_export_other"},
		{"GET", "/api/machines/SoftwareVulnerabilitiesExport", "software_vulnerabilities_export"},
		{"GET", "/api/machines/SomethingNewExport", "file_export_other"},
		{"POST", "/api/indicators/import", "import_indicators"},
		{"POST", "/api/indicators/BatchDelete", "batch_delete_indicators"},
		{"GET", "/api/deviceavinfo", "device_av_info"},
		{"GET", "/api/Software", "list_software"},
		{"GET", "/api/incidents", "xdr_list_incidents"},
		{"GET", "/api/incidents/42", "xdr_get_incident"},
		{"POST", "/api/advancedhunting/run", "xdr_advanced_hunting_run"},
		{"GET", "/v1.0/security/incidents", "graph_list_incidents"},
		{"GET", "/beta/Security/alerts_v2/abc", "graph_get_alert"},
		{"POST", "/v1.0/security/runHuntingQuery", "graph_run_hunting_query"},
		{"GET", "/v1.0/security/secureScores", "graph_other"},
		{"GET", "/api/somethingnew", "other"},
		{"GET", "/api/machines/m1/somethingnew", "other"},
		{"DELETE", "/api/machines/m1", "other"},
		{"GET", "/api", "other"},
		{"GET", "/apix/machines", "other"},
	}
	for _, tt := range tests {
		if got := tb.classify(tt.method, tt.path).Name; got != tt.want {
			t.Errorf("classify(%s %q) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		tb.classify("GET", "/api/v1.0/Machines/SoftwareInventoryByMachine")
		tb.classify("POST", "/API/machines/m1/runliveresponse")
		tb.classify("GET", "/v1.0/security/incidents/1")
	}); n != 0 {
		t.Errorf("classify allocates %v times, want 0", n)
	}
}

// The documented figures of the issue, as the table holds them, and how overrides apply.
func TestAPILimits(t *testing.T) {
	t.Parallel()
	tb := newAPITable(map[string]Limits{"machineactions": {PerMinute: 7}},
		map[string]Limits{"get_package_uri": {PerHour: 60, Timeout: time.Second}}, 5*time.Minute)
	tests := []struct {
		name    string
		minute  int
		hour    int
		surface Surface
		timeout time.Duration
		replay  bool
	}{
		{"get_package_uri", 7, 60, SurfaceMDE, time.Second, false}, // family, then API override
		{"get_machine_action", 7, 1500, SurfaceMDE, 5 * time.Minute, false},
		{"start_investigation", 0, 50, SurfaceMDE, 5 * time.Minute, false},
		{"create_alert_by_reference", 15, 0, SurfaceMDE, 5 * time.Minute, false},
		{"batch_delete_indicators", 30, 1500, SurfaceMDE, 5 * time.Minute, false},
		{"machine_vulnerabilities", 50, 1500, SurfaceMDE, 5 * time.Minute, false},
		{"device_av_info", 30, 1000, SurfaceMDE, 5 * time.Minute, false},
		{"run_live_response", 10, 0, SurfaceMDE, 5 * time.Minute, false},
		{"advanced_queries_run", 45, 1500, SurfaceMDE, 4 * time.Minute, true},
		{"batch_update_alerts", 10, 500, SurfaceMDE, 5 * time.Minute, false},
		{"import_indicators", 30, 0, SurfaceMDE, 5 * time.Minute, false},
		{"software_inventory_by_machine", 30, 1000, SurfaceMDE, 5 * time.Minute, false},
		{"software_inventory_export", 5, 20, SurfaceMDE, 5 * time.Minute, false},
		{"xdr_list_incidents", 50, 1500, SurfaceXDR, 5 * time.Minute, false},
		{"xdr_get_incident", 100, 1500, SurfaceXDR, 5 * time.Minute, false},
		{"graph_run_hunting_query", 45, 1500, SurfaceGraph, 4 * time.Minute, true},
		{"other", 100, 1500, SurfaceMDE, 5 * time.Minute, false},
	}
	for _, tt := range tests {
		a := tb.named(tt.name)
		if a == nil {
			t.Errorf("%s: not in the table", tt.name)
			continue
		}
		if a.Limits.PerMinute != tt.minute || a.Limits.PerHour != tt.hour || a.Limits.Timeout != tt.timeout ||
			a.Surface != tt.surface || a.replayable(http.MethodPost) != tt.replay {
			t.Errorf("%s: %+v %v replay %v, want %d/min %d/h %v %v replay %v", tt.name, a.Limits, a.Surface, a.Replay,
				tt.minute, tt.hour, tt.timeout, tt.surface, tt.replay)
		}
	}
	if tb.named("isolate_machine").replayable(http.MethodPost) {
		t.Error("an isolation is replayable")
	}
}

func TestAPITableNames(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, a := range APIs() {
		if seen[a.Name] {
			t.Errorf("API %s listed twice", a.Name)
		}
		seen[a.Name] = true
		if a.Family == "" || familyIndex(a.Family).String() != a.Family {
			t.Errorf("API %s: family %q", a.Name, a.Family)
		}
	}
}

// Each API counts on its own: polling machines at its limit does not hold an isolation back.
func TestQuotaPerAPI(t *testing.T) {
	t.Parallel()
	tb := newAPITable(nil, nil, 0)
	now := time.Unix(1_800_000_000, 0)
	l := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"t1"}, Now: func() time.Time { return now }})
	ctx := context.Background()
	list := tb.classify("GET", "/api/machines")
	for range list.Limits.PerMinute {
		if _, err := l.Take(ctx, "t1", list, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Take(ctx, "t1", list, 0); err == nil {
		t.Fatal("list_machines beyond its limit was admitted")
	}
	if _, err := l.Take(ctx, "t1", tb.classify("POST", "/api/machines/m1/isolate"), 0); err != nil {
		t.Errorf("isolate after list_machines used its quota: %v", err)
	}
}

// A reload's limiter continues the old one's logs for an API whose limits did not change, and
// starts afresh for one whose limits did (issue 17: every reload granted a new burst).
func TestQuotaCarry(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	ctx := context.Background()
	old := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"t1", "t2"}, Now: clock})
	oldTable := newAPITable(nil, nil, 0)
	for _, name := range []string{"get_package_uri", "run_live_response"} {
		a := oldTable.named(name)
		for range a.Limits.PerMinute {
			if _, err := old.Take(ctx, "t1", a, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	next := NewMemoryLimiter(MemoryLimiterOptions{TenantIDs: []string{"t1", "t3"}, Now: clock})
	CarryQuota(next, old)
	newTable := newAPITable(nil, map[string]Limits{"run_live_response": {PerMinute: 20}}, 0)
	if _, err := next.Take(ctx, "t1", newTable.named("get_package_uri"), 0); err == nil {
		t.Error("get_package_uri: the new generation granted a fresh burst")
	}
	if _, err := next.Take(ctx, "t1", newTable.named("run_live_response"), 0); err != nil {
		t.Errorf("run_live_response, limits changed: %v, want a fresh log", err)
	}
	if _, err := next.Take(ctx, "t3", newTable.named("get_package_uri"), 0); err != nil {
		t.Errorf("a new tenant: %v", err)
	}
	// The old generation, still draining, counts against the same logs.
	if _, err := old.Take(ctx, "t1", oldTable.named("get_package_uri"), 0); err == nil {
		t.Error("the old generation admitted beyond the shared limit")
	}
}

func BenchmarkClassify(b *testing.B) {
	tb := newAPITable(nil, nil, 0)
	paths := []struct{ m, p string }{
		{"GET", "/api/machines"},
		{"POST", "/API/machines/0123456789abcdef0123456789abcdef01234567/runliveresponse"},
		{"GET", "/api/v1.0/Machines/SoftwareInventoryByMachine"},
		{"GET", "/api/machineactions/a1/GetPackageUri"},
		{"GET", "/v1.0/security/incidents/42"},
		{"GET", "/api/somethingnew/x"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := paths[i%len(paths)]
		tb.classify(p.m, p.p)
	}
}
