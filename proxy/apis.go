package proxy

import (
	"net/http"
	"strings"
	"time"
)

// The API table: every documented API the gateway knows, as data. Each entry is one API as
// MDE counts it (per app + tenant + API, reference mde-api.md "Rate limits"): its route, the
// surface it belongs to (and so the token it needs), its documented limits, whether it may be
// replayed, its header timeout and its family (limits.families.NAME sets every API of the
// family; metrics count by family so labels stay bounded).
//
// Routes are matched case-insensitively, under /api or /api/v1.0 in any case for MDE and XDR,
// under /v1.0 or /beta for Graph security. In a route, {x} is any one segment and name(..) is
// an OData function call with any arguments (machines/findbyip(ip='..',timestamp=..)); a
// segment *Suffix matches any segment ending in Suffix. The first matching entry wins, so a
// literal route precedes a wildcard one. A path no entry matches is the API "other" (MDE) or
// "graph_other" (Graph security): one shared quota at the generic limits.

// Surface is the Microsoft API an API belongs to; it decides the token's resource.
type Surface uint8

const (
	// SurfaceMDE is Defender for Endpoint: tokens for https://api.securitycenter.microsoft.com.
	SurfaceMDE Surface = iota
	// SurfaceXDR is Defender XDR on the same hosts (incidents, advanced hunting): tokens for
	// https://api.security.microsoft.com.
	SurfaceXDR
	// SurfaceGraph is the Microsoft Graph security API: tokens for https://graph.microsoft.com.
	SurfaceGraph
)

func (s Surface) String() string {
	switch s {
	case SurfaceXDR:
		return "xdr"
	case SurfaceGraph:
		return "graph"
	}
	return "mde"
}

// Resource is the surface's token resource in the public cloud (sovereign clouds: see
// routing.Cloud).
func (s Surface) Resource() string {
	switch s {
	case SurfaceXDR:
		return "https://api.security.microsoft.com"
	case SurfaceGraph:
		return "https://graph.microsoft.com"
	}
	return "https://api.securitycenter.microsoft.com"
}

// Limits are one API's (or one family's) limits per (app, tenant).
type Limits struct {
	// PerMinute is how many requests MDE accepts per minute. In an override, zero means the
	// documented limit and a negative value no per-minute limit; in the table, zero means
	// none is documented.
	PerMinute int
	// PerHour is how many requests MDE accepts per hour; zero and negative as PerMinute.
	PerHour int
	// Timeout bounds the wait for the response headers. Zero means the API's default, else
	// Options.CallTimeout.
	Timeout time.Duration
}

// FamilyLimits is the former name of Limits (limits.families.NAME).
type FamilyLimits = Limits

// API is one entry of the table, with its effective limits.
type API struct {
	// Name is the configuration name (limits.apis.NAME), snake_case, unique.
	Name string
	// Method is the HTTP method; "" means any.
	Method string
	// Route is the path template as printed: /api/machines/{id}/runliveresponse, or
	// /{v1.0,beta}/security/incidents for Graph.
	Route string
	// Surface decides the token.
	Surface Surface
	// Family is the family name (limits.families.NAME, metrics label).
	Family string
	// Limits are the effective limits: documented, then the family's override, then the
	// API's. A zero or negative count means no limit of that window.
	Limits Limits
	// Replay is true when a request may be sent twice whatever its method (a read-only POST
	// such as advancedqueries/run); GET and HEAD always may.
	Replay bool
	// Index is the API's dense index in the table, for array-backed state.
	Index int

	family FamilyIndex
	segs   []segment
}

// replayable reports whether a request may be sent again after a failure in mid-request:
// GET and HEAD always, and a POST of an API marked Replay. Others (a machine isolation)
// never run twice.
func (a *API) replayable(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || a.Replay && method == http.MethodPost
}

// Well-known limits (reference mde-api.md, "Rate limits").
var (
	generic = Limits{PerMinute: 100, PerHour: 1500}
	hunting = Limits{PerMinute: 45, PerHour: 1500, Timeout: 4 * time.Minute}
	jsonExp = Limits{PerMinute: 30, PerHour: 1000}
	fileExp = Limits{PerMinute: 5, PerHour: 20}
	xdrList = Limits{PerMinute: 50, PerHour: 1500}
)

// perMinute is a limit documented per minute only.
func perMinute(n int) Limits { return Limits{PerMinute: n} }

type apiDef struct {
	name, method, route string
	surface             Surface
	family              string
	limits              Limits
	replay              bool
}

const (
	get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
	mde, xdr, graph       = SurfaceMDE, SurfaceXDR, SurfaceGraph
)

// apiDefs is the table. "other" and "graph_other" come first: they take unmatched paths.
var apiDefs = []apiDef{
	{"other", "", "/api/**", mde, "other", generic, false},
	{"graph_other", "", "/{v1.0,beta}/security/**", graph, "graph_security", generic, false},

	// Alerts.
	{"list_alerts", get, "/api/alerts", mde, "alerts", generic, false},
	{"batch_update_alerts", post, "/api/alerts/batchUpdate", mde, "alerts_batchupdate", Limits{PerMinute: 10, PerHour: 500}, false},
	{"create_alert_by_reference", post, "/api/alerts/CreateAlertByReference", mde, "alerts", perMinute(15), false},
	{"get_alert", get, "/api/alerts/{id}", mde, "alerts", generic, false},
	{"update_alert", patch, "/api/alerts/{id}", mde, "alerts", generic, false},
	{"alert_domains", get, "/api/alerts/{id}/domains", mde, "alerts", generic, false},
	{"alert_files", get, "/api/alerts/{id}/files", mde, "alerts", generic, false},
	{"alert_ips", get, "/api/alerts/{id}/ips", mde, "alerts", generic, false},
	{"alert_machine", get, "/api/alerts/{id}/machine", mde, "alerts", generic, false},
	{"alert_user", get, "/api/alerts/{id}/user", mde, "alerts", generic, false},

	// Machines.
	{"list_machines", get, "/api/machines", mde, "machines", generic, false},
	{"find_machines_by_ip", get, "/api/machines/findbyip(..)", mde, "machines", generic, false},
	{"find_machines_by_tag", get, "/api/machines/findbytag", mde, "machines", generic, false},
	{"tag_machines", post, "/api/machines/AddOrRemoveTagForMultipleMachines", mde, "machines", generic, false},
	{"software_inventory_by_machine", get, "/api/machines/SoftwareInventoryByMachine", mde, "exports", jsonExp, false},
	{"software_vulnerabilities_by_machine", get, "/api/machines/SoftwareVulnerabilitiesByMachine", mde, "exports", jsonExp, false},
	{"software_vulnerability_changes_by_machine", get, "/api/machines/SoftwareVulnerabilityChangesByMachine", mde, "exports", jsonExp, false},
	{"baseline_compliance_by_machine", get, "/api/machines/BaselineComplianceAssessmentByMachine", mde, "exports", jsonExp, false},
	{"json_export_other", get, "/api/machines/*ByMachine", mde, "exports", jsonExp, false},
	{"software_inventory_export", get, "/api/machines/SoftwareInventoryExport", mde, "export_files", fileExp, false},
	{"software_vulnerabilities_export", get, "/api/machines/SoftwareVulnerabilitiesExport", mde, "export_files", fileExp, false},
	{"baseline_compliance_export", get, "/api/machines/BaselineComplianceAssessmentExport", mde, "export_files", fileExp, false},
	// The reference found 5/min 20/h on one page and 30/min 1,000/h on another: the lower.
	{"info_gathering_export", get, "/api/machines/InfoGatheringExport", mde, "export_files", fileExp, false},
	{"file_export_other", get, "/api/machines/*Export", mde, "export_files", fileExp, false},
	{"get_machine", get, "/api/machines/{id}", mde, "machines", generic, false},
	{"update_machine", patch, "/api/machines/{id}", mde, "machines", generic, false},
	{"machine_alerts", get, "/api/machines/{id}/alerts", mde, "machines", generic, false},
	{"machine_logon_users", get, "/api/machines/{id}/logonusers", mde, "machines", generic, false},
	{"machine_software", get, "/api/machines/{id}/software", mde, "machines", generic, false},
	{"machine_vulnerabilities", get, "/api/machines/{id}/vulnerabilities", mde, "machines", Limits{PerMinute: 50, PerHour: 1500}, false},
	{"machine_recommendations", get, "/api/machines/{id}/recommendations", mde, "machines", generic, false},
	{"machine_missing_kbs", get, "/api/machines/{id}/getmissingkbs", mde, "machines", generic, false},
	{"tag_machine", post, "/api/machines/{id}/tags", mde, "machines", generic, false},
	{"isolate_machine", post, "/api/machines/{id}/isolate", mde, "machines", generic, false},
	{"unisolate_machine", post, "/api/machines/{id}/unisolate", mde, "machines", generic, false},
	{"run_antivirus_scan", post, "/api/machines/{id}/runAntiVirusScan", mde, "machines", generic, false},
	{"collect_investigation_package", post, "/api/machines/{id}/collectInvestigationPackage", mde, "machines", generic, false},
	{"restrict_code_execution", post, "/api/machines/{id}/restrictCodeExecution", mde, "machines", generic, false},
	{"unrestrict_code_execution", post, "/api/machines/{id}/unrestrictCodeExecution", mde, "machines", generic, false},
	{"stop_and_quarantine_file", post, "/api/machines/{id}/StopAndQuarantineFile", mde, "machines", generic, false},
	{"offboard_machine", post, "/api/machines/{id}/offboard", mde, "machines", generic, false},
	{"start_investigation", post, "/api/machines/{id}/startInvestigation", mde, "investigations", Limits{PerHour: 50}, false},
	{"run_live_response", post, "/api/machines/{id}/runliveresponse", mde, "liveresponse", perMinute(10), false},

	// Machine actions.
	{"list_machine_actions", get, "/api/machineactions", mde, "machineactions", generic, false},
	{"get_machine_action", get, "/api/machineactions/{id}", mde, "machineactions", generic, false},
	{"get_package_uri", get, "/api/machineactions/{id}/GetPackageUri", mde, "machineactions", Limits{PerMinute: 2, PerHour: 120}, false},
	{"cancel_machine_action", post, "/api/machineactions/{id}/cancel", mde, "machineactions", generic, false},
	{"get_live_response_result", get, "/api/machineactions/{id}/GetLiveResponseResultDownloadLink(..)", mde, "machineactions", generic, false},

	// Indicators.
	{"list_indicators", get, "/api/indicators", mde, "indicators", generic, false},
	{"submit_indicator", post, "/api/indicators", mde, "indicators", generic, false},
	{"import_indicators", post, "/api/indicators/import", mde, "indicators_import", perMinute(30), false},
	{"batch_delete_indicators", post, "/api/indicators/BatchDelete", mde, "indicators", Limits{PerMinute: 30, PerHour: 1500}, false},
	{"delete_indicator", del, "/api/indicators/{id}", mde, "indicators", generic, false},

	// Files, IPs, domains, users.
	{"get_file", get, "/api/files/{sha}", mde, "files", generic, false},
	{"file_alerts", get, "/api/files/{sha}/alerts", mde, "files", generic, false},
	{"file_machines", get, "/api/files/{sha}/machines", mde, "files", generic, false},
	{"file_stats", get, "/api/files/{sha}/stats", mde, "files", generic, false},
	{"ip_alerts", get, "/api/ips/{ip}/alerts", mde, "ips", generic, false},
	{"ip_stats", get, "/api/ips/{ip}/stats", mde, "ips", generic, false},
	{"domain_alerts", get, "/api/domains/{domain}/alerts", mde, "domains", generic, false},
	{"domain_machines", get, "/api/domains/{domain}/machines", mde, "domains", generic, false},
	{"domain_stats", get, "/api/domains/{domain}/stats", mde, "domains", generic, false},
	{"user_alerts", get, "/api/users/{user}/alerts", mde, "users", generic, false},
	{"user_machines", get, "/api/users/{user}/machines", mde, "users", generic, false},

	// Investigations.
	{"list_investigations", get, "/api/investigations", mde, "investigations", generic, false},
	{"get_investigation", get, "/api/investigations/{id}", mde, "investigations", generic, false},

	// Vulnerability management.
	{"list_vulnerabilities", get, "/api/vulnerabilities", mde, "vulnerabilities", generic, false},
	{"machine_vulnerabilities_all", get, "/api/vulnerabilities/machinesVulnerabilities", mde, "vulnerabilities", generic, false},
	{"get_vulnerability", get, "/api/vulnerabilities/{id}", mde, "vulnerabilities", generic, false},
	{"vulnerability_machines", get, "/api/vulnerabilities/{id}/machineReferences", mde, "vulnerabilities", generic, false},
	{"list_software", get, "/api/software", mde, "software", generic, false},
	{"get_software", get, "/api/software/{id}", mde, "software", generic, false},
	{"software_distributions", get, "/api/software/{id}/distributions", mde, "software", generic, false},
	{"software_machines", get, "/api/software/{id}/machineReferences", mde, "software", generic, false},
	{"software_vulnerabilities", get, "/api/software/{id}/vulnerabilities", mde, "software", generic, false},
	{"software_missing_kbs", get, "/api/software/{id}/getmissingkbs", mde, "software", generic, false},
	{"list_recommendations", get, "/api/recommendations", mde, "recommendations", generic, false},
	{"get_recommendation", get, "/api/recommendations/{id}", mde, "recommendations", generic, false},
	{"recommendation_software", get, "/api/recommendations/{id}/software", mde, "recommendations", generic, false},
	{"recommendation_machines", get, "/api/recommendations/{id}/machineReferences", mde, "recommendations", generic, false},
	{"recommendation_vulnerabilities", get, "/api/recommendations/{id}/vulnerabilities", mde, "recommendations", generic, false},
	{"device_av_info", get, "/api/deviceavinfo", mde, "exports", jsonExp, false},

	// Advanced hunting (read-only POST: may be replayed; queries run up to 200 s).
	{"advanced_queries_run", post, "/api/advancedqueries/run", mde, "advancedqueries", hunting, true},

	// Defender XDR on the same hosts (learn.microsoft.com/defender-xdr/api-list-incidents,
	// api-get-incident, api-update-incidents, api-advanced-hunting). The incidents API also
	// states 50/min and 1,500/h "overall"; each method is counted here on its own.
	{"xdr_list_incidents", get, "/api/incidents", xdr, "incidents", xdrList, false},
	{"xdr_get_incident", get, "/api/incidents/{id}", xdr, "incidents", generic, false},
	{"xdr_update_incident", patch, "/api/incidents/{id}", xdr, "incidents", xdrList, false},
	// "At least 45 calls per minute per tenant", no hourly count (a CPU quota instead); a
	// query is cut after 3 minutes.
	{"xdr_advanced_hunting_run", post, "/api/advancedhunting/run", xdr, "advancedqueries", Limits{PerMinute: 45, Timeout: 4 * time.Minute}, true},

	// Microsoft Graph security: Graph documents no per-API figures for it (its general
	// throttling applies), so the generic MDE limits stand in, and hunting keeps the hunting
	// APIs' 45/min and 1,500/h.
	{"graph_list_incidents", get, "/{v1.0,beta}/security/incidents", graph, "graph_security", generic, false},
	{"graph_get_incident", get, "/{v1.0,beta}/security/incidents/{id}", graph, "graph_security", generic, false},
	{"graph_update_incident", patch, "/{v1.0,beta}/security/incidents/{id}", graph, "graph_security", generic, false},
	{"graph_list_alerts", get, "/{v1.0,beta}/security/alerts_v2", graph, "graph_security", generic, false},
	{"graph_get_alert", get, "/{v1.0,beta}/security/alerts_v2/{id}", graph, "graph_security", generic, false},
	{"graph_update_alert", patch, "/{v1.0,beta}/security/alerts_v2/{id}", graph, "graph_security", generic, false},
	{"graph_run_hunting_query", post, "/{v1.0,beta}/security/runHuntingQuery", graph, "graph_security", hunting, true},
}

// segment is one element of a route: a literal, {x} (any), name(..) (an OData function of
// that name) or *Suffix.
type segment struct {
	kind byte // 'l' literal, 'a' any, 'f' function, 's' suffix
	text string
}

func parseRoute(route string) (graphRoot bool, segs []segment) {
	switch {
	case strings.HasPrefix(route, "/api/"):
		route = route[len("/api/"):]
	case strings.HasPrefix(route, "/{v1.0,beta}/"):
		route, graphRoot = route[len("/{v1.0,beta}/"):], true
	default:
		panic("proxy: route " + route + " has no known root")
	}
	for _, s := range strings.Split(route, "/") {
		switch {
		case s == "**":
			return graphRoot, segs // a default entry: never matched by route
		case strings.HasPrefix(s, "{"):
			segs = append(segs, segment{kind: 'a'})
		case strings.HasSuffix(s, "(..)"):
			segs = append(segs, segment{kind: 'f', text: strings.TrimSuffix(s, "(..)")})
		case strings.HasPrefix(s, "*"):
			segs = append(segs, segment{kind: 's', text: s[1:]})
		default:
			segs = append(segs, segment{kind: 'l', text: s})
		}
	}
	return graphRoot, segs
}

func (s segment) match(p string) bool {
	switch s.kind {
	case 'a':
		return p != ""
	case 'f':
		n := len(s.text)
		return len(p) > n && p[n] == '(' && strings.EqualFold(p[:n], s.text)
	case 's':
		return len(p) > len(s.text) && hasSuffixFold(p, s.text)
	}
	return strings.EqualFold(p, s.text)
}

// apiTable classifies requests; built per Handler from the overrides, immutable after.
type apiTable struct {
	list  []API
	mde   map[string][]int // lowercase first segment under /api -> entries in table order
	graph map[string][]int // the same under /v1.0 and /beta
}

// maxFirstSegment bounds the first path segment looked up (longer ones are "other").
const maxFirstSegment = 64

func newAPITable(families, apis map[string]Limits, timeout time.Duration) *apiTable {
	t := &apiTable{list: make([]API, len(apiDefs)), mde: map[string][]int{}, graph: map[string][]int{}}
	for i, d := range apiDefs {
		graphRoot, segs := parseRoute(d.route)
		a := API{Name: d.name, Method: d.method, Route: d.route, Surface: d.surface, Family: d.family,
			Limits: d.limits, Replay: d.replay, Index: i, family: familyIndex(d.family), segs: segs}
		a.Limits = a.Limits.over(families[d.family]).over(apis[d.name])
		if a.Limits.Timeout <= 0 {
			a.Limits.Timeout = timeout
		}
		t.list[i] = a
		if len(segs) == 0 {
			continue
		}
		m := t.mde
		if graphRoot {
			m = t.graph
		}
		first := strings.ToLower(segs[0].text)
		m[first] = append(m[first], i)
	}
	return t
}

// over applies an override: its non-zero fields replace l's.
func (l Limits) over(o Limits) Limits {
	if o.PerMinute != 0 {
		l.PerMinute = o.PerMinute
	}
	if o.PerHour != 0 {
		l.PerHour = o.PerHour
	}
	if o.Timeout > 0 {
		l.Timeout = o.Timeout
	}
	return l
}

// The default entries' indexes in apiDefs.
const (
	apiOther      = 0
	apiGraphOther = 1
)

// classify returns the API of a request: method (any when "") and cleaned path. It
// allocates nothing.
func (t *apiTable) classify(method, path string) *API {
	rest, graphRoot, ok := splitRoot(path)
	if !ok {
		return &t.list[apiOther]
	}
	m, def := t.mde, apiOther
	if graphRoot {
		m, def = t.graph, apiGraphOther
	}
	rest = strings.TrimSuffix(rest, "/")
	first, tail := cutSegment(rest)
	if len(first) > maxFirstSegment {
		return &t.list[def]
	}
	var buf [maxFirstSegment]byte
	for i := 0; i < len(first); i++ {
		c := first[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	n := 0 // segments after the first
	if tail != "" {
		n = 1 + strings.Count(tail, "/")
	}
	for _, i := range m[string(buf[:len(first)])] { // no allocation: the compiler keys the map with the bytes
		a := &t.list[i]
		if len(a.segs) != n+1 || method != "" && a.Method != "" && a.Method != method {
			continue
		}
		if matchSegments(a.segs[1:], tail) {
			return a
		}
	}
	return &t.list[def]
}

func matchSegments(segs []segment, rest string) bool {
	for _, s := range segs {
		if rest == "" {
			return false
		}
		var p string
		p, rest = cutSegment(rest)
		if !s.match(p) {
			return false
		}
	}
	return rest == ""
}

// splitRoot strips /api or /api/v1.0 (any case; graphRoot false) or /v1.0 or /beta (graphRoot
// true) from a path. ok is false for a path under neither.
func splitRoot(path string) (rest string, graphRoot, ok bool) {
	if hasPrefixFold(path, "/api") && (len(path) == 4 || path[4] == '/') {
		rest = strings.TrimPrefix(path[4:], "/")
		if hasPrefixFold(rest, "v1.0") && (len(rest) == 4 || rest[4] == '/') {
			rest = strings.TrimPrefix(rest[4:], "/")
		}
		return rest, false, true
	}
	for _, v := range [...]string{"/v1.0/", "/beta/"} {
		if hasPrefixFold(path, v) {
			return path[len(v):], true, true
		}
	}
	return "", false, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// isGraphSecurityPath reports whether a lowercase path is under Graph's security API, the
// only part of Graph the gateway forwards: /v1.0/security or /beta/security and below.
func isGraphSecurityPath(lower string) bool {
	for _, v := range [...]string{"/v1.0/security", "/beta/security"} {
		if strings.HasPrefix(lower, v) && (len(lower) == len(v) || lower[len(v)] == '/') {
			return true
		}
	}
	return false
}

// APIs returns the built-in table with its documented limits (a Timeout of zero means
// limits.upstream_timeout), in table order, "other" and "graph_other" first: what
// `mdegate apis` prints. The slice is the caller's.
func APIs() []API {
	t := newAPITable(nil, nil, 0)
	out := make([]API, len(t.list))
	copy(out, t.list)
	return out
}

// APIsWith returns the table as a Handler built with these Options.Families, Options.APIs
// and Options.CallTimeout would use it: effective limits, timeouts resolved (a zero
// callTimeout means DefaultHeaderTimeout). For `mdegate apis -config` and for sizing the
// transport's header timeout before a Handler exists. The slice is the caller's.
func APIsWith(families, apis map[string]Limits, callTimeout time.Duration) []API {
	if callTimeout <= 0 {
		callTimeout = DefaultHeaderTimeout
	}
	return newAPITable(families, apis, callTimeout).list
}

// APIs returns the handler's table with its effective limits (overrides applied, timeouts
// resolved), in table order. The slice is the caller's.
func (h *Handler) APIs() []API {
	out := make([]API, len(h.apis.list))
	copy(out, h.apis.list)
	return out
}

// APINames lists the table's names (limits.apis.NAME), in table order.
func APINames() []string {
	names := make([]string, len(apiDefs))
	for i, d := range apiDefs {
		names[i] = d.name
	}
	return names
}

// APIOf classifies a request as the gateway does, with the built-in limits.
func APIOf(method, path string) *API { return defaultAPIs.classify(method, path) }

var defaultAPIs = newAPITable(nil, nil, 0)

// named returns the API of that name, or nil.
func (t *apiTable) named(name string) *API {
	for i := range t.list {
		if t.list[i].Name == name {
			return &t.list[i]
		}
	}
	return nil
}
