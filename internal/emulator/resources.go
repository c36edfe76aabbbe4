package emulator

import "strings"

// The three APIs the emulator serves, the Entra resources whose tokens they accept, and the
// roles put in those tokens.

// Token resources (the aud of the tokens each API accepts).
const (
	// ResourceMDE is Defender for Endpoint's resource (the WindowsDefenderATP app). Its
	// documented alternative identifier is ResourceMDEAlt; both give tokens MDE accepts.
	ResourceMDE = "https://api.securitycenter.microsoft.com"
	// ResourceMDEAlt is the alternative identifier of the same resource used in Microsoft's
	// curl samples (scope ResourceMDEAlt+"/.default"). Tokens carry it as their aud.
	ResourceMDEAlt = "https://securitycenter.onmicrosoft.com/windowsatpservice"
	// ResourceXDR is the Microsoft Threat Protection resource that the Defender XDR APIs
	// (/api/incidents, /api/advancedhunting) on the same hosts require.
	ResourceXDR = "https://api.security.microsoft.com"
	// ResourceGraph is Microsoft Graph, whose /v1.0/security and /beta/security APIs the Graph
	// listener serves.
	ResourceGraph = "https://graph.microsoft.com"
)

// Application IDs of the resources: Entra also accepts them in place of the identifier URI,
// and so do the APIs as an aud.
const (
	appIDMDE   = "fc780465-2017-40d4-a0c5-307022471b92"
	appIDXDR   = "8ee8fdad-f234-4243-8f3b-15c294843740"
	appIDGraph = "00000003-0000-0000-c000-000000000000"
)

// DefaultXDRRoles are the roles put in XDR tokens of a tenant whose Tenant.XDRRoles is nil.
var DefaultXDRRoles = []string{"Incident.Read.All", "Incident.ReadWrite.All", "AdvancedHunting.Read.All"}

// DefaultGraphRoles are the roles put in Graph tokens of a tenant whose Tenant.GraphRoles is
// nil.
var DefaultGraphRoles = []string{
	"SecurityIncident.Read.All",
	"SecurityIncident.ReadWrite.All",
	"SecurityAlert.Read.All",
	"SecurityAlert.ReadWrite.All",
	"ThreatHunting.Read.All",
}

// surface is the API family a route belongs to, which decides the token it needs.
type surface int

const (
	surfaceMDE surface = iota
	surfaceXDR
	surfaceGraph
)

func (s surface) String() string {
	switch s {
	case surfaceXDR:
		return "xdr"
	case surfaceGraph:
		return "graph"
	}
	return "mde"
}

// resourceOf maps a requested resource (identifier URI or application ID, any case, with or
// without a trailing slash) to the aud of the token and its surface. ok is false for
// resources the emulated Entra does not know. Besides the three surfaces it knows Azure
// Resource Manager, which gives tokens without roles that no emulated API accepts.
func (e *Emulator) resourceOf(res string) (aud string, s surface, api, ok bool) {
	norm := strings.ToLower(strings.TrimSuffix(res, "/"))
	switch norm {
	case strings.ToLower(e.audience), ResourceMDE, ResourceMDEAlt:
		return strings.TrimSuffix(res, "/"), surfaceMDE, true, true
	case appIDMDE:
		return appIDMDE, surfaceMDE, true, true
	case ResourceXDR, appIDXDR:
		return strings.TrimSuffix(res, "/"), surfaceXDR, true, true
	case ResourceGraph, appIDGraph:
		return ResourceGraph, surfaceGraph, true, true
	case "https://management.azure.com":
		return "https://management.azure.com", surfaceMDE, false, true
	}
	return "", 0, false, false
}

// accepts reports whether surface s accepts a token with audience aud.
func (e *Emulator) accepts(s surface, aud string) bool {
	a := strings.ToLower(strings.TrimSuffix(aud, "/"))
	switch s {
	case surfaceXDR:
		return a == ResourceXDR || a == appIDXDR
	case surfaceGraph:
		return a == ResourceGraph || a == appIDGraph
	}
	return a == strings.ToLower(e.audience) || a == ResourceMDE || a == ResourceMDEAlt || a == appIDMDE
}

// SetRoles sets the roles put in tokens issued from now on for tenantID and resource
// (ResourceMDE or ResourceMDEAlt, ResourceXDR, ResourceGraph). Nil restores the default
// (Tenant.Roles' default, DefaultXDRRoles, DefaultGraphRoles); an empty non-nil slice means
// tokens with no roles claim. Unknown tenants and resources are ignored.
func (e *Emulator) SetRoles(tenantID, resource string, roles []string) {
	_, s, api, ok := e.resourceOf(resource)
	if !ok || !api {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tenants[strings.ToLower(tenantID)]; t != nil {
		t.roles[s] = rolesOrDefault(roles, s)
	}
}

func rolesOrDefault(roles []string, s surface) []string {
	if roles == nil {
		switch s {
		case surfaceXDR:
			roles = DefaultXDRRoles
		case surfaceGraph:
			roles = DefaultGraphRoles
		default:
			roles = DefaultRoles
		}
	}
	return append([]string{}, roles...)
}
