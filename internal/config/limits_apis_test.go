package config

import (
	"strings"
	"testing"
	"time"

	"github.com/mdegate/mdegate/proxy"
)

// limits.apis.NAME: every problem named by its key; an unknown name that looks like a key is
// repeated, and the message says where the names are listed.
func TestLimitsAPIsProblems(t *testing.T) {
	t.Parallel()
	text := lines("limits:", "  apis:", "    run_liveresponse: {per_minute: 10}",
		"    get_package_uri: {per_minute: -2, per_hour: -3, timeout: -1s}") + minimal
	_, err := parse(t, text)
	if err == nil {
		t.Fatal("parse succeeded, want problems")
	}
	got := err.Error()
	for _, w := range []string{
		"line 3: limits.apis.run_liveresponse: is not an API name (`mdegate apis` lists them)",
		"line 4: limits.apis.get_package_uri.per_minute: -2 is neither -1 (unlimited), 0 (the default) nor a count",
		"line 4: limits.apis.get_package_uri.per_hour: -3 is neither -1 (unlimited), 0 (the default) nor a count",
		"line 4: limits.apis.get_package_uri.timeout: -1s is negative",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("got %q,\nwant substring %q", got, w)
		}
	}
}

// Regression (issue 14, item 9): an unknown limits.apis or limits.families name was repeated
// in the problem's key whatever it looked like, so a secret pasted there reached the log. Like
// an unknown key, it is named only when it looks like a key.
func TestLimitsUnknownNameNotEchoed(t *testing.T) {
	t.Parallel()
	for _, section := range []string{"apis", "families"} {
		_, err := parse(t, lines("limits:", "  "+section+":", "    S3cr3t~Value.x: {per_minute: 10}")+minimal)
		if err == nil || strings.Contains(err.Error(), "S3cr3t") || !strings.Contains(err.Error(), "line 2: limits."+section+": has a name that is not an API") {
			t.Errorf("%s: got %v, want a problem at limits.%s that does not repeat the name", section, err, section)
		}
	}
}

// limits.apis reaches the proxy, and the transport's header timeout covers the longest API
// timeout: a one-API override, and the table's own 4 minutes for hunting when
// limits.upstream_timeout is shorter.
func TestLimitsAPIsProxyView(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, lines("limits:", "  upstream_timeout: 30s", "  apis:",
		"    run_live_response: {per_minute: 5, timeout: 7m}", "    get_package_uri: {per_hour: -1}")+minimal)
	apis := cfg.Limits.APILimits()
	if got, want := apis["run_live_response"], (proxy.Limits{PerMinute: 5, Timeout: 7 * time.Minute}); got != want {
		t.Errorf("run_live_response: got %+v, want %+v", got, want)
	}
	if got, want := apis["get_package_uri"], (proxy.Limits{PerHour: -1}); got != want {
		t.Errorf("get_package_uri: got %+v, want %+v", got, want)
	}
	if _, header := cfg.Limits.ProxyLimits(); header != 7*time.Minute {
		t.Errorf("header timeout %v, want 7m (the longest API timeout)", header)
	}
	cfg = mustParse(t, lines("limits:", "  upstream_timeout: 30s")+minimal)
	if _, header := cfg.Limits.ProxyLimits(); header != 4*time.Minute {
		t.Errorf("header timeout %v, want 4m (advanced hunting's, above upstream_timeout)", header)
	}
	if cfg.Limits.APILimits() != nil {
		t.Error("APILimits without limits.apis: want nil")
	}
}

// cloud.graph replaces the cloud's Graph host, like cloud.regions; it must be https.
func TestCloudGraph(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, lines("cloud:", "  graph: https://127.0.0.1:9444/")+minimal)
	if got := cfg.Resolved.Cloud.Graph; got != "https://127.0.0.1:9444" {
		t.Errorf("Resolved.Cloud.Graph %q, want https://127.0.0.1:9444", got)
	}
	if got := mustParse(t, minimal).Resolved.Cloud.Graph; got != "https://graph.microsoft.com" {
		t.Errorf("default Graph %q, want https://graph.microsoft.com", got)
	}
	_, err := parse(t, lines("cloud:", "  graph: http://graph.example")+minimal)
	if err == nil || !strings.Contains(err.Error(), "line 2: cloud.graph: is not an https URL") {
		t.Errorf("http Graph: %v, want line 2: cloud.graph: is not an https URL", err)
	}
}
