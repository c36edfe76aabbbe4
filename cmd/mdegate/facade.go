package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/intercept"
	"github.com/mdegate/mdegate/internal/tokenendpoint"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// The Entra facade and the proxy mode (issue 16): the token endpoint (internal/tokenendpoint)
// answers on the listeners, on its own paths, and inside tunnels to the cloud's login hosts;
// the proxy mode (internal/intercept) answers CONNECT, and the requests inside a tunnel to a
// Defender API host take the normal forward path. The proxy itself, with its CA, passthrough
// list and open tunnels, is fixed at start (like tls); the token endpoint is rebuilt with
// each generation, on the signing key kept by the gateway.

// newIntercept builds the proxy mode when cfg configures it; nil otherwise.
func (gw *gateway) newIntercept(cfg *config.Config) (*intercept.Proxy, error) {
	if !cfg.Intercept.Enabled() {
		return nil, nil
	}
	hosts, err := intercept.CloudHosts(cfg.Cloud.Name)
	if err != nil {
		return nil, err
	}
	return intercept.New(intercept.Options{
		CA:          cfg.Resolved.InterceptCA,
		Hosts:       hosts,
		Login:       http.HandlerFunc(gw.serveLogin),
		API:         http.HandlerFunc(gw.serveAPI),
		Passthrough: cfg.Intercept.PassthroughHosts(),
		// Always set, so that a reload that adds clients closes the passthrough tunnels to
		// strangers at once; in anonymous mode any credentials pass.
		Authenticate: gw.proxyAuthenticate,
		Logger:       gw.log,
	})
}

// proxyAuthenticate checks a CONNECT's Proxy-Authorization: the password is a caller key.
func (gw *gateway) proxyAuthenticate(_, password string) (string, bool) {
	g := gw.acquire()
	if g == nil {
		return "", false
	}
	defer g.release()
	if len(g.cfg.Clients) == 0 {
		return tokenendpoint.Anonymous, true
	}
	c, ok := g.handler.Authenticate(password)
	return c.Name, ok
}

// serveLogin serves a request inside a tunnel to a login host: the token endpoint.
func (gw *gateway) serveLogin(w http.ResponseWriter, r *http.Request) {
	g := gw.acquireOrRefuse(w)
	if g == nil {
		return
	}
	defer g.release()
	if g.login == nil {
		notServed(w)
		return
	}
	g.login.ServeHTTP(w, r)
}

// serveAPI serves a request inside a tunnel to a Defender API host: the forward path.
func (gw *gateway) serveAPI(w http.ResponseWriter, r *http.Request) {
	g := gw.acquireOrRefuse(w)
	if g == nil {
		return
	}
	defer g.release()
	g.handler.ServeHTTP(w, r)
}

// notServed answers a login request when the token endpoint was turned off by a reload.
func notServed(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"error":{"code":"NotFound","message":"the token endpoint is not enabled (token_endpoint.enabled)"}}`))
}

// dispatch serves a request on generation g: the token endpoint's paths, and the login hosts
// reached by SNI on tls.listen, when it is enabled; else the forward path. (Requests inside
// tunnels come through serveLogin and serveAPI instead.)
func (gw *gateway) dispatch(g *generation, w http.ResponseWriter, r *http.Request) {
	if g.login != nil && (isLoginPath(r.URL.Path) || r.TLS != nil && gw.intercept != nil && gw.intercept.HostClass(r.Host) == intercept.Login) {
		g.login.ServeHTTP(w, r)
		return
	}
	g.handler.ServeHTTP(w, r)
}

// isLoginPath reports whether p is one of the token endpoint's paths, /{tenant}/{what}/...,
// and none of the gateway's own: /api/..., /tenants/{t}/api/..., Graph's /v1.0/security and
// /beta/security, and the admin paths (exact, served before).
func isLoginPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return false
	}
	first, rest, ok := strings.Cut(rest, "/")
	if !ok || first == "" {
		return false
	}
	switch strings.ToLower(first) {
	case "api", "tenants", "v1.0", "beta":
		return false
	}
	second, _, _ := strings.Cut(rest, "/")
	switch second {
	case "oauth2", "v2.0", ".well-known", "discovery":
		return true
	}
	return false
}

// newLogin builds the generation's token endpoint; nil when it is disabled. handler is where
// the generation's proxy handler will be, whose clients authenticate token requests.
func (gw *gateway) newLogin(cfg *config.Config, routes *routing.Table, src *tokens.Apps, handler **proxy.Handler) (*tokenendpoint.Handler, error) {
	if !cfg.TokenEndpoint.Enabled {
		return nil, nil
	}
	key := cfg.Resolved.SigningKey
	if key == nil {
		var err error
		if key, err = gw.generatedKey(); err != nil {
			return nil, err
		}
	}
	opts := tokenendpoint.Options{
		Tenant: func(s string) (tokenendpoint.Tenant, bool) {
			tn, err := routes.Resolve(s)
			if err != nil {
				return tokenendpoint.Tenant{}, false
			}
			return tokenendpoint.Tenant{ID: tn.ID, Alias: tn.Name}, true
		},
		Roles:    tokenRoles(cfg, src),
		Key:      key,
		Lifetime: cfg.TokenEndpoint.TokenLifetime(),
		Logger:   gw.log,
	}
	if u := cfg.PublicBaseURL(); u != nil {
		opts.Hosts = []string{u.Host}
		if u.Scheme == "https" { // behind a TLS-terminating balancer; tunnels are https anyway
			opts.Scheme = "https"
		}
	}
	if len(cfg.Clients) > 0 {
		opts.Authenticate = func(secret string) (tokenendpoint.Caller, bool) { return (*handler).Authenticate(secret) }
	}
	return tokenendpoint.New(opts)
}

// generatedKey is the signing key made at start when token_endpoint.signing_key_file is
// unset, kept across reloads so that tokens live as long as the process.
func (gw *gateway) generatedKey() (*tokenendpoint.SigningKey, error) {
	if gw.genKey != nil {
		return gw.genKey, nil
	}
	k, err := tokenendpoint.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	gw.log.Warn().Msg("token_endpoint: no signing_key_file, so a key was made at start: gateway tokens die with the process and are not valid on other replicas")
	gw.genKey = k
	return k, nil
}

// legacyMDEResource is MDE's application ID URI, which older samples ask a token for.
const legacyMDEResource = "https://securitycenter.onmicrosoft.com/windowsatpservice"

// tokenRoles returns the roles of the gateway's own token for a tenant and a resource the
// gateway serves (MDE, Defender XDR, Graph), which the gateway token copies.
func tokenRoles(cfg *config.Config, src *tokens.Apps) func(ctx context.Context, tenantID, resource string) ([]string, error) {
	mde := strings.TrimSuffix(cfg.App.Scope, "/.default")
	cloud := cfg.Resolved.Cloud
	same := func(a, b string) bool {
		return b != "" && strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
	}
	return func(ctx context.Context, tenantID, resource string) ([]string, error) {
		var tok tokens.Token
		var err error
		switch {
		case same(resource, mde), same(resource, legacyMDEResource):
			tok, err = src.Token(ctx, tenantID)
		case same(resource, cloud.XDRResource):
			tok, err = src.TokenFor(ctx, tenantID, cloud.XDRResource)
		case same(resource, cloud.GraphResource):
			tok, err = src.TokenFor(ctx, tenantID, cloud.GraphResource)
		default:
			return nil, tokenendpoint.ErrUnknownResource
		}
		if err != nil {
			return nil, err
		}
		// The token was checked by Entra and is the gateway's own: only its roles are read;
		// an unreadable one makes a gateway token without roles.
		c, _ := decodeClaims(strings.TrimPrefix(tok.Bearer, "Bearer "))
		return c.Roles, nil
	}
}
