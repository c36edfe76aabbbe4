package metrics

import "github.com/prometheus/client_golang/prometheus"

// quotaCollector reports at scrape time whether the quota state is shared through Redis
// (limits.redis) or degraded to each gateway's own limiter: nothing on the hot path.
type quotaCollector struct {
	state func() (configured, shared bool)
}

var quotaSharedDesc = prometheus.NewDesc("mdegate_quota_store_shared",
	"1 while quota decisions are shared through limits.redis, 0 while Redis is unreachable and this gateway shapes alone (absent without limits.redis).",
	nil, nil)

func (c *quotaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- quotaSharedDesc }

func (c *quotaCollector) Collect(ch chan<- prometheus.Metric) {
	configured, shared := c.state()
	if !configured {
		return
	}
	v := 0.0
	if shared {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(quotaSharedDesc, prometheus.GaugeValue, v)
}
