package main

import (
	"time"

	"github.com/mdegate/mdegate/tokens"
)

// resourceReadiness is one token resource of a tenant in /readyz (issue 17): the MDE API's
// always, and each other one (Defender XDR, Graph) the tenant's calls have needed.
type resourceReadiness struct {
	// Resource is the token's audience, e.g. https://api.security.microsoft.com.
	Resource string `json:"resource"`
	// Token is ok, failing, expired or never.
	Token     tokens.State `json:"token"`
	Code      string       `json:"code,omitempty"`
	Hint      string       `json:"hint,omitempty"`
	Failures  int          `json:"failures,omitempty"`
	ExpiresIn float64      `json:"expires_in_s,omitempty"`
}

// resourcesReadiness turns a tenant's token states per resource into /readyz's list.
func resourcesReadiness(sts []tokens.ResourceStatus, now time.Time) []resourceReadiness {
	out := make([]resourceReadiness, len(sts))
	for i, s := range sts {
		r := resourceReadiness{Resource: s.Resource, Token: s.State, Failures: s.Failures}
		if s.State != tokens.StateOK {
			r.Code, r.Hint = s.Code, s.Hint
		}
		if !s.Expires.IsZero() {
			r.ExpiresIn = s.Expires.Sub(now).Round(time.Second).Seconds()
		}
		out[i] = r
	}
	return out
}
