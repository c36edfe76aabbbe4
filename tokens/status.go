package tokens

import "time"

// State is where a tenant's token stands, for readiness and metrics.
type State string

const (
	// StateNever: no token was ever requested for the tenant.
	StateNever State = "never"
	// StateOK: the tenant holds a token that is still injected.
	StateOK State = "ok"
	// StateFailing: the last request for a token failed and no usable token is held.
	StateFailing State = "failing"
	// StateExpired: a token was held but ran out (or MDE refused it) and none has replaced it
	// yet; the next request fetches one.
	StateExpired State = "expired"
)

// Status is a read-only view of one tenant's token state. It never holds the token.
type Status struct {
	State State
	// Code is Entra's error code of the last failure ("AADSTS700016"), or "" when the last
	// fetch succeeded or Entra did not answer.
	Code string
	// Hint explains the last failure to an operator; "" without one.
	Hint string
	// Failures counts consecutive failed fetches; 0 after a success.
	Failures int
	// Expires is when the held token expires; zero when none is held.
	Expires time.Time
	// Fetched is when the last token was obtained; zero when never.
	Fetched time.Time
}

// Status reports the tenant's token state without contacting Entra. A tenant that still has
// a usable token is ok even when a background refresh just failed (Failures says so).
func (s *Source) Status(tenantID string) Status {
	v, ok := s.entries.Load(tenantID)
	if !ok {
		return Status{State: StateNever}
	}
	e := v.(*entry)
	var st Status
	h := e.tok.Load()
	e.mu.Lock()
	st.Failures, st.Fetched = e.failures, e.fetched
	if e.lastErr != nil {
		st.Code, st.Hint = e.lastErr.Code, e.lastErr.Hint()
	}
	e.mu.Unlock()
	switch {
	case h != nil && s.now().Before(h.usable):
		st.State, st.Expires = StateOK, h.ExpiresOn
	case st.Failures > 0:
		st.State = StateFailing
	case st.Fetched.IsZero():
		st.State = StateNever // an entry whose first fetch is still running
	default:
		st.State = StateExpired
		if h != nil {
			st.Expires = h.ExpiresOn
		}
	}
	return st
}
