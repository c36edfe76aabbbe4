package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/mdegate/mdegate/internal/config"
)

// consentURL prints, for one tenant or every tenant, the links its admin opens to consent to
// the tenant's app: the legacy form the MDE partner docs give and the v2 adminconsent form.
// Entra documents redirect_uri as required on the v2 link (issue 17): without one (the flag
// or app.redirect_uri) only the legacy link is printed, and stderr says why.
func consentURL(configPath, tenant, redirectURI string, stdout, stderr io.Writer) error {
	cfg, err := loadForCommand(configPath, stderr)
	if err != nil {
		return err
	}
	tenants := cfg.Tenants
	if tenant != "" {
		i, err := tenantByName(cfg, tenant)
		if err != nil {
			fmt.Fprintf(stderr, "mdegate consent-url: %v\n", err)
			return errReported
		}
		tenants = cfg.Tenants[i : i+1]
	}
	noRedirect := false
	for i, t := range tenants {
		app := cfg.AppOf(t)
		uri := redirectURI
		if uri == "" {
			uri = app.RedirectURI
		}
		noRedirect = noRedirect || uri == ""
		legacy, v2 := consentLinks(cfg.Resolved.Cloud.LoginEndpoint, t.ID, app.ClientID, app.Scope, uri)
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s (tenant %s, app %s)\n  legacy: %s\n", t.Name, t.ID, app.ClientID, legacy)
		if v2 != "" {
			fmt.Fprintf(stdout, "  v2:     %s\n", v2)
		}
	}
	if noRedirect {
		fmt.Fprintln(stderr, "note: no redirect URI (set app.redirect_uri or -redirect-uri to a reply URL registered on the app): "+
			"only the legacy partner link is printed where it is missing, because Entra requires redirect_uri on the v2 admin consent link")
	}
	return nil
}

// consentLinks builds the admin consent links for a tenant, the one place they are built.
// Both name the customer's tenant rather than "common", so the admin signs in to the right
// directory. v2 is "" without a redirect URI, which Entra requires on it.
func consentLinks(login, tenantID, clientID, scope, redirectURI string) (legacy, v2 string) {
	login = strings.TrimRight(login, "/")
	q := url.Values{}
	q.Set("client_id", clientID)
	q.Set("response_type", "code")
	q.Set("prompt", "consent")
	q.Set("sso_reload", "true")
	if redirectURI != "" {
		q.Set("redirect_uri", redirectURI)
	}
	legacy = login + "/" + url.PathEscape(tenantID) + "/oauth2/authorize?" + q.Encode()

	if redirectURI == "" {
		return legacy, ""
	}
	q = url.Values{}
	q.Set("client_id", clientID)
	q.Set("scope", scope)
	q.Set("redirect_uri", redirectURI)
	v2 = login + "/" + url.PathEscape(tenantID) + "/v2.0/adminconsent?" + q.Encode()
	return legacy, v2
}

// loadForCommand loads the configuration for an onboarding command; problems are printed,
// each with its key and line, and reported as errReported.
func loadForCommand(path string, stderr io.Writer) (*config.Config, error) {
	cfg, _, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, errReported
	}
	return cfg, nil
}
