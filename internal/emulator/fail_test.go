package emulator

import (
	"net/http"
	"testing"
)

// FailRegion answers the status asked for in MDE's error shape, records the request with its
// tenant, does nothing the request asked, and 0 restores normal service; other regions are
// not affected.
func TestFailRegion(t *testing.T) {
	e := start(t, nil)
	tok := token(t, e, contosoID)
	for _, status := range []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		e.FailRegion("eu", status)
		e.ResetRequests()
		a := do(t, e, http.MethodPost, e.RegionURL("eu")+"/api/machines/contoso-m01/isolate", tok, map[string]string{"Comment": "c"})
		if a.status != status {
			t.Errorf("FailRegion(%d): got %d %s", status, a.status, a.body)
		}
		if code := a.json(t)["error"].(map[string]any)["code"]; code == "" {
			t.Errorf("FailRegion(%d): no error code in %s", status, a.body)
		}
		if seen := e.Requests(); len(seen) != 1 || seen[0].TenantID != contosoID || seen[0].Status != status {
			t.Errorf("FailRegion(%d): recorded %+v", status, seen)
		}
		if a := get(t, e, "/api/alerts", tok); a.status != 200 {
			t.Errorf("global while eu fails: %d", a.status)
		}
	}
	if n := e.Isolations(contosoID); n != 0 {
		t.Errorf("%d isolations ran on a failing region", n)
	}
	e.FailRegion("eu", 0)
	if a := do(t, e, http.MethodGet, e.RegionURL("eu")+"/api/alerts", tok, nil); a.status != 200 {
		t.Errorf("after FailRegion(0): %d", a.status)
	}
	e.FailRegion("nowhere", 503) // ignored
}
