package main

import (
	"errors"
	"strings"
	"testing"
)

// apisRow returns the fields of the named API's row in `mdegate apis` output.
func apisRow(t *testing.T, out, name string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	t.Fatalf("no row %s in:\n%s", name, out)
	return nil
}

// `mdegate apis` prints the table with the documented figures, and with -config the limits
// that file sets (limits.families, limits.apis, limits.upstream_timeout).
func TestAPIsCommand(t *testing.T) {
	out, stderr, err := runCmd(t, "apis")
	if err != nil {
		t.Fatalf("err %v: %s", err, stderr)
	}
	for name, want := range map[string]string{
		"run_live_response":       "run_live_response POST /api/machines/{id}/runliveresponse mde liveresponse 10 - no 5m",
		"get_package_uri":         "get_package_uri GET /api/machineactions/{id}/GetPackageUri mde machineactions 2 120 yes 5m",
		"advanced_queries_run":    "advanced_queries_run POST /api/advancedqueries/run mde advancedqueries 45 1500 yes 4m",
		"xdr_list_incidents":      "xdr_list_incidents GET /api/incidents xdr incidents 50 1500 yes 5m",
		"graph_run_hunting_query": "graph_run_hunting_query POST /{v1.0,beta}/security/runHuntingQuery graph graph_security 45 1500 yes 4m",
	} {
		if got := strings.Join(apisRow(t, out, name), " "); got != want {
			t.Errorf("row %q,\nwant %q", got, want)
		}
	}

	_, cfg := onboarding(t, "limits:\n  upstream_timeout: 30s\n  families:\n    machineactions: {per_minute: 50}\n  apis:\n    get_package_uri: {per_minute: 1, per_hour: -1, timeout: 2m}\n")
	out, stderr, err = runCmd(t, "apis", "-config", cfg)
	if err != nil {
		t.Fatalf("err %v: %s", err, stderr)
	}
	for name, want := range map[string]string{
		"get_package_uri":      "get_package_uri GET /api/machineactions/{id}/GetPackageUri mde machineactions 1 - yes 2m",
		"get_machine_action":   "get_machine_action GET /api/machineactions/{id} mde machineactions 50 1500 yes 30s",
		"advanced_queries_run": "advanced_queries_run POST /api/advancedqueries/run mde advancedqueries 45 1500 yes 4m",
	} {
		if got := strings.Join(apisRow(t, out, name), " "); got != want {
			t.Errorf("with -config: row %q,\nwant %q", got, want)
		}
	}

	var ue *usageError
	if _, stderr, err := runCmd(t, "apis", "extra"); !errors.As(err, &ue) || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("stray argument: err %v, stderr %q", err, stderr)
	}
}
