package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// FamilyConfig overrides one API family's limits (limits.families.NAME).
type FamilyConfig struct {
	// PerMinute is the requests per minute MDE allows. Unset (or 0): the family's documented
	// limit. -1: no per-minute limit (the gateway does not shape the family per minute; MDE's
	// own 429s are still honoured).
	PerMinute int `yaml:"per_minute"`
	// PerHour is the requests per hour MDE allows. Unset (or 0): the family's documented
	// limit. -1: no hourly limit. Both -1 turn the family's shaping off.
	PerHour int `yaml:"per_hour"`
	// Timeout bounds the wait for MDE's response headers. Unset: the family's default (4 m
	// for advancedqueries), else limits.upstream_timeout.
	Timeout time.Duration `yaml:"timeout"`
}

// unlimited is the per_minute or per_hour that turns a family's limit off.
const unlimited = -1

// validateLimits checks the quota and failover keys.
func (c *Config) validateLimits() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Routing.ProbeInterval < 0 {
		add("routing.probe_interval", "%v is negative", c.Routing.ProbeInterval)
	}
	if _, ok := c.Cloud.Regions[routing.Auto]; ok {
		add("cloud.regions."+routing.Auto, "%q is reserved: it means the nearest healthy region", routing.Auto)
	}
	if c.Limits.MaxWait < 0 {
		add("limits.max_wait", "%v is negative", c.Limits.MaxWait)
	}
	known := proxy.FamilyNames()
	for _, name := range sortedKeys(c.Limits.Families) {
		key := "limits.families." + name
		f := c.Limits.Families[name]
		if !oneOf(name, known) {
			add(key, "%q is not an API family (known: %s)", name, strings.Join(known, ", "))
			continue
		}
		if f.PerMinute < unlimited {
			add(key+".per_minute", "%d is neither -1 (unlimited), 0 (the default) nor a count", f.PerMinute)
		}
		if f.PerHour < unlimited {
			add(key+".per_hour", "%d is neither -1 (unlimited), 0 (the default) nor a count", f.PerHour)
		}
		if f.Timeout < 0 {
			add(key+".timeout", "%v is negative", f.Timeout)
		}
	}
	return append(ps, c.validateRedis()...)
}

// shaping reports whether quota shaping is on (limits.shape, default true).
func (l LimitsConfig) shaping() bool { return l.Shape == nil || *l.Shape }

// proxyLimits is the proxy's view of the limits section: the family overrides, and the
// transport's header timeout, the longest of limits.upstream_timeout and any family's.
func (l LimitsConfig) proxyLimits() (families map[string]proxy.FamilyLimits, headerTimeout time.Duration) {
	headerTimeout = l.UpstreamTimeout
	if headerTimeout <= 0 {
		headerTimeout = proxy.DefaultHeaderTimeout
	}
	families = make(map[string]proxy.FamilyLimits, len(l.Families))
	for name, f := range l.Families {
		families[name] = proxy.FamilyLimits{PerMinute: f.PerMinute, PerHour: f.PerHour, Timeout: f.Timeout}
		headerTimeout = max(headerTimeout, f.Timeout)
	}
	return families, headerTimeout
}

// usesAuto reports whether any tenant's region is "auto", so endpoints must be probed.
func usesAuto(t *routing.Table) bool {
	for _, tn := range t.Tenants() {
		if tn.Auto {
			return true
		}
	}
	return false
}
