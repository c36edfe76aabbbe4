package proxy

import (
	"strings"
	"time"

	"github.com/mdegate/mdegate/routing"
)

// Metrics observes forwarded calls; a Prometheus implementation lives in package metrics. The
// handler calls Start when a call arrives and Done exactly once when it has been answered.
// Implementations must be cheap and must not block: they run on every request.
type Metrics interface {
	Start()
	Done(o Observation)
}

// Observation is one finished call. It is passed by value so observing allocates nothing.
type Observation struct {
	// Tenant is the tenant the call was for; nil when the caller named none or an unknown one.
	Tenant *routing.Tenant
	// Method is the request method as the client sent it.
	Method string
	// Family is the API family of the path.
	Family Family
	// Status is the status answered to the client (499 when the client left first).
	Status int
	// Total is the whole time in the gateway; Upstream the part spent waiting on MDE's headers.
	Total, Upstream time.Duration
	// Reached is true when MDE answered (any status); false when the gateway answered itself
	// or MDE could not be reached.
	Reached bool
	// UpstreamFailed is true when the round trip to MDE failed (unreachable or timed out).
	UpstreamFailed bool
}

// Family is the API family of a path: its first segment under /api/, out of a fixed list, so
// metrics labels stay bounded whatever paths callers send.
type Family uint8

// The families Defender for Endpoint's API documents; every other path is FamilyOther.
var families = [...]string{
	"other", "alerts", "machines", "machineactions", "advancedqueries", "advancedhunting",
	"indicators", "files", "ips", "domains", "urls", "users", "vulnerabilities", "software",
	"recommendations", "exposurescore", "configurationscore", "investigations", "libraryfiles",
	"remediationtasks", "deviceavinfo", "browserextensions", "certificateinventory", "baselineconfigurations",
}

// FamilyOther is a path outside the known families (or not under /api/).
const FamilyOther Family = 0

// Families lists every family name, FamilyOther's first; a Family indexes it.
func Families() []string { return append([]string(nil), families[:]...) }

func (f Family) String() string {
	if int(f) < len(families) {
		return families[f]
	}
	return families[0]
}

// FamilyOf classifies a request path without allocating: "/api/Alerts/123" is "alerts".
func FamilyOf(path string) Family {
	rest, ok := strings.CutPrefix(path, "/api/")
	if !ok {
		return FamilyOther
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	for i := 1; i < len(families); i++ {
		if strings.EqualFold(rest, families[i]) {
			return Family(i)
		}
	}
	return FamilyOther
}
