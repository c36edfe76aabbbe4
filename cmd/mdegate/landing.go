package main

import (
	"context"
	"errors"
	"strings"

	"github.com/mdegate/mdegate/internal/consent"
	"github.com/mdegate/mdegate/tokens"
)

// The consent landing page (issue 19) at /consent/callback of the caller-facing listeners
// (listen, tls.listen), where the app's redirect URI points (public_url + the path). It is
// served ahead of the proxy: customers' admins reach it from the internet without a caller
// key; internal/consent checks the signed state and rate-limits it.

// newLanding builds the landing page's handler under the gateway's signer. Its lookups and
// token fetches use the configuration current at each landing.
func (gw *gateway) newLanding() *consent.Handler {
	return consent.New(consent.Options{
		Signer: gw.signer,
		Lookup: gw.lookupTenant,
		Roles:  gw.freshRoles,
		// Expected is fixed at start, as the signer is; app.roles rarely changes.
		Expected: gw.cur.Load().cfg.App.Roles,
		Observe: func(res consent.Result) {
			ev := gw.log.Info().Str("alias", res.Alias).Str("tenant_id", res.TenantID).
				Bool("configured", res.Configured).Bool("consented", res.Consented)
			if res.EntraError != "" {
				ev.Str("entra_error", res.EntraError)
			}
			if res.Mismatch {
				ev.Bool("mismatch", true)
			}
			if len(res.Missing) > 0 {
				ev.Strs("missing_roles", res.Missing)
			}
			if res.Err != nil {
				ev.AnErr("token_error", res.Err)
			}
			ev.Msg("consent landing")
		},
	})
}

// lookupTenant finds a configured tenant by alias or ID in the current routing table.
func (gw *gateway) lookupTenant(key string) (alias, tenantID string, ok bool) {
	g := gw.cur.Load()
	if g == nil {
		return "", "", false
	}
	tn, err := g.routes.Resolve(key)
	if err != nil {
		return "", "", false
	}
	return tn.Name, tn.ID, true
}

// freshRoles fetches a token for the tenant now, as `mdegate token` does (its own token
// source, so no cached token or back-off of the gateway's answers), and returns the roles it
// carries. A tenant not in the configuration gets the top-level app's token. The token
// itself goes no further than this function.
func (gw *gateway) freshRoles(ctx context.Context, tenantID string) ([]string, error) {
	g := gw.acquire()
	if g == nil {
		return nil, errors.New("the gateway is shutting down")
	}
	cfg := g.cfg
	g.release()
	apps, stop, err := commandSources(cfg)
	if err != nil {
		return nil, err
	}
	defer stop() // one fetch: keep no connection to Entra open after it
	tok, err := apps.Token(ctx, strings.ToLower(tenantID))
	if err != nil {
		var te *tokens.Error
		if errors.As(err, &te) {
			return nil, te // its Message() is what the landing page shows
		}
		return nil, err
	}
	c, err := decodeClaims(strings.TrimPrefix(tok.Bearer, "Bearer "))
	if err != nil {
		return nil, err
	}
	return c.Roles, nil
}
