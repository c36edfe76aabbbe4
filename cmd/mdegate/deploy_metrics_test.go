package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// metricName matches the gateway's metric names in a PromQL expression: its own (mdegate_)
// and the Go runtime and process collectors'. Prometheus' own series (up) are not the
// gateway's to expose.
var metricName = regexp.MustCompile(`\b(?:mdegate|go|process)_[a-z0-9_]+\b`)

// TestDeployMetricsExist keeps deploy/grafana/mdegate.json and deploy/prometheus/alerts.yaml
// honest: every metric they name is in a running gateway's /metrics, after calls that make
// the event-only series appear (a token failure, an MDE 429, a quota wait, a failover, a
// probed region, an unreachable limits.redis).
func TestDeployMetricsExist(t *testing.T) {
	t.Parallel()
	refs := deployMetricRefs(t)
	if len(refs) < 15 {
		t.Fatalf("found %d metric names in the dashboard and rules: %v; the extraction is broken", len(refs), refs)
	}

	// northwind has no region: auto, so the region table is probed. Redis on port 1 is
	// refused at once: the quota store metric shows degraded.
	g := startGateway(t, "routing: {region: auto}\nlimits:\n  redis: {url: \"redis://127.0.0.1:1/0\", timeout: 50ms}\n")
	call := func(tenant string) {
		t.Helper()
		req, err := http.NewRequest("GET", g.URL+"/api/alerts?$top=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Tenant-ID", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	call("contoso")
	call("northwind") // not consented: token failures
	g.emu.Throttle(demoContoso, time.Second)
	call("contoso") // waits out a 1 s Retry-After: a quota wait
	g.emu.Throttle(demoContoso, time.Hour)
	call("contoso") // Retry-After past max_wait: MDE's 429 reaches the caller
	g.emu.FailRegion("us", 503)
	call("fabrikam") // fails over from us

	scraped := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		scraped = scrapeNames(t, g.URL+"/metrics")
		if len(missingMetrics(refs, scraped)) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the probe round and the last call's counters land
	}
	for _, name := range missingMetrics(refs, scraped) {
		t.Errorf("%s is named by the dashboard or the alert rules but not in /metrics", name)
	}
}

// TestMissingMetrics pins the suffix handling: a histogram's series are its _bucket, _sum
// and _count; a counter's _count is a different, missing name.
func TestMissingMetrics(t *testing.T) {
	t.Parallel()
	scraped := map[string]bool{"mdegate_request_duration_seconds": true, "mdegate_requests_total": true}
	hist := map[string]bool{"mdegate_request_duration_seconds": true}
	got := missingMetrics([]string{"mdegate_request_duration_seconds_bucket", "mdegate_request_duration_seconds_count",
		"mdegate_requests_total", "mdegate_requests_total_count", "mdegate_nope_total"}, withHistograms(scraped, hist))
	want := []string{"mdegate_nope_total", "mdegate_requests_total_count"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// deployMetricRefs returns the metric names in the dashboard's expressions (panels, template
// variables, annotations: every "expr", "query" and "definition" string) and in the rules'.
func deployMetricRefs(t *testing.T) []string {
	t.Helper()
	root := filepath.Join("..", "..", "deploy")
	set := map[string]bool{}
	add := func(expr string) {
		for _, n := range metricName.FindAllString(expr, -1) {
			set[n] = true
		}
	}

	b, err := os.ReadFile(filepath.Join(root, "grafana", "mdegate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("mdegate.json: %v", err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					add(s)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(dash)

	b, err = os.ReadFile(filepath.Join(root, "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			add(r.Expr)
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// scrapeNames returns the metric families in a /metrics answer (from its # TYPE lines), each
// histogram or summary also under the names of its series.
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	names, hist := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			hist[f[2]] = f[3] == "histogram" || f[3] == "summary"
		}
	}
	return withHistograms(names, hist)
}

// withHistograms adds the _bucket, _sum and _count series of each histogram in hist.
func withHistograms(names, hist map[string]bool) map[string]bool {
	out := map[string]bool{}
	for n := range names {
		out[n] = true
		if hist[n] {
			out[n+"_bucket"], out[n+"_sum"], out[n+"_count"] = true, true, true
		}
	}
	return out
}

// missingMetrics returns the names in refs that scraped lacks, sorted.
func missingMetrics(refs []string, scraped map[string]bool) []string {
	var out []string
	for _, n := range refs {
		if !scraped[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
