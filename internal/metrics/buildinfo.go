package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is the constant mdegate_build_info gauge: 1, with the build in its labels, so a
// dashboard can show which version runs where and join it onto other series.
func buildInfo(version, commit string) prometheus.Gauge {
	if version == "" {
		version = "unknown"
	}
	if commit == "" {
		commit = vcsRevision(debug.ReadBuildInfo)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mdegate_build_info",
		Help:        "1, labelled with the gateway's version, VCS commit and Go version.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "go": runtime.Version()}})
	g.Set(1)
	return g
}

// vcsRevision is the vcs.revision the Go toolchain stamped into the binary, or "unknown" when
// it did not (go build -buildvcs=false, a build outside a checkout, go run of a file).
func vcsRevision(read func() (*debug.BuildInfo, bool)) string {
	bi, ok := read()
	if !ok {
		return "unknown"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			return s.Value
		}
	}
	return "unknown"
}
