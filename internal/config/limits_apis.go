package config

import (
	"github.com/mdegate/mdegate/proxy"
)

// limits.apis.NAME overrides one API of the gateway's table (proxy.APINames, printed by
// `mdegate apis`): its per_minute, per_hour and timeout, with the meanings of
// limits.families.NAME. The API still counts on its own; the override applies over its
// family's.

// validateAPIs checks limits.apis. The names are a fixed vocabulary, so a message may repeat
// an unknown one: it cannot be a secret pasted in the wrong place.
func (l *LimitsConfig) validateAPIs(ps *problems) {
	known := proxy.APINames()
	for _, name := range sortedKeys(l.APIs) {
		key := "limits.apis." + name
		a := l.APIs[name]
		if !oneOf(name, known) {
			ps.add(key, "is not an API name (`mdegate apis` lists them)")
			continue
		}
		a.validate(ps, key)
	}
}

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
