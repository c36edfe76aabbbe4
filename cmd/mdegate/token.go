package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/tokens"
)

// claims are the access token claims the MDE docs ask a partner to verify.
type claims struct {
	Tid   string   `json:"tid"`
	Aud   string   `json:"aud"`
	AppID string   `json:"appid"`
	Azp   string   `json:"azp"` // v2 tokens name the app here
	Roles []string `json:"roles"`
	Exp   int64    `json:"exp"`
}

// decodeClaims reads a JWT's payload without verifying it: the token comes straight from
// Entra, and only its claims are shown.
func decodeClaims(jwt string) (claims, error) {
	var c claims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return c, errors.New("the access token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, errors.New("the access token's payload is not base64url")
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errors.New("the access token's payload is not JSON")
	}
	if c.AppID == "" {
		c.AppID = c.Azp
	}
	return c, nil
}

// windowsDefenderATP is the application ID of the MDE API, the aud of v2-shaped tokens.
const windowsDefenderATP = "fc780465-2017-40d4-a0c5-307022471b92"

// verdict is what is wrong with a tenant's token claims; empty fields are fine.
type verdict struct {
	tid, aud, appid string   // "want X" when the claim is wrong
	missing         []string // expected roles the token lacks
	noRoles         bool     // the token has no roles at all: every API call is 403
}

func (v verdict) ok() bool {
	return v.tid == "" && v.aud == "" && v.appid == "" && len(v.missing) == 0 && !v.noRoles
}

// judge compares a token's claims with what the tenant and its app expect.
func judge(c claims, t config.TenantConfig, app *config.AppConfig) verdict {
	var v verdict
	if !strings.EqualFold(c.Tid, t.ID) {
		v.tid = "want " + t.ID
	}
	resource := strings.TrimSuffix(app.Scope, "/.default")
	if !strings.EqualFold(strings.TrimSuffix(c.Aud, "/"), strings.TrimSuffix(resource, "/")) && c.Aud != windowsDefenderATP {
		v.aud = "want " + resource
	}
	if !strings.EqualFold(c.AppID, app.ClientID) {
		v.appid = "want " + app.ClientID
	}
	for _, r := range app.Roles {
		if !slices.ContainsFunc(c.Roles, func(h string) bool { return strings.EqualFold(h, r) }) {
			v.missing = append(v.missing, r)
		}
	}
	v.noRoles = len(c.Roles) == 0
	return v
}

// commandSources builds the token sources of the configuration for a one-shot use (a
// command, a consent landing): real TLS to Entra, no log (the caller reports what matters).
// stop closes them and their idle connections to Entra.
func commandSources(cfg *config.Config) (apps *tokens.Apps, stop func(), err error) {
	roots, err := cfg.Roots()
	if err != nil {
		return nil, nil, err
	}
	tr := proxy.NewTransport(roots, 0)
	apps, err = newTokenSources(cfg, &http.Client{Transport: tr}, zerolog.Nop(), nil)
	if err != nil {
		return nil, nil, err
	}
	return apps, func() { apps.Close(); tr.CloseIdleConnections() }, nil
}

// tokenCommand is `mdegate token`.
func tokenCommand(fs *flag.FlagSet, c cli) func(context.Context) error {
	configPath := configFlag(fs)
	tenant := fs.String("tenant", "", "the tenant (`name` or ID); required")
	resource := fs.String("resource", "", "the token's `resource`: mde (default), xdr, graph or a resource URI")
	raw := fs.Bool("raw", false, "print the token itself, alone on stdout (the claims go to stderr)")
	return func(ctx context.Context) error {
		return tokenCmd(ctx, *configPath, *tenant, *resource, *raw, c.stdout, c.stderr)
	}
}

// tokenCmd acquires one tenant's token and prints its claims, flagging a wrong tid, aud or
// appid and missing roles. The token itself is printed only with raw: then alone on stdout,
// and the claims go to stderr, so `TOKEN=$(mdegate token -raw ...)` works.
//
// resource picks the token's audience (issue 17): "" or mde for the MDE API's (app.scope),
// xdr or graph for the cloud's Defender XDR or Graph resource, or a resource URI. For a
// resource other than MDE's, app.roles (MDE roles) are not checked.
func tokenCmd(ctx context.Context, configPath, tenant, resource string, raw bool, stdout, stderr io.Writer) error {
	if tenant == "" {
		return usagef("-tenant NAME is required")
	}
	cfg, err := loadForCommand(configPath, stderr)
	if err != nil {
		return err
	}
	i, err := tenantByName(cfg, tenant)
	if err != nil {
		fmt.Fprintf(stderr, "mdegate token: %v\n", err)
		return errReported
	}
	t := cfg.Tenants[i]
	app := cfg.AppOf(t)
	apps, stop, err := commandSources(cfg)
	if err != nil {
		return err
	}
	defer stop()
	res, err := tokenResource(cfg, app, resource)
	if err != nil {
		fmt.Fprintf(stderr, "mdegate token: %v\n", err)
		return errReported
	}
	if res != "" {
		// Judge the claims against that resource; the MDE roles do not apply to it.
		other := *app
		other.Scope, other.Roles = res+"/.default", nil
		app = &other
	}
	var tok tokens.Token
	if res == "" {
		tok, err = apps.Token(ctx, t.ID)
	} else {
		tok, err = apps.TokenFor(ctx, t.ID, res)
	}
	if err != nil {
		var te *tokens.Error
		if errors.As(err, &te) {
			fmt.Fprintf(stderr, "mdegate token: %s (%s): %s\n", t.Name, t.ID, te.Message())
			if fix := fixFor(te, t.Name); fix != "" {
				fmt.Fprintf(stderr, "fix: %s\n", fix)
			}
			return errReported
		}
		return err
	}
	jwt := strings.TrimPrefix(tok.Bearer, "Bearer ")
	c, err := decodeClaims(jwt)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	v := judge(c, t, app)

	out := stdout
	if raw {
		out = stderr
	}
	mark := func(problem string) string {
		if problem != "" {
			return "WRONG: " + problem
		}
		return "ok"
	}
	line := func(name, value, verdict string) { fmt.Fprintf(out, "%-7s%s  %s\n", name, value, verdict) }
	line("tenant", t.Name, t.ID)
	for _, st := range apps.Statuses(t.ID) {
		if st.State != tokens.StateNever {
			line("token", st.Resource, string(st.State))
		}
	}
	line("tid", c.Tid, mark(v.tid))
	line("aud", c.Aud, mark(v.aud))
	line("appid", c.AppID, mark(v.appid))
	line("roles", rolesText(c.Roles), rolesVerdict(v, app))
	exp := time.Unix(c.Exp, 0).UTC()
	line("exp", exp.Format(time.RFC3339), "in "+time.Until(exp).Round(time.Second).String())
	if raw {
		fmt.Fprintln(stdout, jwt)
	}
	if !v.ok() {
		return errReported
	}
	return nil
}

func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "(none)"
	}
	return strings.Join(roles, ", ")
}

func rolesVerdict(v verdict, app *config.AppConfig) string {
	switch {
	case len(v.missing) > 0:
		return "MISSING: " + strings.Join(v.missing, ",") + " (grant them on the app, then have the customer's admin consent again)"
	case v.noRoles:
		return "WRONG: no roles, every API call will be refused (grant application permissions, then consent again)"
	case len(app.Roles) == 0:
		return "ok (set app.roles to check for the ones your tools need)"
	}
	return "ok"
}

// tokenResource resolves token -resource: "" for the MDE API's own (app.scope), else the
// resource URI of a surface name or the URI given.
func tokenResource(cfg *config.Config, app *config.AppConfig, name string) (string, error) {
	c := cfg.Resolved.Cloud
	switch strings.ToLower(name) {
	case "", "mde":
		return "", nil
	case "xdr":
		return c.XDRResource, nil
	case "graph":
		return c.GraphResource, nil
	}
	if !strings.HasPrefix(name, "https://") {
		return "", errors.New("-resource: use mde, xdr, graph or a resource URI (https://...)")
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, "/.default"), "/")
	if strings.EqualFold(name+"/.default", app.Scope) {
		return "", nil
	}
	return name, nil
}

// fixFor says what the partner does about a token failure.
func fixFor(te *tokens.Error, tenant string) string {
	switch te.Code {
	case "AADSTS700016", "AADSTS7000229", "AADSTS65001":
		return "ask the customer's admin to open the consent link (mdegate consent-url -tenant " + tenant + ")"
	case "AADSTS90002":
		return "check the tenant ID in the configuration"
	case "AADSTS500011":
		return "the customer has no Defender for Endpoint: ask them to turn it on, or remove the tenant"
	}
	return te.Hint()
}
