package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegionStatus is one endpoint of the region table as the metrics show it.
type RegionStatus struct {
	// Region is the endpoint's region name.
	Region string
	// RTT is the median round trip of the last probe round; zero when it was not reachable
	// or never probed.
	RTT time.Duration
	// Probed is true once a probe round has measured the endpoint (rounds run only while
	// some tenant's region is auto).
	Probed bool
	// Reachable is true when the last probe round got an answer from it.
	Reachable bool
	// Down is true while the endpoint cools down after a failed call (passive health).
	Down bool
}

// regionCollector reports the region table at scrape time, from the routing table's atomic
// state: nothing is recorded on the hot path.
type regionCollector struct {
	regions func() []RegionStatus
}

var (
	regionRTTDesc = prometheus.NewDesc("mdegate_region_rtt_seconds",
		"Median round trip to the region's endpoint in the last probe round (absent when unreachable or not probed; probes run while a tenant's region is auto).",
		[]string{"region"}, nil)
	regionHealthyDesc = prometheus.NewDesc("mdegate_region_healthy",
		"1 when the region's endpoint may be chosen: not cooling down after a failed call and not unreachable in the last probe round; else 0.",
		[]string{"region"}, nil)
)

func (c *regionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- regionRTTDesc
	ch <- regionHealthyDesc
}

func (c *regionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.regions() {
		healthy := 1.0
		if r.Down || r.Probed && !r.Reachable {
			healthy = 0
		}
		ch <- prometheus.MustNewConstMetric(regionHealthyDesc, prometheus.GaugeValue, healthy, r.Region)
		if r.Reachable {
			ch <- prometheus.MustNewConstMetric(regionRTTDesc, prometheus.GaugeValue, r.RTT.Seconds(), r.Region)
		}
	}
}
