package main

import (
	"fmt"
	"io"
	"time"
)

// consentURLNew prints the admin-consent link for a customer not yet in the configuration
// (`mdegate consent-url -new ALIAS`): a v2 link to Entra's "organizations" endpoint, so the
// admin signs in to whichever tenant is theirs, with a state naming alias. The landing page
// it returns to shows the tenant ID and the YAML lines to add, so the partner never has to
// ask for the ID. It needs the landing page (a redirect URI) and consent.state_key; the
// legacy link is not printed because its reply names no tenant.
func consentURLNew(configPath, alias, redirectURI string, stateTTL time.Duration, stdout, stderr io.Writer) error {
	cfg, err := loadForCommand(configPath, stderr)
	if err != nil {
		return err
	}
	if cfg.TenantIndex(alias) >= 0 {
		fmt.Fprintf(stderr, "mdegate consent-url: tenant %q is already configured: use -tenant %s\n", alias, alias)
		return errReported
	}
	uri := redirectURI
	if uri == "" {
		uri = cfg.ConsentRedirectURI(&cfg.App)
	}
	signer := stateSigner(cfg.Resolved.ConsentKey, nil)
	switch {
	case uri == "":
		fmt.Fprintln(stderr, "mdegate consent-url: -new needs the landing page: set public_url (or app.redirect_uri, or -redirect-uri) to where /consent/callback is served")
		return errReported
	case signer == nil:
		fmt.Fprintln(stderr, "mdegate consent-url: -new needs consent.state_key, so the landing page can check the link")
		return errReported
	}
	_, v2 := consentLinks(cfg.Resolved.Cloud.LoginEndpoint, "organizations", cfg.App.ClientID, cfg.App.Scope, uri)
	fmt.Fprintf(stdout, "%s (new customer, app %s)\n  v2:     %s\n", alias, cfg.App.ClientID, withState(v2, signer, alias, stateTTL))
	return nil
}
