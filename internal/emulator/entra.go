package emulator

import (
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// The Entra side: OpenID discovery, the v2.0 (and v1) token endpoint with the client
// credentials grant, and the signing keys.

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// multiTenant are the authority path segments that name no single tenant.
var multiTenant = map[string]bool{"common": true, "organizations": true, "consumers": true}

// tokenFailure is an injected token endpoint failure; status 0 means none.
type tokenFailure struct {
	status int
	code   int
}

func (e *Emulator) entraHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{tenant}/v2.0/.well-known/openid-configuration", e.handleDiscovery)
	mux.HandleFunc("/{tenant}/.well-known/openid-configuration", e.handleDiscovery)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", e.handleToken)
	mux.HandleFunc("/{tenant}/oauth2/token", e.handleToken)
	mux.HandleFunc("/{tenant}/discovery/v2.0/keys", e.handleKeys)
	mux.HandleFunc("/{tenant}/discovery/keys", e.handleKeys)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 Not Found", http.StatusNotFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.enter() {
			w.WriteHeader(http.StatusServiceUnavailable) // closing
			return
		}
		defer e.leave()
		mux.ServeHTTP(w, r)
	})
}

// handleDiscovery answers /{tenant}/v2.0/.well-known/openid-configuration (and the v1 one).
func (e *Emulator) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	seg := strings.ToLower(r.PathValue("tenant"))
	v2 := strings.Contains(r.URL.Path, "/v2.0/")
	e.mu.Lock()
	e.discCounts[e.tenantKeyLocked(seg)]++
	t := e.tenants[seg]
	e.mu.Unlock()

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900561,
			fmt.Sprintf("The endpoint only accepts GET, OPTIONS requests. Received a %s request.", r.Method))
		return
	}
	// Endpoints name the tenant by ID, as Entra does even when asked by domain name; the
	// multi-tenant documents keep their segment and give a templated issuer.
	pathTenant, issuerTenant := seg, "{tenantid}"
	switch {
	case t != nil:
		pathTenant, issuerTenant = t.id, t.id
	case !multiTenant[seg]:
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(seg))
		return
	}
	base := e.loginURL + "/" + pathTenant
	doc := map[string]any{
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	}
	if v2 {
		doc["token_endpoint"] = base + "/oauth2/v2.0/token"
		doc["authorization_endpoint"] = base + "/oauth2/v2.0/authorize"
		doc["device_authorization_endpoint"] = base + "/oauth2/v2.0/devicecode"
		doc["end_session_endpoint"] = base + "/oauth2/v2.0/logout"
		doc["jwks_uri"] = base + "/discovery/v2.0/keys"
		doc["kerberos_endpoint"] = base + "/kerberos"
		doc["issuer"] = e.loginURL + "/" + issuerTenant + "/v2.0"
	} else {
		doc["token_endpoint"] = base + "/oauth2/token"
		doc["authorization_endpoint"] = base + "/oauth2/authorize"
		doc["end_session_endpoint"] = base + "/oauth2/logout"
		doc["jwks_uri"] = e.loginURL + "/common/discovery/keys"
		doc["kerberos_endpoint"] = base + "/kerberos"
		doc["issuer"] = "https://sts.windows.net/" + issuerTenant + "/"
	}
	writeJSON(w, http.StatusOK, doc)
}

// handleKeys serves the JWKS holding the token signing key.
func (e *Emulator) handleKeys(w http.ResponseWriter, r *http.Request) {
	pub := &e.signKey.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"kid": e.kid,
		"x5t": e.kid,
		"n":   b64url(pub.N.Bytes()),
		"e":   b64url(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// tokenRequest is what the token endpoint extracted from a request form.
type tokenRequest struct {
	clientID  string
	secret    string
	assertion string
	asType    string
	resource  string
}

// handleToken implements the client credentials grant. Checks run in Entra's order: tenant,
// request shape, app, consent, credential, resource.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	seg := strings.ToLower(r.PathValue("tenant"))
	v2 := strings.Contains(r.URL.Path, "/v2.0/")
	e.mu.Lock()
	e.tokenCounts[e.tenantKeyLocked(seg)]++
	t := e.tenants[seg]
	latency := e.tokenLatency
	lifetime := e.tokenLifetime
	fail := e.failAll
	if t != nil && t.fail.status != 0 {
		fail = t.fail
	}
	e.mu.Unlock()

	if !e.sleep(r.Context(), latency, nil) {
		panic(http.ErrAbortHandler) // Close or the client left: drop the connection, no answer
	}
	if fail.status != 0 {
		name := "<unknown>"
		if t != nil {
			name = t.name
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		_ = r.ParseForm() // best effort: only to name the client in the text
		errName, text := describeAADS(fail.status, fail.code, name, r.PostForm.Get("client_id"))
		code := fail.code
		if code == 0 {
			code = defaultAADS(fail.status)
		}
		e.writeAADError(w, r, fail.status, errName, code, text)
		return
	}
	if r.Method != http.MethodPost {
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900561,
			fmt.Sprintf("The endpoint only accepts POST, OPTIONS requests. Received a %s request.", r.Method))
		return
	}
	switch {
	case t == nil && multiTenant[seg]:
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 50059,
			"No tenant-identifying information found in either the request or implied by any provided credentials.")
		return
	case t == nil:
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(seg))
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, missingParam("grant_type"))
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	switch {
	case grant == "":
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, missingParam("grant_type"))
		return
	case grant != "client_credentials":
		e.writeAADError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", safeText(grant)))
		return
	}
	req := tokenRequest{
		clientID:  f.Get("client_id"),
		secret:    f.Get("client_secret"),
		assertion: f.Get("client_assertion"),
		asType:    f.Get("client_assertion_type"),
	}
	if id, secret, ok := r.BasicAuth(); ok { // client_secret_basic
		if req.clientID == "" {
			req.clientID = id
		}
		if req.secret == "" {
			req.secret = secret
		}
	}
	if req.clientID == "" {
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, missingParam("client_id"))
		return
	}
	if v2 {
		scope := f.Get("scope")
		if scope == "" {
			e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, missingParam("scope"))
			return
		}
		for _, s := range strings.Fields(scope) {
			if res, ok := strings.CutSuffix(s, "/.default"); ok {
				req.resource = res
				break
			}
		}
		if req.resource == "" {
			e.writeAADError(w, r, http.StatusBadRequest, "invalid_scope", 1002012,
				fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", safeText(scope)))
			return
		}
	} else {
		req.resource = f.Get("resource")
		if req.resource == "" {
			e.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, missingParam("resource"))
			return
		}
	}

	app := e.apps[strings.ToLower(req.clientID)]
	e.mu.Lock()
	consented := t.consented
	e.mu.Unlock()
	if app == nil || !consented {
		e.writeAADError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, appNotFound(req.clientID, t.name))
		return
	}

	acr := "1"
	switch {
	case req.assertion != "" && isFederated(app, req.assertion):
		acr = "2"
		if f := e.checkFederated(app, req); f.code != 0 {
			e.writeAADError(w, r, f.status, f.name, f.code, f.text)
			return
		}
	case req.assertion != "":
		acr = "2"
		if text := e.checkAssertion(r, app, t, req); text != "" {
			e.writeAADError(w, r, http.StatusUnauthorized, "invalid_client", 700027, text)
			return
		}
	case app.Secret == "" || subtle.ConstantTimeCompare([]byte(req.secret), []byte(app.Secret)) != 1:
		e.writeAADError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, badSecret(app.ClientID))
		return
	}

	aud, surf, api, ok := e.resourceOf(req.resource)
	if !ok || (api && surf == surfaceMDE && t.noMDE) {
		e.writeAADError(w, r, http.StatusBadRequest, "invalid_resource", 500011, resourceNotFound(req.resource, t.name))
		return
	}

	tok, secs, err := e.issue(t, app, aud, surf, api, acr, lifetime)
	if err != nil {
		e.logf("emulator: issue token for tenant %s: %v", t.id, err)
		e.writeAADError(w, r, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
		return
	}
	e.logf("emulator: token issued tenant=%s app=%s aud=%s", t.id, app.ClientID, aud)
	h := w.Header()
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("X-Ms-Request-Id", newUUID())
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
}

// issue mints an access token for app in tenant t.
// Every resource gets a v1 token (ver 1.0, iss sts.windows.net), as Entra gives for MDE, XDR
// and Graph, whose service principals accept v1 tokens. api is false for resources no
// emulated API serves: their tokens carry no roles.
func (e *Emulator) issue(t *tenant, app *App, aud string, s surface, api bool, acr string, lifetime time.Duration) (string, int64, error) {
	now := e.now()
	secs := int64(math.Ceil(lifetime.Seconds()))
	if secs < 1 {
		secs = 1
	}
	iat := now.Unix()
	var roles []string
	e.mu.Lock()
	if api && len(t.roles[s]) > 0 {
		roles = t.roles[s]
	}
	e.mu.Unlock()
	oid := stableUUID(t.id + "/serviceprincipal/" + strings.ToLower(app.ClientID))
	c := accessClaims{
		Aud:      aud,
		Iss:      "https://sts.windows.net/" + t.id + "/",
		Iat:      iat,
		Nbf:      iat,
		Exp:      iat + secs + 300,
		AppID:    app.ClientID,
		AppIDAcr: acr,
		IdP:      "https://sts.windows.net/" + t.id + "/",
		Oid:      oid,
		Rh:       "0.emulator.",
		Roles:    roles,
		Sub:      oid,
		Tid:      t.id,
		Uti:      b64url([]byte(newUUID()))[:22],
		Ver:      "1.0",
		Jti:      newUUID(),
	}
	tok, err := signRS256(e.signKey, jwtHeader{Typ: "JWT", Alg: "RS256", X5t: e.kid, Kid: e.kid}, c)
	if err != nil {
		return "", 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.issued[c.Jti] = now
	if len(e.issued) >= e.sweepAt {
		// Precise issue times matter only around a revocation; older tokens fall back to
		// their iat. Sweeping when the map doubles keeps issuing O(1) amortized.
		for jti, at := range e.issued {
			if now.Sub(at) > time.Minute {
				delete(e.issued, jti)
			}
		}
		e.sweepAt = max(4096, 2*len(e.issued))
	}
	return tok, secs, nil
}

// checkAssertion verifies a client assertion for app and returns "" if it is good, else the
// AADSTS700027 text (which never contains the assertion).
func (e *Emulator) checkAssertion(r *http.Request, app *App, t *tenant, req tokenRequest) string {
	const badSig = "Client assertion failed signature validation."
	if req.asType != assertionType {
		return fmt.Sprintf("Client assertion type must be '%s'.", assertionType)
	}
	p, err := parseJWT(req.assertion)
	if err != nil {
		return "Client assertion is not a valid JWT."
	}
	if app.Cert == nil || !p.header.thumbprintMatches(app.Cert) {
		tp := p.header.X5tS256
		if tp == "" {
			tp = p.header.X5t
		}
		return fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]",
			safeText(tp), app.ClientID)
	}
	if err := p.verify(app.Cert.PublicKey.(*rsa.PublicKey)); err != nil {
		return badSig
	}
	var c assertionClaims
	if err := json.Unmarshal(p.claims, &c); err != nil {
		return "Client assertion contains invalid claims."
	}
	if !strings.EqualFold(c.Iss, app.ClientID) || !strings.EqualFold(c.Sub, app.ClientID) {
		return "Client assertion contains an invalid issuer or subject: both must be the client ID."
	}
	if !e.assertionAudienceOK(r, t, c.Aud) {
		return "Client assertion audience claim does not match the token endpoint of the tenant."
	}
	now := e.now()
	exp, err := c.Exp.Float64()
	if err != nil || exp <= float64(now.Unix()) {
		return fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), unixText(exp))
	}
	if c.Nbf != "" {
		nbf, err := c.Nbf.Float64()
		if err != nil || nbf > float64(now.Add(5*time.Minute).Unix()) {
			return fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s.",
				now.UTC().Format(time.RFC3339), unixText(nbf))
		}
	}
	return ""
}

// assertionAudienceOK accepts the tenant's token endpoints (v2.0 and v1), reached through
// the emulator's URL or the Host the client used, by tenant ID or by domain name.
func (e *Emulator) assertionAudienceOK(r *http.Request, t *tenant, aud audience) bool {
	for _, a := range aud {
		a = strings.ToLower(strings.TrimSuffix(a, "/"))
		for _, base := range []string{e.loginURL, "https://" + r.Host} {
			for _, seg := range []string{t.id, strings.ToLower(t.name) + ".onmicrosoft.com"} {
				for _, p := range []string{"/oauth2/v2.0/token", "/oauth2/token"} {
					if a == strings.ToLower(base+"/"+seg+p) {
						return true
					}
				}
			}
		}
	}
	return false
}

func unixText(sec float64) string {
	if math.IsNaN(sec) || math.IsInf(sec, 0) || sec == 0 {
		return "(none)"
	}
	return time.Unix(int64(sec), 0).UTC().Format(time.RFC3339)
}

// aadError is Entra's error body.
type aadError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// writeAADError answers in Entra's error shape. The correlation ID echoes the request's
// client-request-id (MSAL sends one), as Entra does.
func (e *Emulator) writeAADError(w http.ResponseWriter, r *http.Request, status int, name string, code int, text string) {
	trace := newUUID()
	corr := r.Header.Get("Client-Request-Id")
	if !isUUID(corr) {
		corr = newUUID()
	}
	ts := e.now().UTC().Format("2006-01-02 15:04:05Z")
	h := w.Header()
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("X-Ms-Request-Id", trace)
	writeJSON(w, status, aadError{
		Error:            name,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", code, text, trace, corr, ts),
		ErrorCodes:       []int{code},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         e.loginURL + "/error?code=" + fmt.Sprint(code),
	})
	e.logf("emulator: token endpoint %s: %d AADSTS%d %s", r.URL.Path, status, code, name)
}

func tenantNotFound(seg string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", safeText(seg))
}

func appNotFound(clientID, tenantName string) string {
	return fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", safeText(clientID), tenantName)
}

func badSecret(clientID string) string {
	return fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)
}

func resourceNotFound(res, tenantName string) string {
	return fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", safeText(res), tenantName)
}

func missingParam(p string) string {
	return fmt.Sprintf("The request body must contain the following parameter: '%s'.", p)
}

// describeAADS gives the error name and text Entra uses for an AADSTS code, for injected
// failures.
func describeAADS(status, code int, tenantName, clientID string) (name, text string) {
	if clientID == "" {
		clientID = "<client>"
	}
	switch code {
	case 90002:
		return "invalid_request", tenantNotFound(tenantName)
	case 700016:
		return "unauthorized_client", appNotFound(clientID, tenantName)
	case 7000215:
		return "invalid_client", badSecret(safeText(clientID))
	case 7000222:
		return "invalid_client", "The provided client secret keys for app '" + safeText(clientID) + "' are expired. Visit the Azure portal to create new keys for your app."
	case 7000229:
		return "invalid_client", "The client application is missing service principal in the tenant '" + tenantName + "'."
	case 700027:
		return "invalid_client", "Client assertion failed signature validation."
	case 500011:
		return "invalid_resource", resourceNotFound("https://api.securitycenter.microsoft.com", tenantName)
	case 50196:
		return "invalid_grant", "The server terminated an operation because it encountered a client request loop."
	}
	switch {
	case status == http.StatusServiceUnavailable || (status >= 500 && code == 0):
		return "temporarily_unavailable", "A transient error has occurred. Please try again."
	case status >= 500:
		return "server_error", "An internal error has occurred."
	case status == http.StatusTooManyRequests:
		return "temporarily_unavailable", "The request was throttled. Please try again later."
	case status == http.StatusUnauthorized:
		return "invalid_client", "Client authentication failed."
	}
	return "invalid_request", "The request is invalid."
}

// defaultAADS picks an AADSTS code for an injected failure given without one.
func defaultAADS(status int) int {
	switch {
	case status >= 500, status == http.StatusTooManyRequests:
		return 90033
	case status == http.StatusUnauthorized:
		return 7000215
	}
	return 900144
}

// safeText trims a client-supplied value before it goes into an error text.
func safeText(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// writeJSON writes v as an application/json answer (no HTML escaping, like .NET services).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body := mustJSON(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client is gone: nothing to do
}
