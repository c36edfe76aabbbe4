package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/tokens"
)

// The Entra apps of a configuration: the top-level app, the per-tenant overrides, their
// credentials (secret, certificate or a federated token file) and the token sources built
// from them.

// defaultFederated applies $AZURE_FEDERATED_TOKEN_FILE (set by AKS workload identity) to every
// app, top-level or per tenant, that names no credential at all. envFile is the variable's
// value ("" when unset).
func (c *Config) defaultFederated(envFile string) {
	if envFile == "" {
		return
	}
	c.App.defaultFederated(envFile)
	for _, t := range c.Tenants {
		if t.App != nil {
			t.App.defaultFederated(envFile)
		}
	}
}

func (a *AppConfig) defaultFederated(envFile string) {
	if a.ClientSecret == "" && a.ClientSecretFile == "" && a.CertificateFile == "" && a.FederatedTokenFile == "" {
		a.FederatedTokenFile = envFile
	}
}

// resolve reads the files the app names into its unexported fields; key is the app's YAML
// path ("app" or "tenants[2].app"). Messages name the key and the path, never the content.
func (a *AppConfig) resolve(key string) []Problem {
	var ps []Problem
	add := func(k, format string, args ...any) {
		ps = append(ps, Problem{Key: key + "." + k, Msg: fmt.Sprintf(format, args...)})
	}
	if s := a.ClientSecret; s != "" {
		a.secret = strings.TrimSpace(s) // validate reports a blank secret
	}
	if f := a.ClientSecretFile; f != "" {
		data, err := os.ReadFile(f)
		switch {
		case err != nil:
			add("client_secret_file", "cannot read %s: %s", f, fileErr(err))
		case strings.TrimSpace(string(data)) == "":
			add("client_secret_file", "%s is empty", f)
		case a.secret == "":
			a.secret = strings.TrimSpace(string(data))
		}
	}
	if f := a.CertificateFile; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			add("certificate_file", "cannot read %s: %s", f, fileErr(err))
		} else if certs, k, err := confidential.CertFromPEM(data, ""); err != nil {
			// CertFromPEM's errors describe the structure ("no private key found"), not the
			// bytes; the asn1 details that may follow say nothing useful to an operator.
			msg, _, _ := strings.Cut(err.Error(), ": asn1:")
			add("certificate_file", "%s: not a PEM certificate and private key: %s", f, msg)
		} else if _, err := confidential.NewCredFromCert(certs, k); err != nil {
			add("certificate_file", "%s: %v", f, err)
		} else {
			a.certs, a.key = certs, k
		}
	}
	// The federated token file is only checked here; it is read again on every token request
	// (it rotates), so that a file that appears a little after start is no reason to refuse.
	if f := a.FederatedTokenFile; f != "" {
		if _, err := readAssertion(f); err != nil {
			add("federated_token_file", "%v", err)
		}
	}
	return ps
}

// validate checks the app's values; key is its YAML path. It reads no files.
func (a *AppConfig) validate(key string) []Problem {
	var ps []Problem
	add := func(k, format string, args ...any) {
		if k != "" {
			k = key + "." + k
		} else {
			k = key
		}
		ps = append(ps, Problem{Key: k, Msg: fmt.Sprintf(format, args...)})
	}
	switch id := a.ClientID; {
	case id == "":
		add("client_id", "is required (the application (client) ID of the Entra app, a GUID)")
	case !isGUID(id):
		add("client_id", "%q is not a GUID", id)
	}
	var creds []string
	for _, cr := range []struct{ key, value string }{
		{"client_secret", a.ClientSecret},
		{"client_secret_file", a.ClientSecretFile},
		{"certificate_file", a.CertificateFile},
		{"federated_token_file", a.FederatedTokenFile},
	} {
		if cr.value != "" {
			creds = append(creds, cr.key)
		}
	}
	switch len(creds) {
	case 0:
		add("", "no credential: set client_secret, client_secret_file or certificate_file (or federated_token_file, or AZURE_FEDERATED_TOKEN_FILE in the environment)")
	case 1:
	default:
		both := "both"
		if len(creds) > 2 {
			both = "all"
		}
		add("", "%s are %s set; set exactly one credential", joinAnd(creds), both)
	}
	if a.ClientSecret != "" && strings.TrimSpace(a.ClientSecret) == "" {
		add("client_secret", "is blank")
	}
	if s := a.Scope; s != "" && !strings.HasSuffix(s, "/.default") {
		add("scope", "%q must end in /.default (client-credentials tokens are issued for a resource's .default scope)", s)
	}
	for i, r := range a.Roles {
		if r == "" || strings.ContainsAny(r, " \t,") {
			add(fmt.Sprintf("roles[%d]", i), "%q is not a role name (such as Alert.Read.All)", r)
		}
	}
	if u := a.RedirectURI; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://localhost") {
		add("redirect_uri", "%q must be an https URL (or http://localhost...), as Entra requires of reply URLs", u)
	}
	return ps
}

// readAssertion reads a federated token file. Its errors name the file, never its content.
func readAssertion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %s", path, fileErr(err))
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// appFor returns the app that serves the tenant: its override, or the top-level app.
func (c *Config) appFor(t TenantConfig) *AppConfig {
	if t.App != nil {
		return t.App
	}
	return &c.App
}

// identity names an app and its credential, so that tenants sharing both share one token
// source. A secret is represented by its hash: the key may be printed by a debugger.
func (a *AppConfig) identity() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(a.ClientID))
	b.WriteString("|")
	b.WriteString(a.Scope)
	switch {
	case a.secret != "":
		sum := sha256.Sum256([]byte(a.secret))
		b.WriteString("|secret:" + hex.EncodeToString(sum[:8]))
	case a.key != nil:
		sum := sha256.Sum256(a.certs[0].Raw)
		b.WriteString("|cert:" + hex.EncodeToString(sum[:8]))
	case a.FederatedTokenFile != "":
		b.WriteString("|federated:" + a.FederatedTokenFile)
	}
	return b.String()
}

// sourceOptions is one app's token source options.
func (c *Config) sourceOptions(a *AppConfig, client *http.Client, log zerolog.Logger, onFetch func(string, time.Duration, *tokens.Error)) tokens.Options {
	o := tokens.Options{
		Authority:  c.Cloud.cloud.LoginEndpoint,
		ClientID:   a.ClientID,
		Secret:     a.secret,
		Certs:      a.certs,
		Key:        a.key,
		Scope:      a.Scope,
		HTTPClient: client,
		Logger:     log,
		OnFetch:    onFetch,
	}
	if f := a.FederatedTokenFile; f != "" && a.secret == "" && a.key == nil {
		// Re-read on every token request: the kubelet rotates the projected token.
		o.Assertion = func(context.Context) (string, error) { return readAssertion(f) }
	}
	return o
}

// newTokenSources builds one tokens.Source per distinct app and credential, and the map from
// each tenant to its source, so that a request finds its tenant's token in O(1). onFetch, when
// not nil, hears about every token fetch.
func (c *Config) newTokenSources(client *http.Client, log zerolog.Logger, onFetch func(string, time.Duration, *tokens.Error)) (*tokens.Apps, error) {
	byIdentity := map[string]*tokens.Source{}
	byTenant := make(map[string]*tokens.Source, len(c.Tenants))
	var all []*tokens.Source
	fail := func(err error) (*tokens.Apps, error) {
		for _, s := range all {
			s.Close()
		}
		return nil, err
	}
	get := func(a *AppConfig) (*tokens.Source, error) {
		id := a.identity()
		if s, ok := byIdentity[id]; ok {
			return s, nil
		}
		s, err := tokens.New(c.sourceOptions(a, client, log, onFetch))
		if err != nil {
			return nil, err
		}
		byIdentity[id] = s
		all = append(all, s)
		return s, nil
	}
	def, err := get(&c.App)
	if err != nil {
		return fail(err)
	}
	for i, t := range c.Tenants {
		if t.App == nil {
			continue
		}
		s, err := get(t.App)
		if err != nil {
			return fail(fmt.Errorf("tenants[%d].app: %w", i, err))
		}
		byTenant[t.ID] = s
	}
	return tokens.NewApps(def, byTenant, all), nil
}

var errNoTenant = errors.New("no such tenant in the configuration")

// tenantByName finds a configured tenant by name or ID, case-insensitively.
func (c *Config) tenantByName(name string) (TenantConfig, error) {
	for _, t := range c.Tenants {
		if strings.EqualFold(t.Name, name) || strings.EqualFold(t.ID, name) {
			return t, nil
		}
	}
	return TenantConfig{}, fmt.Errorf("tenant %q: %w", name, errNoTenant)
}
