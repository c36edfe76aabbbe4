package proxy

import (
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
	Family FamilyIndex
	// API is the API of the table the call was classified as; nil when the gateway refused
	// it before (not an API path).
	API *API
	// Region is the region of the endpoint that answered (or was last tried); "" when none was.
	Region string
	// Status is the status answered to the client (499 when the client left first).
	Status int
	// Total is the whole time in the gateway; Upstream the part spent waiting on MDE's headers.
	Total, Upstream time.Duration
	// Reached is true when MDE answered (any status); false when the gateway answered itself
	// or MDE could not be reached.
	Reached bool
	// UpstreamFailed is true when the round trip to MDE failed (unreachable or timed out).
	UpstreamFailed bool
	// Attempts is how many times the request was sent to MDE (failovers and replays
	// included); 0 when it never was.
	Attempts int
	// FailoverFrom is the region of the first attempt when another region's endpoint was
	// tried after it; "" when there was no failover.
	FailoverFrom string
	// ThrottleWait is how long the call waited for a quota slot or out MDE's Retry-After;
	// zero when it did not wait.
	ThrottleWait time.Duration
}

// FamilyIndex is an API family (see families.go) as a dense index into FamilyNames(), so
// metrics labels stay bounded whatever paths callers send.
type FamilyIndex uint8

// FamilyOther is a path outside the known families.
const FamilyOther FamilyIndex = 0

func (f FamilyIndex) String() string {
	if int(f) < len(familyNames) {
		return familyNames[f]
	}
	return familyNames[0]
}

// FamilyOf classifies a request path, whatever its method, without allocating:
// "/api/Alerts/123" is "alerts".
func FamilyOf(path string) FamilyIndex { return defaultAPIs.classify("", path).family }
