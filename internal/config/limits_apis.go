package config

import (
	"github.com/mdegate/mdegate/proxy"
)

// limits.apis.NAME overrides one API of the gateway's table (proxy.APINames, printed by
// `mdegate apis`): its per_minute, per_hour and timeout, with the meanings of
// limits.families.NAME. The API still counts on its own; the override applies over its
// family's.

// APILimits is the proxy's view of limits.apis (proxy.Options.APIs); nil when unset.
func (l LimitsConfig) APILimits() map[string]proxy.Limits {
	if len(l.APIs) == 0 {
		return nil
	}
	out := make(map[string]proxy.Limits, len(l.APIs))
	for name, a := range l.APIs {
		out[name] = a.limits()
	}
	return out
}
