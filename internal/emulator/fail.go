package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// FailRegion makes every API request the named region receives from now on answer status
// (e.g. 502, 503 or 504) in MDE's error shape, after the region's latency, as a region whose
// front end is up but whose service is not. The request is still recorded (with the tenant of
// a valid token, so tests can tell whose it was) and nothing it asks for is done: an
// isolation is not run. Status 0 serves normally again (the default). Unknown regions are
// ignored.
func (e *Emulator) FailRegion(name string, status int) {
	e.mu.Lock()
	if r := e.regions[name]; r != nil {
		r.fail = status
	}
	e.mu.Unlock()
	if status != 0 {
		e.logf("emulator: region %s answers %d", name, status)
	}
}

// serveFailure answers status for a region set by FailRegion.
func (e *Emulator) serveFailure(w http.ResponseWriter, r *http.Request, seen *Seen, status int) {
	if t, claims := e.authenticate(r); t != nil {
		e.mu.Lock()
		seen.TenantID, seen.AppID = t.id, claims.AppID
		e.mu.Unlock()
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeAPIError(w, status, strings.ReplaceAll(http.StatusText(status), " ", ""), fmt.Sprintf("The service answered %d (injected by FailRegion).", status))
}
