package emulator

import (
	"net/http"
	"strings"
)

// The API table: every route the emulator serves, on which surface, with the roles it needs and
// its documented per-API limits. Routing and quotas read the same rows.

// route is one API: a method and a path template under the surface's prefix (/api/ for MDE
// and XDR, /{v1.0,beta}/security/ for Graph), matched case-insensitively segment by segment.
// "*" matches any one segment; a segment ending in "(*" matches any segment with that prefix,
// for OData function syntax such as findbyip(ip='..',timestamp=..).
type route struct {
	name      string // the API's name, as in Seen.API, APIs and SetAPILimit
	method    string
	path      string
	surface   surface
	roles     []string // any one of them is enough; nil = none needed
	perMinute int      // documented limits; 0 = none in that window
	perHour   int
	serve     func(*Emulator, *call)
}

// Role sets the routes require (any one of them).
var (
	rolesAlertRead   = []string{"Alert.Read.All", "Alert.ReadWrite.All"}
	rolesAlertWrite  = []string{"Alert.ReadWrite.All"}
	rolesMachineRead = []string{"Machine.Read.All", "Machine.ReadWrite.All"}
	rolesIsolate     = []string{"Machine.Isolate"}
	rolesScan        = []string{"Machine.Scan"}
	rolesForensics   = []string{"Machine.CollectForensics"}
	rolesRestrict    = []string{"Machine.RestrictExecution"}
	rolesQuarantine  = []string{"Machine.StopAndQuarantine"}
	rolesLive        = []string{"Machine.LiveResponse"}
	rolesTI          = []string{"Ti.ReadWrite.All", "Ti.ReadWrite"}
	rolesHunting     = []string{"AdvancedQuery.Read.All", "AdvancedQuery.Read"}
	rolesSoftware    = []string{"Software.Read.All"}
	rolesVuln        = []string{"Vulnerability.Read.All"}
	rolesReco        = []string{"SecurityRecommendation.Read.All"}
	rolesFile        = []string{"File.Read.All"}
	rolesIP          = []string{"Ip.Read.All"}
	rolesURL         = []string{"URL.Read.All"}
	rolesUser        = []string{"User.Read.All"}
	rolesIncident    = []string{"Incident.Read.All", "Incident.ReadWrite.All"}
	rolesXDRHunting  = []string{"AdvancedHunting.Read.All"}
	rolesGIncident   = []string{"SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"}
	rolesGAlert      = []string{"SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"}
	rolesGHunting    = []string{"ThreatHunting.Read.All"}
)

// Limits from Microsoft's API pages (see ../shared/reference/mde-api.md): most entity APIs
// 100/min and 1,500/h; the rows below that differ say so.
const (
	entityMinute = 100
	entityHour   = 1500
)

// routes is the table. Order matters only where a fixed segment and "*" compete: the fixed
// one comes first.
var routes = []route{
	{"Index", http.MethodGet, "", surfaceMDE, nil, entityMinute, entityHour, (*Emulator).serveIndex},

	{"ListAlerts", http.MethodGet, "alerts", surfaceMDE, rolesAlertRead, entityMinute, entityHour, (*Emulator).listAlerts},
	{"BatchUpdateAlerts", http.MethodPost, "alerts/batchUpdate", surfaceMDE, rolesAlertWrite, 10, 500, (*Emulator).batchUpdateAlerts},
	{"GetAlert", http.MethodGet, "alerts/*", surfaceMDE, rolesAlertRead, entityMinute, entityHour, (*Emulator).getAlert},

	{"ListMachines", http.MethodGet, "machines", surfaceMDE, rolesMachineRead, entityMinute, entityHour, (*Emulator).listMachines},
	{"FindMachinesByIP", http.MethodGet, "machines/findbyip(*", surfaceMDE, rolesMachineRead, entityMinute, entityHour, (*Emulator).findByIP},
	{"SoftwareInventoryByMachine", http.MethodGet, "machines/SoftwareInventoryByMachine", surfaceMDE, rolesSoftware, 30, 1000, (*Emulator).streamInventory},
	{"SoftwareVulnerabilitiesByMachine", http.MethodGet, "machines/SoftwareVulnerabilitiesByMachine", surfaceMDE, rolesVuln, 30, 1000, (*Emulator).streamInventory},
	{"SoftwareInventoryExport", http.MethodGet, "machines/SoftwareInventoryExport", surfaceMDE, rolesSoftware, 5, 20, (*Emulator).exportInventory},
	{"SoftwareVulnerabilitiesExport", http.MethodGet, "machines/SoftwareVulnerabilitiesExport", surfaceMDE, rolesVuln, 5, 20, (*Emulator).exportInventory},
	{"InfoGatheringExport", http.MethodGet, "machines/InfoGatheringExport", surfaceMDE, rolesMachineRead, 5, 20, (*Emulator).exportInventory},
	{"GetMachine", http.MethodGet, "machines/*", surfaceMDE, rolesMachineRead, entityMinute, entityHour, (*Emulator).getMachine},
	{"ListMachineAlerts", http.MethodGet, "machines/*/alerts", surfaceMDE, rolesAlertRead, entityMinute, entityHour, (*Emulator).machineAlerts},
	{"ListMachineVulnerabilities", http.MethodGet, "machines/*/vulnerabilities", surfaceMDE, rolesVuln, 50, entityHour, (*Emulator).machineVulnerabilities},
	{"ListMachineSoftware", http.MethodGet, "machines/*/software", surfaceMDE, rolesSoftware, entityMinute, entityHour, (*Emulator).machineSoftware},
	{"ListMachineLogonUsers", http.MethodGet, "machines/*/logonusers", surfaceMDE, rolesUser, entityMinute, entityHour, (*Emulator).logonUsers},
	{"IsolateMachine", http.MethodPost, "machines/*/isolate", surfaceMDE, rolesIsolate, entityMinute, entityHour, (*Emulator).machineAction},
	{"UnisolateMachine", http.MethodPost, "machines/*/unisolate", surfaceMDE, rolesIsolate, entityMinute, entityHour, (*Emulator).machineAction},
	{"RunAntiVirusScan", http.MethodPost, "machines/*/runAntiVirusScan", surfaceMDE, rolesScan, entityMinute, entityHour, (*Emulator).machineAction},
	{"CollectInvestigationPackage", http.MethodPost, "machines/*/collectInvestigationPackage", surfaceMDE, rolesForensics, entityMinute, entityHour, (*Emulator).machineAction},
	{"RestrictCodeExecution", http.MethodPost, "machines/*/restrictCodeExecution", surfaceMDE, rolesRestrict, entityMinute, entityHour, (*Emulator).machineAction},
	{"UnrestrictCodeExecution", http.MethodPost, "machines/*/unrestrictCodeExecution", surfaceMDE, rolesRestrict, entityMinute, entityHour, (*Emulator).machineAction},
	{"StopAndQuarantineFile", http.MethodPost, "machines/*/StopAndQuarantineFile", surfaceMDE, rolesQuarantine, entityMinute, entityHour, (*Emulator).machineAction},
	{"RunLiveResponse", http.MethodPost, "machines/*/runliveresponse", surfaceMDE, rolesLive, 10, 0, (*Emulator).machineAction},

	{"ListMachineActions", http.MethodGet, "machineactions", surfaceMDE, rolesMachineRead, entityMinute, entityHour, (*Emulator).listActions},
	{"GetMachineAction", http.MethodGet, "machineactions/*", surfaceMDE, rolesMachineRead, entityMinute, entityHour, (*Emulator).getAction},
	{"CancelMachineAction", http.MethodPost, "machineactions/*/cancel", surfaceMDE, rolesMachineRead, entityMinute, entityHour, (*Emulator).cancelAction},
	{"GetPackageUri", http.MethodGet, "machineactions/*/GetPackageUri", surfaceMDE, rolesForensics, 2, 120, (*Emulator).packageURI},
	{"GetLiveResponseResultDownloadLink", http.MethodGet, "machineactions/*/GetLiveResponseResultDownloadLink(*", surfaceMDE, rolesLive, entityMinute, entityHour, (*Emulator).liveResponseResult},

	{"ListIndicators", http.MethodGet, "indicators", surfaceMDE, rolesTI, entityMinute, entityHour, (*Emulator).listIndicators},
	{"SubmitIndicator", http.MethodPost, "indicators", surfaceMDE, rolesTI, entityMinute, entityHour, (*Emulator).postIndicator},
	{"ImportIndicators", http.MethodPost, "indicators/import", surfaceMDE, rolesTI, 30, 0, (*Emulator).importIndicators},
	{"DeleteIndicator", http.MethodDelete, "indicators/*", surfaceMDE, rolesTI, entityMinute, entityHour, (*Emulator).deleteIndicator},

	{"AdvancedQueries", http.MethodPost, "advancedqueries/run", surfaceMDE, rolesHunting, 45, 1500, (*Emulator).runQuery},

	{"GetFile", http.MethodGet, "files/*", surfaceMDE, rolesFile, entityMinute, entityHour, (*Emulator).getFile},
	{"GetIPStats", http.MethodGet, "ips/*/stats", surfaceMDE, rolesIP, entityMinute, entityHour, (*Emulator).ipStats},
	{"ListDomainMachines", http.MethodGet, "domains/*/machines", surfaceMDE, rolesMachineRead, entityMinute, entityHour, (*Emulator).domainMachines},
	{"ListUserAlerts", http.MethodGet, "users/*/alerts", surfaceMDE, rolesAlertRead, entityMinute, entityHour, (*Emulator).userAlerts},
	{"ListVulnerabilities", http.MethodGet, "vulnerabilities", surfaceMDE, rolesVuln, entityMinute, entityHour, (*Emulator).listVulnerabilities},
	{"ListSoftware", http.MethodGet, "software", surfaceMDE, rolesSoftware, entityMinute, entityHour, (*Emulator).listSoftware},
	{"ListRecommendations", http.MethodGet, "recommendations", surfaceMDE, rolesReco, entityMinute, entityHour, (*Emulator).listRecommendations},
	{"DeviceAvInfo", http.MethodGet, "deviceavinfo", surfaceMDE, rolesMachineRead, 30, 1000, (*Emulator).deviceAvInfo},

	// Defender XDR on the MDE hosts: incidents 50/min and 1,500/h, get incident 100/min;
	// advanced hunting "at least 45 calls per minute per tenant" and no hourly count (a CPU
	// quota instead; learn.microsoft.com/defender-xdr/api-advanced-hunting; the older
	// api-terms page's 1,500/h is not on it any more), as the gateway's table says.
	{"ListIncidents", http.MethodGet, "incidents", surfaceXDR, rolesIncident, 50, 1500, (*Emulator).listIncidents},
	{"GetIncident", http.MethodGet, "incidents/*", surfaceXDR, rolesIncident, 100, 1500, (*Emulator).getIncident},
	{"AdvancedHunting", http.MethodPost, "advancedhunting/run", surfaceXDR, rolesXDRHunting, 45, 0, (*Emulator).runQuery},

	// Graph security, under /v1.0/security/ and /beta/security/. Microsoft documents no
	// per-API figures for incidents and alerts_v2: they get the entity default; hunting
	// gets advanced hunting's 45/min.
	{"GraphListIncidents", http.MethodGet, "incidents", surfaceGraph, rolesGIncident, entityMinute, entityHour, (*Emulator).listIncidents},
	{"GraphGetIncident", http.MethodGet, "incidents/*", surfaceGraph, rolesGIncident, entityMinute, entityHour, (*Emulator).getIncident},
	{"GraphListAlerts", http.MethodGet, "alerts_v2", surfaceGraph, rolesGAlert, entityMinute, entityHour, (*Emulator).listAlerts},
	{"GraphGetAlert", http.MethodGet, "alerts_v2/*", surfaceGraph, rolesGAlert, entityMinute, entityHour, (*Emulator).getAlert},
	{"GraphRunHuntingQuery", http.MethodPost, "runHuntingQuery", surfaceGraph, rolesGHunting, 45, 1500, (*Emulator).runQuery},
}

// routeSegs are the lowercased template segments of each row of routes, by index.
var routeSegs = func() [][]string {
	out := make([][]string, len(routes))
	for i, r := range routes {
		if r.path != "" {
			out[i] = strings.Split(strings.ToLower(r.path), "/")
		}
	}
	return out
}()

// match finds the route for method and segs on surface family g (graph or not). When the path
// matches but the method does not, rt is nil and allowed lists the methods served there.
func match(graph bool, method string, segs []string) (rt *route, allowed []string) {
	for i := range routes {
		r := &routes[i]
		if (r.surface == surfaceGraph) != graph || !segsMatch(routeSegs[i], segs) {
			continue
		}
		if r.method == method {
			return r, nil
		}
		allowed = append(allowed, r.method)
	}
	return nil, allowed
}

func segsMatch(tmpl, segs []string) bool {
	if len(tmpl) != len(segs) {
		return false
	}
	for i, t := range tmpl {
		s := segs[i]
		switch {
		case t == "*":
			if s == "" {
				return false
			}
		case strings.HasSuffix(t, "(*"):
			if len(s) < len(t)-1 || !strings.EqualFold(s[:len(t)-1], t[:len(t)-1]) || !strings.HasSuffix(s, ")") {
				return false
			}
		case !strings.EqualFold(t, s):
			return false
		}
	}
	return true
}

// API describes one row of the emulator's API table.
type API struct {
	// Name names the API in Seen.API and SetAPILimit, e.g. "GetPackageUri".
	Name string
	// Method is the HTTP method.
	Method string
	// Path is the template, "*" for one segment: "/api/machineactions/*/GetPackageUri",
	// "/v1.0/security/incidents".
	Path string
	// Surface is "mde", "xdr" or "graph".
	Surface string
	// PerMinute is the documented limit per app and tenant per minute; 0 means none.
	PerMinute int
	// PerHour is the documented limit per app and tenant per hour; 0 means none.
	PerHour int
}

// APIs returns the emulator's API table (Graph rows under /v1.0; /beta serves the same).
func APIs() []API {
	out := make([]API, len(routes))
	for i, r := range routes {
		prefix := "/api/"
		if r.surface == surfaceGraph {
			prefix = "/v1.0/security/"
		}
		out[i] = API{r.name, r.method, prefix + r.path, r.surface.String(), r.perMinute, r.perHour}
	}
	return out
}
