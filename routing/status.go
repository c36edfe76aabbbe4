package routing

import "time"

// Probed reports whether a probe round has measured the endpoint yet (reachable or not).
// Endpoints are probed only while some tenant's region is auto.
func (e *Endpoint) Probed() bool { return e.reachable.Load() != 0 }

// DownUntil returns when the endpoint's cool-down after failures ends; the zero time when it
// was never cooled down (or has recovered since). A time in the past means healthy.
func (e *Endpoint) DownUntil() time.Time {
	if n := e.downUntil.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}
