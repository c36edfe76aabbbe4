package routing

// Probed reports whether a probe round has measured the endpoint yet (reachable or not).
// Endpoints are probed only while some tenant's region is auto.
func (e *Endpoint) Probed() bool { return e.reachable.Load() != 0 }
