package tokens

import (
	"slices"
	"strings"
	"time"
)

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

// Status is a read-only view of one tenant's token state for one resource. It never holds
// the token.
type Status struct {
	// State is ok, failing, expired or never.
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

// Status reports the tenant's token state for the resource of Token, without contacting
// Entra. A tenant that still has a usable token is ok even when a background refresh just
// failed (Failures says so).
func (s *Source) Status(tenantID string) Status { return s.status(s.def, tenantID) }

// StatusFor is Status for the tokens of TokenFor's resource.
func (s *Source) StatusFor(tenantID, res string) Status {
	v, ok := s.resources.Load(res)
	if !ok {
		return Status{State: StateNever}
	}
	return s.status(v.(*resource), tenantID)
}

// ResourceStatus is the token state of one (tenant, resource).
type ResourceStatus struct {
	// Resource is the token's audience, e.g. https://api.security.microsoft.com.
	Resource string
	Status
}

// Statuses reports the tenant's token state for every resource it was given a token for, or
// asked one for: Token's resource always, first; the others sorted.
func (s *Source) Statuses(tenantID string) []ResourceStatus {
	out := []ResourceStatus{{Resource: s.def.name, Status: s.Status(tenantID)}}
	var others []*resource
	s.resources.Range(func(_, v any) bool {
		if r := v.(*resource); r != s.def {
			if _, ok := r.entries.Load(tenantID); ok {
				others = append(others, r)
			}
		}
		return true
	})
	slices.SortFunc(others, func(a, b *resource) int { return strings.Compare(a.name, b.name) })
	for _, r := range others {
		out = append(out, ResourceStatus{Resource: r.name, Status: s.status(r, tenantID)})
	}
	return out
}

func (s *Source) status(r *resource, tenantID string) Status {
	v, ok := r.entries.Load(tenantID)
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
