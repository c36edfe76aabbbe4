package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mdegate/mdegate/tokens"
)

// tokenCollector reports each configured tenant's token state at scrape time, from
// tokens.Source.Status: nothing is recorded on the hot path.
type tokenCollector struct {
	tenants func() []TenantStatus
	now     func() time.Time
}

var (
	tokenStateDesc = prometheus.NewDesc("mdegate_token_state",
		"1 for the tenant's current token state: ok, failing (code says Entra's AADSTS code), expired or never (not tried yet).",
		[]string{"tenant", "region", "state", "code"}, nil)
	tokenExpiryDesc = prometheus.NewDesc("mdegate_token_expiry_seconds",
		"Seconds until the tenant's held token expires (absent when none is held).",
		[]string{"tenant"}, nil)
	tokenFailuresDesc = prometheus.NewDesc("mdegate_token_consecutive_failures",
		"Consecutive failed token requests for the tenant (0 after a success).",
		[]string{"tenant"}, nil)
)

func (c *tokenCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tokenStateDesc
	ch <- tokenExpiryDesc
	ch <- tokenFailuresDesc
}

func (c *tokenCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, t := range c.tenants() {
		code := t.Code
		if t.State == tokens.StateOK {
			code = "" // the code of a failed refresh while the token is still good is in failures
		}
		ch <- prometheus.MustNewConstMetric(tokenStateDesc, prometheus.GaugeValue, 1, t.Name, t.Region, string(t.State), code)
		ch <- prometheus.MustNewConstMetric(tokenFailuresDesc, prometheus.GaugeValue, float64(t.Failures), t.Name)
		if !t.Expires.IsZero() {
			ch <- prometheus.MustNewConstMetric(tokenExpiryDesc, prometheus.GaugeValue, t.Expires.Sub(now).Seconds(), t.Name)
		}
	}
}
