package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/consent"
)

// consentURLCommand is `mdegate consent-url`.
func consentURLCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := configFlag(fs)
	tenant := fs.String("tenant", "", "only this tenant (`name` or ID); unset: every tenant")
	redirectURI := fs.String("redirect-uri", "", "reply `URI` of the app (default app.redirect_uri, else public_url + /consent/callback)")
	newAlias := fs.String("new", "", "the link for a customer not yet configured, under this `alias`")
	stateTTL := fs.Duration("state-ttl", defaultStateTTL, "how long the links' signed state stays valid")
	return func(context.Context) error {
		if *newAlias != "" {
			if *tenant != "" {
				return usagef("-new and -tenant exclude each other")
			}
			return consentURLNew(*configPath, *newAlias, *redirectURI, *stateTTL, c.stdout, c.stderr)
		}
		return consentURL(*configPath, *tenant, *redirectURI, *stateTTL, c.stdout, c.stderr)
	}
}

// consentURL prints, for one tenant or every tenant, the links its admin opens to consent to
// the tenant's app: the legacy form the MDE partner docs give and the v2 adminconsent form.
// Entra documents redirect_uri as required on the v2 link (issue 17): without one (the flag,
// app.redirect_uri, or public_url + /consent/callback) only the legacy link is printed, and stderr says why.
func consentURL(configPath, tenant, redirectURI string, stateTTL time.Duration, stdout, stderr io.Writer) error {
	cfg, err := loadForCommand(configPath, stderr)
	if err != nil {
		return err
	}
	signer := stateSigner(cfg.Resolved.ConsentKey, nil)
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
		legacy, v2 := tenantConsentLinks(cfg, t, redirectURI)
		noRedirect = noRedirect || v2 == ""
		legacy, v2 = withState(legacy, signer, t.Name, stateTTL), withState(v2, signer, t.Name, stateTTL)
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s (tenant %s, app %s)\n  legacy: %s\n", t.Name, t.ID, app.ClientID, legacy)
		if v2 != "" {
			fmt.Fprintf(stdout, "  v2:     %s\n", v2)
		}
	}
	if signer == nil {
		fmt.Fprintln(stderr, "note: no consent.state_key: the links carry no signed state, so the gateway's landing page (/consent/callback) cannot check them")
	}
	if noRedirect {
		fmt.Fprintln(stderr, "note: no redirect URI (set app.redirect_uri or -redirect-uri to a reply URL registered on the app): "+
			"only the legacy partner link is printed where it is missing, because Entra requires redirect_uri on the v2 admin consent link")
	}
	return nil
}

// tenantConsentLinks are the admin consent links of configured tenant t, for its app,
// returning to redirectURI or, when that is "", to the configured one
// (config.ConsentRedirectURI); v2 is "" when there is none.
func tenantConsentLinks(cfg *config.Config, t config.TenantConfig, redirectURI string) (legacy, v2 string) {
	app := cfg.AppOf(t)
	if redirectURI == "" {
		redirectURI = cfg.ConsentRedirectURI(app)
	}
	return consentLinks(cfg.Resolved.Cloud.LoginEndpoint, t.ID, app.ClientID, app.Scope, redirectURI)
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

// defaultStateTTL is how long the state in a printed consent link stays valid: a week for
// the customer's admin to get round to it.
const defaultStateTTL = 7 * 24 * time.Hour

// stateSigner is the signer of consent states under key; nil when key is nil (no
// consent.state_key). now is its clock; nil means time.Now.
func stateSigner(key []byte, now func() time.Time) *consent.Signer {
	if key == nil {
		return nil
	}
	s, err := consent.NewSigner(key, now)
	if err != nil {
		return nil // config.Parse checked its length
	}
	return s
}

// withState adds a state naming alias, valid for ttl, to a consent link, so that the landing
// page Entra redirects to knows which link was followed. Without a signer the link is
// returned as is. The state is URL-safe (base64url and a dot).
func withState(link string, s *consent.Signer, alias string, ttl time.Duration) string {
	if s == nil {
		return link
	}
	if ttl <= 0 {
		ttl = defaultStateTTL
	}
	return link + "&state=" + url.QueryEscape(s.Sign(alias, time.Now().Add(ttl)))
}
