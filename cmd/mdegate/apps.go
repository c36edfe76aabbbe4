package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/tokens"
)

// The token sources built from the Entra apps of a configuration: the top-level app and the
// per-tenant overrides, each with its resolved credential (secret, certificate or a federated
// token file).

// sourceOptions is one app's token source options.
func sourceOptions(c *config.Config, a *config.AppConfig, cr config.Credential, client *http.Client, log zerolog.Logger, onFetch func(string, time.Duration, *tokens.Error)) tokens.Options {
	o := tokens.Options{
		Authority:  c.Resolved.Cloud.LoginEndpoint,
		ClientID:   a.ClientID,
		Secret:     cr.Secret,
		Certs:      cr.Certs,
		Key:        cr.Key,
		Scope:      a.Scope,
		HTTPClient: client,
		Logger:     log,
		OnFetch:    onFetch,
	}
	if f := cr.FederatedTokenFile; f != "" {
		// Re-read on every token request: the kubelet rotates the projected token.
		o.Assertion = func(context.Context) (string, error) { return config.ReadAssertion(f) }
	}
	return o
}

// newTokenSources builds one tokens.Source per distinct app and credential, and the map from
// each tenant to its source, so that a request finds its tenant's token in O(1). onFetch, when
// not nil, hears about every token fetch.
func newTokenSources(c *config.Config, client *http.Client, log zerolog.Logger, onFetch func(string, time.Duration, *tokens.Error)) (*tokens.Apps, error) {
	byIdentity := map[string]*tokens.Source{}
	byTenant := make(map[string]*tokens.Source, len(c.Tenants))
	var all []*tokens.Source
	fail := func(err error) (*tokens.Apps, error) {
		for _, s := range all {
			s.Close()
		}
		return nil, err
	}
	get := func(a *config.AppConfig, cr config.Credential) (*tokens.Source, error) {
		id := a.Identity(cr)
		if s, ok := byIdentity[id]; ok {
			return s, nil
		}
		s, err := tokens.New(sourceOptions(c, a, cr, client, log, onFetch))
		if err != nil {
			return nil, err
		}
		byIdentity[id] = s
		all = append(all, s)
		return s, nil
	}
	def, err := get(&c.App, c.Resolved.App)
	if err != nil {
		return fail(err)
	}
	for i, t := range c.Tenants {
		if t.App == nil {
			continue
		}
		s, err := get(t.App, c.Resolved.TenantApps[i])
		if err != nil {
			return fail(fmt.Errorf("tenants[%d].app: %w", i, err))
		}
		byTenant[t.ID] = s
	}
	return tokens.NewApps(def, byTenant, all), nil
}

var errNoTenant = errors.New("no such tenant in the configuration")

// tenantByName finds a configured tenant by name or ID, case-insensitively, and returns its
// index in cfg.Tenants.
func tenantByName(cfg *config.Config, name string) (int, error) {
	if i := cfg.TenantIndex(name); i >= 0 {
		return i, nil
	}
	return -1, fmt.Errorf("tenant %q: %w", name, errNoTenant)
}
