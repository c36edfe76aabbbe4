package metrics

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBuildInfo(t *testing.T) {
	r := New(Options{Version: "v1.2.3", Commit: "abc123"})
	want := `
# HELP mdegate_build_info 1, labelled with the gateway's version, VCS commit and Go version.
# TYPE mdegate_build_info gauge
mdegate_build_info{commit="abc123",go="` + runtime.Version() + `",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), "mdegate_build_info"); err != nil {
		t.Error(err)
	}
	// Unset, neither label is empty: a dashboard grouping by them would lose the series.
	r = New(Options{})
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, mf := range mfs {
		if mf.GetName() != "mdegate_build_info" {
			continue
		}
		found = true
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			if lp.GetValue() == "" {
				t.Errorf("label %s is empty", lp.GetName())
			}
		}
	}
	if !found {
		t.Error("no mdegate_build_info without options")
	}
}

func TestVCSRevision(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"stamped", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"}}}, true, "0123abcd"},
		{"buildvcs=false", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "-buildvcs", Value: "false"}}}, true, "unknown"},
		{"no build info", nil, false, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := vcsRevision(func() (*debug.BuildInfo, bool) { return tc.bi, tc.ok })
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
