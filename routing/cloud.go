package routing

import "sort"

// Cloud is one Microsoft cloud's fixed facts: where tokens come from, which API hosts serve
// Defender for Endpoint and Graph, and the token resources of each API surface.
type Cloud struct {
	// Name is the config name: public, gcc, gcc-high or dod.
	Name string
	// LoginEndpoint is the Entra authority host, without a tenant path.
	LoginEndpoint string
	// Scope is the client-credentials scope. MDE wants tokens for the legacy resource even when
	// the API is called on api.security.microsoft.com (a token for the new host gets 403).
	Scope string
	// Regions maps a region name to its API base URL. The entry named Global is always
	// present and is the fallback endpoint.
	Regions map[string]string
	// XDRResource is the token resource of the Defender XDR APIs (/api/incidents,
	// /api/advancedhunting), served on the same hosts as MDE.
	XDRResource string
	// Graph is the Microsoft Graph base URL; the gateway forwards only its security API
	// (/v1.0/security/..., /beta/security/...) there. Configuration may override it (tests).
	Graph string
	// GraphResource is the token resource of Graph.
	GraphResource string
}

// Global is the name of the region every cloud has: the geo-agnostic API host, always valid.
const Global = "global"

var clouds = map[string]Cloud{
	"public": {
		Name:          "public",
		LoginEndpoint: "https://login.microsoftonline.com",
		Scope:         "https://api.securitycenter.microsoft.com/.default",
		Regions: map[string]string{
			Global: "https://api.security.microsoft.com",
			"us":   "https://us.api.security.microsoft.com",
			"eu":   "https://eu.api.security.microsoft.com",
			"uk":   "https://uk.api.security.microsoft.com",
			"au":   "https://au.api.security.microsoft.com",
			"swa":  "https://swa.api.security.microsoft.com",
			"ina":  "https://ina.api.security.microsoft.com",
			"aea":  "https://aea.api.security.microsoft.com",
		},
		XDRResource:   "https://api.security.microsoft.com",
		Graph:         "https://graph.microsoft.com",
		GraphResource: "https://graph.microsoft.com",
	},
	// The sovereign scopes follow msticpy; MDE's own docs do not state them (see the reference).
	// The sovereign XDR resources are the government hosts seen in links (unconfirmed); GCC
	// uses the public Graph, GCC High and DoD their own.
	"gcc": {
		Name:          "gcc",
		LoginEndpoint: "https://login.microsoftonline.com",
		Scope:         "https://api-gcc.securitycenter.microsoft.us/.default",
		Regions:       map[string]string{Global: "https://api-gcc.securitycenter.microsoft.us"},
		XDRResource:   "https://api-gcc.security.microsoft.us",
		Graph:         "https://graph.microsoft.com",
		GraphResource: "https://graph.microsoft.com",
	},
	"gcc-high": {
		Name:          "gcc-high",
		LoginEndpoint: "https://login.microsoftonline.us",
		Scope:         "https://api-gov.securitycenter.microsoft.us/.default",
		Regions:       map[string]string{Global: "https://api-gov.securitycenter.microsoft.us"},
		XDRResource:   "https://api-gov.security.microsoft.us",
		Graph:         "https://graph.microsoft.us",
		GraphResource: "https://graph.microsoft.us",
	},
	"dod": {
		Name:          "dod",
		LoginEndpoint: "https://login.microsoftonline.us",
		Scope:         "https://api-gov.securitycenter.microsoft.us/.default",
		Regions:       map[string]string{Global: "https://api-gov.securitycenter.microsoft.us"},
		XDRResource:   "https://api-gov.security.microsoft.us",
		Graph:         "https://dod-graph.microsoft.us",
		GraphResource: "https://dod-graph.microsoft.us",
	},
}

// LookupCloud returns the built-in facts of the named cloud. The returned Regions map is a
// copy the caller may change.
func LookupCloud(name string) (Cloud, bool) {
	c, ok := clouds[name]
	if !ok {
		return Cloud{}, false
	}
	regions := make(map[string]string, len(c.Regions))
	for k, v := range c.Regions {
		regions[k] = v
	}
	c.Regions = regions
	return c, true
}

// CloudNames lists the known cloud names, sorted.
func CloudNames() []string {
	names := make([]string, 0, len(clouds))
	for n := range clouds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
