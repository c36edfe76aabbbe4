package tokenendpoint

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// post sends a token request form; basic, when set, is "user:password" for HTTP Basic.
func post(t *testing.T, f *fixture, path string, form url.Values, basic []string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.SetBasicAuth(basic[0], basic[1])
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, f, req)
}

func get(t *testing.T, f *fixture, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	return do(t, f, req)
}

func do(t *testing.T, f *fixture, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := f.client(false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object", req.Method, req.URL.Path, b)
	}
	return resp.StatusCode, m
}

func v2Form(scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {"tool-client-id"}, "scope": {scope}}
}

func v1Form(resource string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {"tool-client-id"}, "resource": {resource}}
}

func with(v url.Values, k, val string) url.Values {
	c := url.Values{}
	for kk, vv := range v {
		c[kk] = slices.Clone(vv)
	}
	if val == "" {
		c.Del(k)
	} else {
		c.Set(k, val)
	}
	return c
}

// Plain-HTTP token requests as the Microsoft Learn samples send them, v2.0 and v1, with the
// secret in the form or in HTTP Basic.
func TestTokenPlainHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	host := strings.TrimPrefix(f.srv.URL, "https://")
	for _, tc := range []struct {
		name  string
		path  string
		form  url.Values
		basic []string
		v1    bool
	}{
		{"v2 form", "/contoso/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_secret", socKey), nil, false},
		{"v2 basic", "/" + contosoID + "/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_id", ""), []string{"tool-client-id", socKey}, false},
		{"v1 form", "/contoso/oauth2/token", with(v1Form(mdeRes), "client_secret", socKey), nil, true},
		{"v1 basic", "/CONTOSO/oauth2/token", v1Form(mdeRes), []string{"tool-client-id", socKey}, true},
		// RFC 6749 2.3.1: Basic credentials form-urlencoded first.
		{"v1 basic urlencoded", "/contoso/oauth2/token", v1Form(mdeRes), []string{"tool-client-id", url.QueryEscape(oddKey)}, true},
		{"v1 basic raw", "/contoso/oauth2/token", v1Form(mdeRes), []string{"tool-client-id", oddKey}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, f, tc.path, tc.form, tc.basic, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d, body %v", status, body)
			}
			keys := []string{"access_token", "expires_in", "ext_expires_in", "token_type"}
			if tc.v1 {
				keys = append(keys, "expires_on", "not_before", "resource")
			}
			slices.Sort(keys)
			var got []string
			for k := range body {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, keys) {
				t.Errorf("fields %v, want %v", got, keys)
			}
			if body["token_type"] != "Bearer" {
				t.Errorf("token_type %v", body["token_type"])
			}
			if tc.v1 {
				now := f.clock.Now().Unix()
				want := map[string]any{"expires_in": "3600", "ext_expires_in": "3600", "resource": mdeRes,
					"expires_on": itoa(now + 3600), "not_before": itoa(now)}
				for k, v := range want {
					if body[k] != v {
						t.Errorf("%s = %#v, want %#v", k, body[k], v)
					}
				}
			} else if body["expires_in"] != 3600.0 || body["ext_expires_in"] != 3600.0 {
				t.Errorf("expires_in %#v ext_expires_in %#v, want the number 3600", body["expires_in"], body["ext_expires_in"])
			}
			c, err := f.h.Verify(body["access_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			iss := f.srv.URL + "/" + contosoID + "/v2.0"
			if tc.v1 {
				iss = f.srv.URL + "/" + contosoID + "/"
			}
			if c.Caller != "soc" || c.TenantID != contosoID || c.ClientID != "tool-client-id" || c.Audience != mdeRes || c.Issuer != iss {
				t.Errorf("claims %+v (host %s)", c, host)
			}
		})
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The token's raw JWT: the claims the issue names, kid matching the JWKS.
func TestTokenClaimsAndJWKS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	_, body := post(t, f, "/contoso/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default openid profile offline_access"), "client_secret", socKey), nil, nil)
	tok, _ := body["access_token"].(string)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	var hdr, claims map[string]any
	mustB64JSON(t, parts[0], &hdr)
	mustB64JSON(t, parts[1], &claims)
	_, keys := get(t, f, "/contoso/discovery/v2.0/keys")
	jwks := keys["keys"].([]any)
	if len(jwks) != 1 {
		t.Fatalf("jwks %v", keys)
	}
	k := jwks[0].(map[string]any)
	if hdr["kid"] != k["kid"] || hdr["alg"] != "ES256" || k["alg"] != "ES256" || k["kty"] != "EC" || k["crv"] != "P-256" || k["use"] != "sig" {
		t.Errorf("header %v, jwk %v", hdr, k)
	}
	now := float64(f.clock.Now().Unix())
	want := map[string]any{
		"aud": mdeRes, "tid": contosoID, "appid": "tool-client-id", "azp": "tool-client-id", "sub": "soc",
		"iss": f.srv.URL + "/" + contosoID + "/v2.0", "iat": now, "nbf": now, "exp": now + 3600, "ver": "2.0",
		"roles": []any{"Machine.Read.All", "Alert.Read.All", "AdvancedQuery.Read.All"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(claims[k], v) {
			t.Errorf("claim %s = %#v, want %#v", k, claims[k], v)
		}
	}
	if _, ok := claims["jti"]; !ok {
		t.Error("no jti")
	}
}

func mustB64JSON(t *testing.T, s string, v any) {
	t.Helper()
	b, err := decodeSeg(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// Every refusal: Entra's status, error name, AADSTS code and body shape.
func TestTokenErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	v2 := with(v2Form(mdeRes+"/.default"), "client_secret", socKey)
	v1 := with(v1Form(mdeRes), "client_secret", socKey)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		form   url.Values
		status int
		err    string
		code   float64
	}{
		{"wrong key", "POST", "/contoso/oauth2/v2.0/token", with(v2, "client_secret", "wrong"), 401, "invalid_client", 7000215},
		{"wrong key, unknown tenant", "POST", "/nosuch/oauth2/v2.0/token", with(v2, "client_secret", "wrong"), 401, "invalid_client", 7000215},
		{"no secret", "POST", "/contoso/oauth2/v2.0/token", with(v2, "client_secret", ""), 401, "invalid_client", 7000216},
		{"unknown tenant", "POST", "/nosuch/oauth2/v2.0/token", v2, 400, "invalid_request", 90002},
		{"unknown tenant v1", "POST", "/nosuch/oauth2/token", v1, 400, "invalid_request", 90002},
		{"limited caller, other tenant", "POST", "/fabrikam/oauth2/v2.0/token", with(v2, "client_secret", limitedKey), 400, "unauthorized_client", 700016},
		{"limited caller, unknown tenant", "POST", "/nosuch/oauth2/v2.0/token", with(v2, "client_secret", limitedKey), 400, "unauthorized_client", 700016},
		{"common", "POST", "/common/oauth2/v2.0/token", v2, 400, "invalid_request", 50059},
		{"organizations", "POST", "/organizations/oauth2/token", v1, 400, "invalid_request", 50059},
		{"no grant", "POST", "/contoso/oauth2/v2.0/token", with(v2, "grant_type", ""), 400, "invalid_request", 900144},
		{"password grant", "POST", "/contoso/oauth2/v2.0/token", with(v2, "grant_type", "password"), 400, "unsupported_grant_type", 70003},
		{"no client id", "POST", "/contoso/oauth2/v2.0/token", with(v2, "client_id", ""), 400, "invalid_request", 900144},
		{"no scope", "POST", "/contoso/oauth2/v2.0/token", with(v2, "scope", ""), 400, "invalid_request", 900144},
		{"scope without .default", "POST", "/contoso/oauth2/v2.0/token", with(v2, "scope", mdeRes+"/Machine.Read.All"), 400, "invalid_scope", 1002012},
		{"no resource v1", "POST", "/contoso/oauth2/token", with(v1, "resource", ""), 400, "invalid_request", 900144},
		{"unknown resource", "POST", "/contoso/oauth2/v2.0/token", with(v2, "scope", "https://graph.microsoft.com/.default"), 400, "invalid_resource", 500011},
		{"no gateway token for tenant", "POST", "/fabrikam/oauth2/v2.0/token", v2, 503, "temporarily_unavailable", 90033},
		{"GET token", "GET", "/contoso/oauth2/v2.0/token", nil, 400, "invalid_request", 900561},
		{"POST discovery", "POST", "/contoso/v2.0/.well-known/openid-configuration", v2, 400, "invalid_request", 900561},
		{"unknown path", "GET", "/contoso/oauth2/v2.0/authorize", nil, 404, "invalid_request", 900561},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Client-Request-Id", "11111111-2222-3333-4444-555555555555")
			status, body := do(t, f, req)
			if status != tc.status || body["error"] != tc.err {
				t.Fatalf("got %d %v, want %d %s", status, body["error"], tc.status, tc.err)
			}
			checkErrorBody(t, body, tc.code)
			if body["correlation_id"] != "11111111-2222-3333-4444-555555555555" {
				t.Errorf("correlation_id %v, want the client-request-id", body["correlation_id"])
			}
		})
	}
	// Regression guard (issue 16): a limited caller learns nothing about tenants outside its
	// list: the answer for an existing tenant and a missing one differ only in the names it
	// was asked about and the per-request IDs.
	_, a := post(t, f, "/fabrikam/oauth2/v2.0/token", with(v2, "client_secret", limitedKey), nil, nil)
	_, b := post(t, f, "/nosuch/oauth2/v2.0/token", with(v2, "client_secret", limitedKey), nil, nil)
	da, db := firstLine(a["error_description"]), firstLine(b["error_description"])
	if strings.ReplaceAll(da, "fabrikam", "X") != strings.ReplaceAll(db, "nosuch", "X") {
		t.Errorf("limited caller's answers differ:\n%s\n%s", da, db)
	}
}

func firstLine(v any) string { s, _ := v.(string); l, _, _ := strings.Cut(s, "\r\n"); return l }

func checkErrorBody(t *testing.T, body map[string]any, code float64) {
	t.Helper()
	desc, _ := body["error_description"].(string)
	if !strings.HasPrefix(desc, "AADSTS"+itoa(int64(code))+": ") {
		t.Errorf("error_description %q does not start with AADSTS%d", desc, int64(code))
	}
	if codes, _ := body["error_codes"].([]any); len(codes) != 1 || codes[0] != code {
		t.Errorf("error_codes %v, want [%d]", body["error_codes"], int64(code))
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id", "error_uri"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("no %s in %v", k, body)
		}
	}
	if tid, _ := body["trace_id"].(string); !isUUID(tid) {
		t.Errorf("trace_id %q is not a UUID", tid)
	}
}

// Anonymous mode: any secret, or none, is the caller "anonymous", allowed every tenant.
func TestTokenAnonymous(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{anonymous: true})
	for _, form := range []url.Values{with(v2Form(mdeRes+"/.default"), "client_secret", "anything"), v2Form(mdeRes + "/.default")} {
		status, body := post(t, f, "/contoso/oauth2/v2.0/token", form, nil, nil)
		if status != 200 {
			t.Fatalf("status %d %v", status, body)
		}
		c, err := f.h.Verify(body["access_token"].(string))
		if err != nil || c.Caller != Anonymous || c.TenantID != contosoID {
			t.Errorf("claims %+v, err %v", c, err)
		}
	}
	status, body := post(t, f, "/nosuch/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_secret", "x"), nil, nil)
	if status != 400 || body["error"] != "invalid_request" {
		t.Errorf("unknown tenant: %d %v", status, body)
	}
}

// The OpenID documents: every URL on the host and scheme the request was addressed to, for
// any tenant segment (the segment kept as sent: no customer list leaks without a key).
func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, tc := range []struct {
		host, path string
		want       map[string]string
	}{
		{"", "/contoso/v2.0/.well-known/openid-configuration", map[string]string{
			"issuer": "{base}/contoso/v2.0", "token_endpoint": "{base}/contoso/oauth2/v2.0/token",
			"authorization_endpoint": "{base}/contoso/oauth2/v2.0/authorize", "jwks_uri": "{base}/contoso/discovery/v2.0/keys"}},
		{"", "/nosuch/.well-known/openid-configuration", map[string]string{
			"issuer": "{base}/nosuch/", "token_endpoint": "{base}/nosuch/oauth2/token",
			"authorization_endpoint": "{base}/nosuch/oauth2/authorize", "jwks_uri": "{base}/nosuch/discovery/keys"}},
		{"login.microsoftonline.com", "/organizations/v2.0/.well-known/openid-configuration", map[string]string{
			"issuer": "https://login.microsoftonline.com/organizations/v2.0", "token_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"}},
		{"Login.Windows.Net:443", "/contoso/v2.0/.well-known/openid-configuration", map[string]string{
			"token_endpoint": "https://login.windows.net:443/contoso/oauth2/v2.0/token"}},
	} {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		status, doc := do(t, f, req)
		if status != 200 {
			t.Fatalf("%s: %d %v", tc.path, status, doc)
		}
		for k, v := range tc.want {
			if want := strings.ReplaceAll(v, "{base}", f.srv.URL); doc[k] != want {
				t.Errorf("%s %s: %s = %v, want %s", tc.host, tc.path, k, doc[k], want)
			}
		}
	}
}

// Instance discovery, parsed as MSAL Python, msal-node and MSAL Go parse it.
func TestInstanceDiscovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{hosts: []string{"gw.example:8443"}})
	self := strings.TrimPrefix(f.srv.URL, "https://")
	type entry struct {
		PreferredNetwork string   `json:"preferred_network"`
		PreferredCache   string   `json:"preferred_cache"`
		Aliases          []string `json:"aliases"`
	}
	type answer struct {
		TenantDiscoveryEndpoint string  `json:"tenant_discovery_endpoint"`
		APIVersion              string  `json:"api-version"`
		Metadata                []entry `json:"metadata"`
		Error                   string  `json:"error"`
	}
	ask := func(host, authz, apiVersion string) (int, answer) {
		q := url.Values{"api-version": {apiVersion}}
		if authz != "" {
			q.Set("authorization_endpoint", authz)
		}
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/common/discovery/instance?"+q.Encode(), nil)
		req.Host = host
		resp, err := f.client(false).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, a
	}
	// msal-node and MSAL Go: the entry whose aliases hold the authority's host:port.
	entryFor := func(a answer, host string) *entry {
		for i := range a.Metadata {
			if slices.Contains(a.Metadata[i].Aliases, host) {
				return &a.Metadata[i]
			}
		}
		return nil
	}

	t.Run("asked directly, msal-node shape", func(t *testing.T) {
		status, a := ask(self, "https://"+self+"/contoso/oauth2/v2.0/authorize", "1.1")
		if status != 200 || a.APIVersion != "1.1" || a.TenantDiscoveryEndpoint != f.srv.URL+"/contoso/v2.0/.well-known/openid-configuration" {
			t.Fatalf("%d %+v", status, a)
		}
		e := entryFor(a, self)
		if e == nil || e.PreferredNetwork != self || e.PreferredCache != self {
			t.Errorf("entry for %s: %+v", self, a.Metadata)
		}
	})
	t.Run("through login.microsoftonline.com, Entra's own entry", func(t *testing.T) {
		status, a := ask("login.microsoftonline.com", "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize", "1.1")
		want := entry{"login.microsoftonline.com", "login.windows.net", []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}}
		if status != 200 || len(a.Metadata) != 1 || !reflect.DeepEqual(a.Metadata[0], want) ||
			a.TenantDiscoveryEndpoint != "https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration" {
			t.Errorf("%d %+v", status, a)
		}
	})
	t.Run("gateway host through the tunnel (msal-node, MSAL Go)", func(t *testing.T) {
		status, a := ask("login.microsoftonline.com", "https://gw.example:8443/"+contosoID+"/oauth2/v2.0/authorize", "1.1")
		if status != 200 || entryFor(a, "gw.example:8443") == nil ||
			a.TenantDiscoveryEndpoint != "https://login.microsoftonline.com/"+contosoID+"/v2.0/.well-known/openid-configuration" {
			t.Errorf("%d %+v", status, a)
		}
	})
	t.Run("MSAL Python 1.21: api-version 1.0, port dropped", func(t *testing.T) {
		// MSAL Python builds "https://{hostname}{path}/oauth2/v2.0/authorize" without the
		// port and then GETs tenant_discovery_endpoint as given.
		status, a := ask("login.microsoftonline.com", "https://gw.example/contoso/oauth2/v2.0/authorize", "1.0")
		if status != 200 || a.TenantDiscoveryEndpoint != "https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration" {
			t.Fatalf("%d %+v", status, a)
		}
		status, doc := get(t, f, "/contoso/v2.0/.well-known/openid-configuration")
		if status != 200 || doc["authorization_endpoint"] == nil || doc["token_endpoint"] == nil {
			t.Errorf("MSAL Python needs authorization_endpoint and token_endpoint: %v", doc)
		}
	})
	t.Run("v1 authorize endpoint, no parameter", func(t *testing.T) {
		_, a := ask(self, "https://"+self+"/contoso/oauth2/authorize", "1.1")
		if a.TenantDiscoveryEndpoint != f.srv.URL+"/contoso/.well-known/openid-configuration" {
			t.Errorf("v1: %+v", a)
		}
		_, a = ask(self, "", "1.1")
		if a.TenantDiscoveryEndpoint != f.srv.URL+"/common/v2.0/.well-known/openid-configuration" {
			t.Errorf("no authorization_endpoint: %+v", a)
		}
	})
	t.Run("foreign host: invalid_instance", func(t *testing.T) {
		for _, authz := range []string{"https://evil.example/contoso/oauth2/v2.0/authorize", "https://gw.example:9999/contoso/oauth2/v2.0/authorize", "::"} {
			status, a := ask("login.microsoftonline.com", authz, "1.1")
			if status != 400 || a.Error != "invalid_instance" {
				t.Errorf("%s: %d %+v, want 400 invalid_instance", authz, status, a)
			}
		}
	})
}

// Verify: the gateway's own tokens pass; expired, forged, tampered and foreign ones do not.
func TestVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	_, body := post(t, f, "/contoso/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_secret", socKey), nil, nil)
	tok := body["access_token"].(string)
	if _, err := f.h.Verify(tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}

	other, _ := GenerateSigningKey()
	forged := *other
	forged.kid = f.h.key.kid // another key claiming this one's kid
	now := f.clock.Now().Unix()
	claims := &jwtClaims{Aud: mdeRes, Iat: now, Nbf: now, Exp: now + 3600, Sub: "soc", Tid: contosoID, AppID: "x"}
	forgedTok, _ := forged.sign(claims)
	otherTok, _ := other.sign(claims)
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + strings.TrimRight(b64([]byte(`{"aud":"`+mdeRes+`","sub":"admin","tid":"`+fabrikamID+`","iat":1,"nbf":1,"exp":9999999999}`)), "=") + "." + parts[2]
	none := b64([]byte(`{"alg":"none","typ":"JWT","kid":"`+f.h.key.kid+`"}`)) + "." + parts[1] + "."
	noTenant, _ := f.h.key.sign(&jwtClaims{Aud: mdeRes, Iat: now, Nbf: now, Exp: now + 3600, Sub: "soc"})

	for _, tc := range []struct {
		name string
		tok  string
		want error
	}{
		{"caller key", socKey, ErrNotToken},
		{"garbage with dots", "a.b.c", ErrNotToken},
		{"forged signature", forgedTok, ErrTokenInvalid},
		{"another key", otherTok, ErrTokenInvalid},
		{"tampered claims", tampered, ErrTokenInvalid},
		{"alg none", none, ErrTokenInvalid},
		{"no tid", noTenant, ErrTokenInvalid},
	} {
		if _, err := f.h.Verify(tc.tok); err != tc.want {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}

	f.clock.Add(DefaultLifetime - time.Second)
	if _, err := f.h.Verify(tok); err != nil {
		t.Errorf("a second before exp: %v", err)
	}
	f.clock.Add(2 * time.Second)
	if _, err := f.h.Verify(tok); err != ErrTokenExpired {
		t.Errorf("after exp: err %v, want ErrTokenExpired", err)
	}
}

// No log line holds a secret, a caller key or a token; "token issued" names caller, tenant
// and client ID.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	var tokens []string
	for _, tc := range []struct {
		path  string
		form  url.Values
		basic []string
	}{
		{"/contoso/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_secret", socKey), nil},
		{"/contoso/oauth2/token", v1Form(mdeRes), []string{"tool-client-id", limitedKey}},
		{"/fabrikam/oauth2/token", v1Form(mdeRes), []string{"tool-client-id", limitedKey}},
		{"/contoso/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_secret", "wrong-secret-value"), nil},
		{"/fabrikam/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_secret", socKey), nil},
	} {
		_, body := post(t, f, tc.path, tc.form, tc.basic, nil)
		if s, ok := body["access_token"].(string); ok {
			tokens = append(tokens, s)
		}
	}
	acquire(t, f, f.srv.URL+"/contoso", socKey, false, false)
	if len(tokens) != 2 {
		t.Fatalf("%d tokens issued, want 2", len(tokens))
	}
	logs := f.log.String()
	for _, secret := range append([]string{socKey, limitedKey, "wrong-secret-value"}, tokens...) {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q", secret)
		}
	}
	for _, tok := range tokens { // nor any of a token's three parts
		for _, p := range strings.Split(tok, ".") {
			if strings.Contains(logs, p) {
				t.Errorf("log holds a part of a token")
			}
		}
	}
	var issued, refused int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch m["message"] {
		case "token issued":
			issued++
			if m["caller"] == nil || m["tenant_id"] != contosoID || m["tenant"] != "contoso" || m["client_id"] != "tool-client-id" {
				t.Errorf("token issued line %v", m)
			}
		case "token refused":
			refused++
		}
	}
	if issued != 3 || refused != 3 {
		t.Errorf("%d issued, %d refused lines, want 3 and 3:\n%s", issued, refused, logs)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"no tenant lookup", Options{}, false},
		{"defaults", Options{Tenant: lookupTenant}, true},
		{"24h", Options{Tenant: lookupTenant, Lifetime: MaxLifetime}, true},
		{"over 24h", Options{Tenant: lookupTenant, Lifetime: MaxLifetime + time.Second}, false},
		{"negative", Options{Tenant: lookupTenant, Lifetime: -time.Hour}, false},
		{"bad scheme", Options{Tenant: lookupTenant, Scheme: "ftp"}, false},
	} {
		h, err := New(tc.opts)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if tc.name == "defaults" && (h.lifetime != DefaultLifetime || h.key == nil) {
			t.Errorf("defaults: lifetime %v, key %v", h.lifetime, h.key)
		}
	}
}

// The scheme of the documents' URLs: the request's (TLS or not), unless Options.Scheme says
// (a TLS-terminating load balancer in front).
func TestScheme(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"", "https"} {
		h, err := New(Options{Tenant: lookupTenant, Scheme: scheme})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		resp, err := srv.Client().Get(srv.URL + "/contoso/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		srv.Close()
		want := "http://" + strings.TrimPrefix(srv.URL, "http://") + "/contoso/oauth2/v2.0/token"
		if scheme == "https" {
			want = "https://" + strings.TrimPrefix(srv.URL, "http://") + "/contoso/oauth2/v2.0/token"
		}
		if doc["token_endpoint"] != want {
			t.Errorf("Scheme %q: token_endpoint %v, want %s", scheme, doc["token_endpoint"], want)
		}
	}
}
