package proxy

import (
	"net/http"
	"strings"
	"time"
)

// FamilyLimits are the limits of one API family, per (app, tenant).
type FamilyLimits struct {
	// PerMinute is how many requests MDE accepts per minute. Zero means the family's default;
	// a negative value means no per-minute limit.
	PerMinute int
	// PerHour is how many requests MDE accepts per hour. Zero means the family's default
	// (which is none for some families); a negative value means no hourly limit.
	PerHour int
	// Timeout bounds the wait for MDE's response headers. Zero means the family's default,
	// else Options.CallTimeout.
	Timeout time.Duration
}

// Family is an API family: the requests MDE counts against one quota. The proxy classifies
// every request into one from a table built at construction.
type Family struct {
	// Name is the family's configuration name (limits.families.NAME).
	Name string
	// Index is a dense index from 0 to the number of families - 1, for array-backed state.
	Index int
	// Limits are the effective limits (defaults with the configuration applied).
	Limits FamilyLimits
	// replay is true when a request of the family may be sent twice whatever its method:
	// POST /api/advancedqueries/run reads only.
	replay bool
}

// defaultFamilies are MDE's documented limits (reference mde-api.md, "Rate limits"). The
// entity families share the generic 100/min and 1,500/hour but are counted per endpoint, so
// each has its own family; "other" takes any path not listed.
var defaultFamilies = []struct {
	name   string
	limits FamilyLimits
}{
	{"other", FamilyLimits{100, 1500, 0}},
	{"alerts", FamilyLimits{100, 1500, 0}},
	{"alerts_batchupdate", FamilyLimits{10, 500, 0}},
	{"machines", FamilyLimits{100, 1500, 0}},
	{"machineactions", FamilyLimits{100, 1500, 0}},
	{"liveresponse", FamilyLimits{10, 0, 0}},
	{"indicators", FamilyLimits{100, 1500, 0}},
	{"indicators_import", FamilyLimits{30, 0, 0}},
	{"files", FamilyLimits{100, 1500, 0}},
	{"ips", FamilyLimits{100, 1500, 0}},
	{"domains", FamilyLimits{100, 1500, 0}},
	{"users", FamilyLimits{100, 1500, 0}},
	{"investigations", FamilyLimits{100, 1500, 0}},
	{"vulnerabilities", FamilyLimits{100, 1500, 0}},
	{"software", FamilyLimits{100, 1500, 0}},
	{"recommendations", FamilyLimits{100, 1500, 0}},
	{"advancedqueries", FamilyLimits{45, 1500, 4 * time.Minute}},
	{"exports", FamilyLimits{30, 1000, 0}},   // JSON exports: .../SoftwareInventoryByMachine ...
	{"export_files", FamilyLimits{5, 20, 0}}, // file exports: .../SoftwareInventoryExport ...
}

// FamilyNames lists the API families' configuration names in table order, "other" first; a
// FamilyIndex indexes it.
func FamilyNames() []string {
	names := make([]string, len(defaultFamilies))
	for i, f := range defaultFamilies {
		names[i] = f.name
	}
	return names
}

// families is the classification table, built once.
type families struct {
	list   []Family
	byName map[string]*Family
}

// newFamilies applies overrides (by name; unknown names are ignored, the config validates
// them) and the default timeout to the built-in table.
func newFamilies(overrides map[string]FamilyLimits, timeout time.Duration) *families {
	fs := &families{list: make([]Family, len(defaultFamilies)), byName: make(map[string]*Family, len(defaultFamilies))}
	for i, d := range defaultFamilies {
		f := Family{Name: d.name, Index: i, Limits: d.limits, replay: d.name == "advancedqueries"}
		if o, ok := overrides[d.name]; ok {
			if o.PerMinute != 0 {
				f.Limits.PerMinute = o.PerMinute
			}
			if o.PerHour != 0 {
				f.Limits.PerHour = o.PerHour
			}
			if o.Timeout > 0 {
				f.Limits.Timeout = o.Timeout
			}
		}
		if f.Limits.Timeout <= 0 {
			f.Limits.Timeout = timeout
		}
		fs.list[i] = f
	}
	for i := range fs.list {
		fs.byName[fs.list[i].Name] = &fs.list[i]
	}
	return fs
}

// classify returns the family of a request path under /api/. It allocates nothing: path
// segments are compared case-insensitively in place.
func (fs *families) classify(path string) *Family {
	rest := strings.TrimPrefix(path, "/api")
	rest = strings.TrimPrefix(rest, "/")
	if len(rest) >= 5 && strings.EqualFold(rest[:5], "v1.0/") {
		rest = rest[5:]
	}
	s1, rest := cutSegment(rest)
	s2, rest := cutSegment(rest)
	s3, _ := cutSegment(rest)
	name := ""
	switch {
	case strings.EqualFold(s1, "advancedqueries"):
		name = "advancedqueries"
	case strings.EqualFold(s1, "machines"):
		switch {
		case strings.EqualFold(s3, "runliveresponse"):
			name = "liveresponse"
		case hasSuffixFold(s2, "ByMachine"):
			name = "exports"
		case hasSuffixFold(s2, "Export"):
			name = "export_files"
		default:
			name = "machines"
		}
	case strings.EqualFold(s1, "alerts") && strings.EqualFold(s2, "batchUpdate"):
		name = "alerts_batchupdate"
	case strings.EqualFold(s1, "indicators") && strings.EqualFold(s2, "import"):
		name = "indicators_import"
	default:
		if f, ok := fs.byName[s1]; ok { // the usual, lower-case spelling
			return f
		}
		for i := range fs.list {
			if strings.EqualFold(fs.list[i].Name, s1) && !strings.Contains(fs.list[i].Name, "_") {
				return &fs.list[i]
			}
		}
		name = "other"
	}
	return fs.byName[name]
}

func cutSegment(s string) (seg, rest string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// replayable reports whether a request may be sent again after a failure in mid-request:
// GET and HEAD always, and the read-only POST /api/advancedqueries/run. Others (a machine
// isolation) never run twice.
func (f *Family) replayable(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || f.replay && method == http.MethodPost
}
