package emulator

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

const (
	clientID   = "0d6b7e6a-4d7b-4b8e-9f4c-6a9f5e4d3c21"
	secret     = "s3cret-value~not-an-id"
	mdeScope   = "https://api.securitycenter.microsoft.com/.default"
	contosoID  = "11111111-1111-4111-8111-111111111111"
	fabrikamID = "22222222-2222-4222-8222-222222222222"
	pendingID  = "33333333-3333-4333-8333-333333333333" // not consented
	noMDEID    = "44444444-4444-4444-8444-444444444444"
	noRolesID  = "55555555-5555-4555-8555-555555555555"
	alertsOnly = "66666666-6666-4666-8666-666666666666"
	unknownID  = "99999999-9999-4999-8999-999999999999"
)

// testCert is an RSA certificate and key in one PEM, as confidential.CertFromPEM reads.
type testCert struct {
	cert *x509.Certificate
	pem  []byte
	key  *rsa.PrivateKey
}

// appCerts holds two certificates: [0] is registered on the app, [1] is not. RSA key
// generation is slow under -race, so they are made once per test binary.
var appCerts = sync.OnceValues(func() ([2]testCert, error) {
	var out [2]testCert
	for i := range out {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return out, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)),
			Subject:      pkix.Name{CommonName: fmt.Sprintf("mdegate test app %d", i)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return out, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return out, err
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return out, err
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		p = append(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
		out[i] = testCert{cert: cert, pem: p, key: key}
	}
	return out, nil
})

func certs(t *testing.T) [2]testCert {
	t.Helper()
	c, err := appCerts()
	if err != nil {
		t.Fatalf("generate test certificates: %v", err)
	}
	return c
}

// start runs an emulator with the standard tenants, tweaked by mod, and closes it at the end.
func start(t *testing.T, mod func(*Options)) *Emulator {
	t.Helper()
	opts := Options{
		Apps: []App{{ClientID: clientID, Secret: secret, Cert: certs(t)[0].cert}},
		Tenants: []Tenant{
			{ID: contosoID, Name: "contoso", Consented: true},
			{ID: fabrikamID, Name: "fabrikam", Consented: true, Machines: 8},
			{ID: pendingID, Name: "pending", Consented: false},
			{ID: noMDEID, Name: "nomde", Consented: true, NoMDE: true},
			{ID: noRolesID, Name: "noroles", Consented: true, Roles: []string{}},
			{ID: alertsOnly, Name: "alertsonly", Consented: true, Roles: []string{"Alert.Read.All"}},
		},
		Regions: []string{"global", "eu"},
		Logf:    t.Logf,
	}
	if mod != nil {
		mod(&opts)
	}
	e, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// msalClient builds a real MSAL confidential client against the emulator.
func msalClient(t *testing.T, e *Emulator, tenant string, cred confidential.Credential) confidential.Client {
	t.Helper()
	c, err := confidential.New(e.LoginURL()+"/"+tenant, clientID, cred,
		confidential.WithHTTPClient(e.Client()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	return c
}

func secretCred(t *testing.T, s string) confidential.Credential {
	t.Helper()
	cred, err := confidential.NewCredFromSecret(s)
	if err != nil {
		t.Fatalf("NewCredFromSecret: %v", err)
	}
	return cred
}

func certCred(t *testing.T, c testCert) confidential.Credential {
	t.Helper()
	cs, key, err := confidential.CertFromPEM(c.pem, "")
	if err != nil {
		t.Fatalf("CertFromPEM: %v", err)
	}
	cred, err := confidential.NewCredFromCert(cs, key)
	if err != nil {
		t.Fatalf("NewCredFromCert: %v", err)
	}
	return cred
}

// token gets an MDE token for tenant with the client secret through MSAL.
func token(t *testing.T, e *Emulator, tenant string) string {
	t.Helper()
	res, err := msalClient(t, e, tenant, secretCred(t, secret)).AcquireTokenByCredential(context.Background(), []string{mdeScope})
	if err != nil {
		t.Fatalf("AcquireTokenByCredential(%s): %v", tenant, err)
	}
	return res.AccessToken
}

// answer is an API answer, body decompressed by the transport when it asked for gzip.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", a.status, err, a.body)
	}
	return m
}

func do(t *testing.T, e *Emulator, method, rawURL, tok string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, rawURL, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func get(t *testing.T, e *Emulator, path, tok string) answer {
	t.Helper()
	return do(t, e, http.MethodGet, e.RegionURL("global")+path, tok, nil)
}

// claims decodes a JWT's payload without verifying it.
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMSALAcquiresTokensThatTheAPIAccepts(t *testing.T) {
	e := start(t, nil)
	for _, tc := range []struct {
		name string
		cred confidential.Credential
		acr  string
	}{
		{"secret", secretCred(t, secret), "1"},
		{"certificate", certCred(t, certs(t)[0]), "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.TokenRequests(contosoID)
			c := msalClient(t, e, contosoID, tc.cred)
			res, err := c.AcquireTokenByCredential(context.Background(), []string{mdeScope})
			if err != nil {
				t.Fatalf("AcquireTokenByCredential: %v", err)
			}
			if got := e.TokenRequests(contosoID) - before; got != 1 {
				t.Errorf("token requests = %d, want 1", got)
			}
			// MSAL's cache answers the second call.
			if _, err := c.AcquireTokenByCredential(context.Background(), []string{mdeScope}); err != nil {
				t.Fatalf("second AcquireTokenByCredential: %v", err)
			}
			if got := e.TokenRequests(contosoID) - before; got != 1 {
				t.Errorf("token requests after cached call = %d, want 1", got)
			}
			if left := time.Until(res.ExpiresOn); left < 3500*time.Second || left > 3600*time.Second {
				t.Errorf("token expires in %v, want about 3599s", left)
			}
			cl := claims(t, res.AccessToken)
			want := map[string]any{
				"aud": "https://api.securitycenter.microsoft.com", "tid": contosoID, "appid": clientID,
				"ver": "1.0", "iss": "https://sts.windows.net/" + contosoID + "/", "appidacr": tc.acr,
			}
			for k, v := range want {
				if cl[k] != v {
					t.Errorf("claim %s = %v, want %v", k, cl[k], v)
				}
			}
			if exp, iat := cl["exp"].(float64), cl["iat"].(float64); exp-iat != 3599+300 {
				t.Errorf("exp - iat = %v, want 3899", exp-iat)
			}

			a := get(t, e, "/api/alerts?$top=100", res.AccessToken)
			if a.status != http.StatusOK {
				t.Fatalf("GET /api/alerts = %d %s", a.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			m := a.json(t)
			if ctx := m["@odata.context"]; ctx != e.RegionURL("global")+"/api/$metadata#Alerts" {
				t.Errorf("@odata.context = %v", ctx)
			}
			alerts := m["value"].([]any)
			if len(alerts) != 7 {
				t.Fatalf("%d alerts, want 7", len(alerts))
			}
			first := alerts[0].(map[string]any)
			if first["id"] != "contoso-a01" || first["machineId"] != "contoso-m01" || first["aadTenantId"] != contosoID {
				t.Errorf("first alert = %v", first)
			}
		})
	}
	if got := e.DiscoveryRequests(contosoID); got != 2 {
		t.Errorf("discovery requests = %d, want 2 (one per MSAL client)", got)
	}
}

func TestMSALOneClientManyTenants(t *testing.T) {
	e := start(t, nil)
	c := msalClient(t, e, "organizations", secretCred(t, secret))
	for _, tc := range []struct{ tid, name string }{{contosoID, "contoso"}, {fabrikamID, "fabrikam"}} {
		res, err := c.AcquireTokenByCredential(context.Background(), []string{mdeScope}, confidential.WithTenantID(tc.tid))
		if err != nil {
			t.Fatalf("tenant %s: %v", tc.name, err)
		}
		if tid := claims(t, res.AccessToken)["tid"]; tid != tc.tid {
			t.Errorf("tid = %v, want %s", tid, tc.tid)
		}
		m := get(t, e, "/api/machines/"+tc.name+"-m02", res.AccessToken).json(t)
		if m["computerDnsName"] != tc.name+"-pc02."+tc.name+".example" {
			t.Errorf("machine = %v", m)
		}
		// Another tenant's machine is not visible.
		other := "contoso-m01"
		if tc.name == "contoso" {
			other = "fabrikam-m01"
		}
		if a := get(t, e, "/api/machines/"+other, res.AccessToken); a.status != http.StatusNotFound {
			t.Errorf("GET another tenant's machine = %d, want 404", a.status)
		}
	}
}

func TestTokenErrorsReachMSALAsEntraErrors(t *testing.T) {
	e := start(t, nil)
	for _, tc := range []struct {
		name   string
		tenant string
		cred   func(t *testing.T) confidential.Credential
		client string
		setup  func()
		status int
		code   int
		errStr string
	}{
		{name: "unknown tenant", tenant: unknownID, status: 400, code: 90002, errStr: "invalid_tenant"},
		{name: "unknown app", tenant: contosoID, client: "7a1c2d3e-0000-4000-8000-000000000000", status: 400, code: 700016, errStr: "unauthorized_client"},
		{name: "not consented", tenant: pendingID, status: 400, code: 700016, errStr: "unauthorized_client"},
		{name: "wrong secret", tenant: contosoID, cred: func(t *testing.T) confidential.Credential { return secretCred(t, "wrong-secret") }, status: 401, code: 7000215, errStr: "invalid_client"},
		{name: "unregistered certificate", tenant: contosoID, cred: func(t *testing.T) confidential.Credential { return certCred(t, certs(t)[1]) }, status: 401, code: 700027, errStr: "invalid_client"},
		{name: "no MDE", tenant: noMDEID, status: 400, code: 500011, errStr: "invalid_resource"},
		{name: "injected server error", tenant: fabrikamID, setup: func() { e.FailTokens(fabrikamID, 500, 0) }, status: 500, code: 90033, errStr: "temporarily_unavailable"},
		{name: "consent revoked", tenant: contosoID, setup: func() { e.SetConsent(contosoID, false) }, status: 400, code: 700016, errStr: "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			cred := secretCred(t, secret)
			if tc.cred != nil {
				cred = tc.cred(t)
			}
			id := clientID
			if tc.client != "" {
				id = tc.client
			}
			c, err := confidential.New(e.LoginURL()+"/"+tc.tenant, id, cred,
				confidential.WithHTTPClient(e.Client()), confidential.WithInstanceDiscovery(false))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.AcquireTokenByCredential(context.Background(), []string{mdeScope})
			var callErr msalerrors.CallErr
			if !errors.As(err, &callErr) {
				t.Fatalf("error %v (%T) is not a CallErr", err, err)
			}
			if callErr.Resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", callErr.Resp.StatusCode, tc.status)
			}
			raw, _ := io.ReadAll(callErr.Resp.Body)
			var body struct {
				Error         string `json:"error"`
				Description   string `json:"error_description"`
				Codes         []int  `json:"error_codes"`
				TraceID       string `json:"trace_id"`
				CorrelationID string `json:"correlation_id"`
				Timestamp     string `json:"timestamp"`
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("error body: %v: %s", err, raw)
			}
			if len(body.Codes) != 1 || body.Codes[0] != tc.code || body.Error != tc.errStr {
				t.Errorf("error = %q codes %v, want %q [%d]", body.Error, body.Codes, tc.errStr, tc.code)
			}
			if !strings.HasPrefix(body.Description, fmt.Sprintf("AADSTS%d: ", tc.code)) ||
				!strings.Contains(body.Description, "\r\nTrace ID: "+body.TraceID+"\r\nCorrelation ID: "+body.CorrelationID+"\r\nTimestamp: ") {
				t.Errorf("error_description = %q", body.Description)
			}
			if !isUUID(body.TraceID) || !isUUID(body.CorrelationID) || body.Timestamp == "" {
				t.Errorf("trace %q correlation %q timestamp %q", body.TraceID, body.CorrelationID, body.Timestamp)
			}
			if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte("wrong-secret")) {
				t.Errorf("error body echoes the secret: %s", raw)
			}
		})
	}

	// Clearing the injected failure restores service.
	e.FailTokens(fabrikamID, 0, 0)
	token(t, e, fabrikamID)
}

// postToken posts a raw token request form.
func postToken(t *testing.T, e *Emulator, tenantPath string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := e.Client().PostForm(e.LoginURL()+"/"+tenantPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("token answer %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, m
}

// assertion builds a client assertion signed PS256 by c, with claims changed by mod.
func assertion(t *testing.T, c testCert, aud string, mod func(map[string]any)) string {
	t.Helper()
	sum := sha256.Sum256(c.cert.Raw)
	now := time.Now().Unix()
	cl := map[string]any{"aud": aud, "iss": clientID, "sub": clientID, "exp": now + 600, "nbf": now, "jti": newUUID()}
	if mod != nil {
		mod(cl)
	}
	hb, _ := json.Marshal(map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])})
	cb, _ := json.Marshal(cl)
	signing := b64url(hb) + "." + b64url(cb)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPSS(rand.Reader, c.key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64url(sig)
}

func TestTokenEndpointChecks(t *testing.T) {
	e := start(t, nil)
	tokenURL := e.LoginURL() + "/" + contosoID + "/oauth2/v2.0/token"
	good := certs(t)[0]
	base := func(extra url.Values) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {mdeScope}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	asForm := func(a string) url.Values {
		return url.Values{"client_assertion": {a}, "client_assertion_type": {assertionType}}
	}
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		code   int
	}{
		{"secret", contosoID + "/oauth2/v2.0/token", base(url.Values{"client_secret": {secret}}), 200, 0},
		{"by domain name", "contoso.onmicrosoft.com/oauth2/v2.0/token", base(url.Values{"client_secret": {secret}}), 200, 0},
		{"v1 endpoint with resource", contosoID + "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "resource": {"https://api.securitycenter.microsoft.com"}}, 200, 0},
		{"assertion", contosoID + "/oauth2/v2.0/token", base(asForm(assertion(t, good, tokenURL, nil))), 200, 0},
		{"missing secret", contosoID + "/oauth2/v2.0/token", base(nil), 401, 7000215},
		{"expired assertion", contosoID + "/oauth2/v2.0/token", base(asForm(assertion(t, good, tokenURL, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))), 401, 700027},
		{"assertion for another endpoint", contosoID + "/oauth2/v2.0/token", base(asForm(assertion(t, good, e.LoginURL()+"/"+fabrikamID+"/oauth2/v2.0/token", nil))), 401, 700027},
		{"assertion with wrong issuer", contosoID + "/oauth2/v2.0/token", base(asForm(assertion(t, good, tokenURL, func(c map[string]any) { c["iss"] = "someone-else" }))), 401, 700027},
		{"tampered assertion", contosoID + "/oauth2/v2.0/token", base(asForm(assertion(t, good, tokenURL, nil) + "x")), 401, 700027},
		{"wrong grant", contosoID + "/oauth2/v2.0/token", url.Values{"grant_type": {"password"}, "client_id": {clientID}}, 400, 70003},
		{"scope without .default", contosoID + "/oauth2/v2.0/token", base(url.Values{"client_secret": {secret}, "scope": {"Alert.Read.All"}}), 400, 1002012},
		{"unknown resource", contosoID + "/oauth2/v2.0/token", base(url.Values{"client_secret": {secret}, "scope": {"https://nothing.example/.default"}}), 400, 500011},
		{"common", "common/oauth2/v2.0/token", base(url.Values{"client_secret": {secret}}), 400, 50059},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, m := postToken(t, e, tc.path, tc.form)
			if status != tc.status {
				t.Fatalf("status = %d, want %d: %v", status, tc.status, m)
			}
			if tc.status == 200 {
				if m["token_type"] != "Bearer" || m["access_token"] == "" || m["expires_in"] != 3599.0 {
					t.Errorf("answer = %v", m)
				}
				if a := get(t, e, "/api/machines", m["access_token"].(string)); a.status != 200 {
					t.Errorf("token refused by the API: %d %s", a.status, a.body)
				}
				return
			}
			if codes, _ := m["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(tc.code) {
				t.Errorf("error_codes = %v, want [%d] (%v)", m["error_codes"], tc.code, m["error_description"])
			}
			if d, _ := m["error_description"].(string); strings.Contains(d, secret) || strings.Contains(d, "eyJ") {
				t.Errorf("error_description leaks a credential: %q", d)
			}
		})
	}
	// Two tokens never collide.
	_, a := postToken(t, e, contosoID+"/oauth2/v2.0/token", base(url.Values{"client_secret": {secret}}))
	_, b := postToken(t, e, contosoID+"/oauth2/v2.0/token", base(url.Values{"client_secret": {secret}}))
	if a["access_token"] == b["access_token"] {
		t.Error("two token requests gave the same token")
	}
}

func TestDiscoveryDocument(t *testing.T) {
	e := start(t, nil)
	for _, seg := range []string{contosoID, "organizations", "common"} {
		resp, err := e.Client().Get(e.LoginURL() + "/" + seg + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", seg, resp.StatusCode, err)
		}
		if doc["token_endpoint"] != e.LoginURL()+"/"+seg+"/oauth2/v2.0/token" {
			t.Errorf("%s: token_endpoint = %v", seg, doc["token_endpoint"])
		}
		iss, _ := doc["issuer"].(string)
		if !strings.HasPrefix(iss, e.LoginURL()+"/") {
			t.Errorf("%s: issuer = %v", seg, iss)
		}
	}
	resp, err := e.Client().Get(e.LoginURL() + "/common/discovery/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) != 1 || jwks.Keys[0].Kty != "RSA" {
		t.Fatalf("jwks = %+v, %v", jwks, err)
	}
	tok := token(t, e, contosoID)
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if !strings.Contains(string(hb), `"kid":"`+jwks.Keys[0].Kid+`"`) {
		t.Errorf("token header %s does not name the published key %s", hb, jwks.Keys[0].Kid)
	}
}

func TestAPIAuthorization(t *testing.T) {
	now := time.Now()
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); defer clockMu.Unlock(); now = now.Add(d) }
	e := start(t, func(o *Options) { o.Now = clock })
	other := start(t, nil)

	contoso := token(t, e, contosoID)
	noRoles := token(t, e, noRolesID)
	alertsOnlyTok := token(t, e, alertsOnly)
	foreign := token(t, other, contosoID)
	_, graph := postToken(t, e, contosoID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"},
	})

	for _, tc := range []struct {
		name, path, tok string
		status          int
		code, message   string
	}{
		{"health probe /api/", "/api/", "", 401, "Unauthorized", "Invalid Authorization payload."},
		{"health probe /api", "/api", "", 401, "Unauthorized", "Invalid Authorization payload."},
		{"garbage token", "/api/alerts", "not.a.jwt", 401, "Unauthorized", ""},
		{"token of another emulator", "/api/alerts", foreign, 401, "Unauthorized", ""},
		// MDE answers 403, not 401, to a valid token for another resource (issue 17).
		{"token for another audience", "/api/alerts", graph["access_token"].(string), 403, "Forbidden", ""},
		{"no roles", "/api/alerts", noRoles, 403, "Forbidden", "Missing application roles. API required roles: Alert.Read.All, Alert.ReadWrite.All"},
		{"missing role", "/api/machines", alertsOnlyTok, 403, "Forbidden", "Missing application roles. API required roles: Machine.Read.All, Machine.ReadWrite.All"},
		{"role present", "/api/alerts?$top=2", alertsOnlyTok, 200, "", ""},
		{"unknown route", "/api/nothing", contoso, 404, "NotFound", ""},
		{"outside /api", "/", contoso, 404, "NotFound", ""},
		{"v1.0 prefix", "/api/v1.0/alerts/contoso-a03", contoso, 200, "", ""},
		{"unknown alert", "/api/alerts/contoso-a99", contoso, 404, "NotFound", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, e, tc.path, tc.tok)
			if a.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.code == "" {
				return
			}
			var body apiError
			if err := json.Unmarshal(a.body, &body); err != nil {
				t.Fatalf("body %s: %v", a.body, err)
			}
			if body.Error.Code != tc.code || (tc.message != "" && body.Error.Message != tc.message) || !isUUID(body.Error.Target) {
				t.Errorf("error = %+v, want code %q message %q", body.Error, tc.code, tc.message)
			}
		})
	}

	t.Run("revocation", func(t *testing.T) {
		old := token(t, e, fabrikamID)
		e.RevokeTokens(fabrikamID)
		advance(time.Millisecond) // the test clock stands still; real time moves on by itself
		if a := get(t, e, "/api/alerts", old); a.status != 401 {
			t.Errorf("revoked token: status %d, want 401", a.status)
		}
		// A token issued after revocation works, even within the same second.
		_, fresh := postToken(t, e, fabrikamID+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {mdeScope},
		})
		if a := get(t, e, "/api/alerts", fresh["access_token"].(string)); a.status != 200 {
			t.Errorf("fresh token: status %d, want 200", a.status)
		}
		if a := get(t, e, "/api/alerts", contoso); a.status != 200 {
			t.Errorf("other tenant's token: status %d, want 200", a.status)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		advance(3599*time.Second + 300*time.Second)
		if a := get(t, e, "/api/alerts", contoso); a.status != 401 {
			t.Errorf("expired token: status %d, want 401", a.status)
		}
	})
}

func TestMachinesPaging(t *testing.T) {
	e := start(t, nil)
	tok := token(t, e, fabrikamID) // 8 machines, page size 3
	var ids []string
	next := e.RegionURL("global") + "/api/machines"
	pages := 0
	for next != "" {
		pages++
		a := do(t, e, http.MethodGet, next, tok, nil)
		if a.status != 200 {
			t.Fatalf("GET %s = %d %s", next, a.status, a.body)
		}
		m := a.json(t)
		for _, v := range m["value"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		next, _ = m["@odata.nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, e.RegionURL("global")+"/api/machines?$skip=") {
			t.Fatalf("nextLink %q is not absolute on the region", next)
		}
	}
	want := "fabrikam-m01 fabrikam-m02 fabrikam-m03 fabrikam-m04 fabrikam-m05 fabrikam-m06 fabrikam-m07 fabrikam-m08"
	if got := strings.Join(ids, " "); got != want || pages != 3 {
		t.Errorf("walked %d pages: %s, want 3 pages: %s", pages, got, want)
	}

	m := get(t, e, "/api/machines?$top=5&$skip=2", tok).json(t)
	if v := m["value"].([]any); len(v) != 5 || v[0].(map[string]any)["id"] != "fabrikam-m03" {
		t.Errorf("$top=5&$skip=2 gave %v", v)
	}
	if _, ok := m["@odata.nextLink"]; ok {
		t.Errorf("$top answer has a nextLink")
	}

	e.SetNextLinkBase("https://api-us3.securitycenter.microsoft.com")
	m = do(t, e, http.MethodGet, e.RegionURL("eu")+"/api/machines", tok, nil).json(t)
	if m["@odata.nextLink"] != "https://api-us3.securitycenter.microsoft.com/api/machines?$skip=3" ||
		m["@odata.context"] != "https://api-us3.securitycenter.microsoft.com/api/$metadata#Machines" {
		t.Errorf("links with a set base: %v %v", m["@odata.nextLink"], m["@odata.context"])
	}
}

func TestQuotaAndThrottle(t *testing.T) {
	e := start(t, nil)
	contoso, fabrikam := token(t, e, contosoID), token(t, e, fabrikamID)
	e.SetQuota(3, time.Minute)
	for i := 0; i < 3; i++ {
		if a := get(t, e, "/api/alerts", contoso); a.status != 200 {
			t.Fatalf("request %d: %d", i+1, a.status)
		}
	}
	a := get(t, e, "/api/alerts", contoso)
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("4th request = %d, want 429", a.status)
	}
	secs, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
	var body apiError
	if err := json.Unmarshal(a.body, &body); err != nil {
		t.Fatal(err)
	}
	wantMsg := fmt.Sprintf("API calls quota exceeded! Maximum allowed 3 per 00:01:00 for the key Destination+TenantID+AppID. You can send requests again in %d seconds.", secs)
	if body.Error.Code != "429" || body.Error.Message != wantMsg {
		t.Errorf("429 body = %+v, want message %q", body.Error, wantMsg)
	}
	// Other families and other tenants have their own windows.
	if a := get(t, e, "/api/machines", contoso); a.status != 200 {
		t.Errorf("other family: %d", a.status)
	}
	if a := get(t, e, "/api/alerts", fabrikam); a.status != 200 {
		t.Errorf("other tenant: %d", a.status)
	}
	if got := e.Throttled(); got != 1 {
		t.Errorf("Throttled() = %d, want 1", got)
	}

	// Short windows reopen.
	e.SetQuota(1, 200*time.Millisecond)
	get(t, e, "/api/indicators", contoso)
	if a := get(t, e, "/api/indicators", contoso); a.status != 429 || a.header.Get("Retry-After") != "1" {
		t.Errorf("over a 200ms window: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	time.Sleep(250 * time.Millisecond)
	if a := get(t, e, "/api/indicators", contoso); a.status != 200 {
		t.Errorf("after the window: %d", a.status)
	}

	e.SetQuota(0, 0)
	e.Throttle(fabrikamID, 1500*time.Millisecond)
	if a := get(t, e, "/api/alerts", fabrikam); a.status != 429 || a.header.Get("Retry-After") != "2" {
		t.Errorf("throttled: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if a := get(t, e, "/api/alerts", fabrikam); a.status != 200 {
		t.Errorf("after one-shot throttle: %d", a.status)
	}
	if got := e.Throttled(); got != 3 {
		t.Errorf("Throttled() = %d, want 3", got)
	}
}

func TestStopAndStartRegion(t *testing.T) {
	e := start(t, nil)
	tok := token(t, e, contosoID)
	e.SetRegionLatency("eu", 5*time.Second)

	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.RegionURL("eu")+"/api/alerts", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("got an answer %d", resp.StatusCode)
		} else {
			err = nil // failing is what an outage looks like
		}
		errc <- err
	}()
	// Wait until the request is held by the latency knob.
	deadline := time.Now().Add(2 * time.Second)
	for len(e.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e.StopRegion("eu")
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("request in flight during StopRegion: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("request in flight survived StopRegion")
	}
	if _, err := e.Client().Get(e.RegionURL("eu") + "/api/"); err == nil {
		t.Error("stopped region still answers")
	}
	if a := get(t, e, "/api/alerts", tok); a.status != 200 {
		t.Errorf("global region during eu outage: %d", a.status)
	}

	before := e.RegionURL("eu")
	if err := e.StartRegion("eu"); err != nil {
		t.Fatal(err)
	}
	if e.RegionURL("eu") != before {
		t.Errorf("region moved from %s to %s", before, e.RegionURL("eu"))
	}
	e.SetRegionLatency("eu", 0)
	if a := do(t, e, http.MethodGet, e.RegionURL("eu")+"/api/alerts", tok, nil); a.status != 200 {
		t.Errorf("restarted region: %d", a.status)
	}
	if err := e.StartRegion("nowhere"); err == nil {
		t.Error("StartRegion of an unknown region succeeded")
	}
}

func TestGzip(t *testing.T) {
	e := start(t, nil)
	tok := token(t, e, contosoID)
	// A transport that does not decompress, to see what went on the wire.
	raw := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CertPool()}, DisableCompression: true}}
	t.Cleanup(raw.CloseIdleConnections)
	fetch := func(acceptEncoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, e.RegionURL("global")+"/api/machines?$top=2", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	for _, tc := range []struct {
		name, accept string
		on, gzipped  bool
	}{
		{"gzip accepted", "gzip, deflate, br", true, true},
		{"no accept-encoding", "", true, false},
		{"gzip refused", "gzip;q=0, identity", true, false},
		{"gzip switched off", "gzip", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.SetGzip(tc.on)
			resp, b := fetch(tc.accept)
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzipped {
				t.Fatalf("Content-Encoding = %q, want gzip %v", resp.Header.Get("Content-Encoding"), tc.gzipped)
			}
			if tc.gzipped {
				if resp.Header.Get("Vary") != "Accept-Encoding" {
					t.Errorf("Vary = %q", resp.Header.Get("Vary"))
				}
				zr, err := gzip.NewReader(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if b, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil || len(m["value"].([]any)) != 2 {
				t.Errorf("body: %v %s", err, b)
			}
		})
	}
}

func TestWritesAndRecording(t *testing.T) {
	e := start(t, nil)
	tok := token(t, e, contosoID)
	global := e.RegionURL("global")
	e.ResetRequests()

	// Isolation.
	a := do(t, e, http.MethodPost, global+"/api/machines/contoso-m02/isolate", tok, map[string]string{"Comment": "test", "IsolationType": "Full"})
	if a.status != http.StatusCreated {
		t.Fatalf("isolate = %d %s", a.status, a.body)
	}
	if m := a.json(t); m["type"] != "Isolate" || m["machineId"] != "contoso-m02" || m["requestorComment"] != "test" || m["scope"] != "Full" {
		t.Errorf("machine action = %v", m)
	}
	if a := do(t, e, http.MethodPost, global+"/api/machines/contoso-m02/isolate", tok, []byte("nope")); a.status != 400 {
		t.Errorf("isolate with a bad body = %d", a.status)
	}
	if a := do(t, e, http.MethodPost, global+"/api/machines/contoso-m42/isolate", tok, map[string]string{"Comment": "x"}); a.status != 404 {
		t.Errorf("isolate an unknown machine = %d", a.status)
	}
	if got := e.Isolations(contosoID); got != 1 {
		t.Errorf("Isolations = %d, want 1", got)
	}

	// Indicators.
	a = do(t, e, http.MethodPost, global+"/api/indicators", tok, map[string]string{"indicatorValue": "203.0.113.9", "indicatorType": "IpAddress", "action": "Block", "title": "t"})
	if a.status != 200 {
		t.Fatalf("POST indicator = %d %s", a.status, a.body)
	}
	id, _ := a.json(t)["id"].(string)
	if id == "" {
		t.Fatalf("indicator without id: %s", a.body)
	}
	list := get(t, e, "/api/indicators", tok).json(t)["value"].([]any)
	if len(list) != 3 || list[2].(map[string]any)["indicatorValue"] != "203.0.113.9" {
		t.Errorf("indicators = %v", list)
	}
	if a := do(t, e, http.MethodDelete, global+"/api/indicators/"+id, tok, nil); a.status != http.StatusNoContent {
		t.Errorf("DELETE = %d", a.status)
	}
	if a := do(t, e, http.MethodDelete, global+"/api/indicators/"+id, tok, nil); a.status != http.StatusNotFound {
		t.Errorf("DELETE again = %d", a.status)
	}

	// Advanced hunting.
	a = do(t, e, http.MethodPost, global+"/api/advancedqueries/run", tok, map[string]string{"Query": "DeviceInfo | take 3"})
	if a.status != 200 {
		t.Fatalf("run query = %d %s", a.status, a.body)
	}
	q := a.json(t)
	if rows := q["Results"].([]any); len(rows) != 5 || rows[0].(map[string]any)["DeviceName"] != "contoso-pc01.contoso.example" {
		t.Errorf("results = %v", rows)
	}
	if schema := q["Schema"].([]any); schema[2].(map[string]any)["Name"] != "DeviceName" {
		t.Errorf("schema = %v", schema)
	}
	if a := do(t, e, http.MethodPost, global+"/api/advancedqueries/run", tok, map[string]string{"query": ""}); a.status != 400 || !bytes.Contains(a.body, []byte("InvalidRequestBody")) {
		t.Errorf("empty query = %d %s", a.status, a.body)
	}

	// The export's SAS URL goes out byte for byte (no \u0026).
	a = get(t, e, "/api/machines/SoftwareInventoryExport", tok)
	if a.status != 200 || !bytes.Contains(a.body, []byte(`"exportFiles":["`+ExportFileURL+`"]`)) {
		t.Errorf("export = %d %s", a.status, a.body)
	}

	// What the upstream saw.
	seen := e.Requests()
	if len(seen) != 10 {
		t.Fatalf("%d requests recorded, want 10", len(seen))
	}
	first := seen[0]
	if first.Region != "global" || first.Method != "POST" || first.Path != "/api/machines/contoso-m02/isolate" ||
		first.TenantID != contosoID || first.AppID != clientID || first.Status != 201 ||
		string(first.Body) != `{"Comment":"test","IsolationType":"Full"}` || first.Header.Get("Authorization") == "" || first.Host != hostOf(global) {
		t.Errorf("first request = %+v", first)
	}
	e.ResetRequests()
	if n := len(e.Requests()); n != 0 {
		t.Errorf("%d requests after reset", n)
	}
}

func hostOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

func TestInventoryStreams(t *testing.T) {
	e := start(t, func(o *Options) { o.InventoryRecords = 2500 })
	tok := token(t, e, contosoID)
	type page struct {
		Context  string            `json:"@odata.context"`
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"@odata.nextLink"`
	}
	read := func(rawURL string) page {
		a := do(t, e, http.MethodGet, rawURL, tok, nil)
		if a.status != 200 {
			t.Fatalf("GET %s = %d %s", rawURL, a.status, a.body)
		}
		var p page
		if err := json.Unmarshal(a.body, &p); err != nil {
			t.Fatalf("GET %s: %v", rawURL, err)
		}
		return p
	}
	if p := read(e.RegionURL("global") + "/api/machines/SoftwareInventoryByMachine"); len(p.Value) != 2500 || p.NextLink != "" { // default page 50,000
		t.Errorf("default page: %d records, nextLink %q", len(p.Value), p.NextLink)
	}
	// Without pageSize the nextLink carries none either, as MDE's does (issue 17).
	eShort := start(t, func(o *Options) { o.InventoryRecords = 30 })
	eShort.exportPage = 20 // before its first request: 50,000 records would be 25 MB
	tokShort := token(t, eShort, contosoID)
	a := do(t, eShort, http.MethodGet, eShort.RegionURL("global")+"/api/machines/SoftwareVulnerabilitiesByMachine", tokShort, nil)
	var p2 page
	if err := json.Unmarshal(a.body, &p2); err != nil || len(p2.Value) != 20 ||
		!strings.HasPrefix(p2.NextLink, eShort.RegionURL("global")+"/api/machines/SoftwareVulnerabilitiesByMachine?$skiptoken=") {
		t.Errorf("default page without pageSize: %d records, nextLink %q (%v)", len(p2.Value), p2.NextLink, err)
	}
	p := read(e.RegionURL("global") + "/api/machines/SoftwareInventoryByMachine?pageSize=1000")
	if len(p.Value) != 1000 || !strings.HasPrefix(p.NextLink, e.RegionURL("global")+"/api/machines/SoftwareInventoryByMachine?pageSize=1000&$skiptoken=") {
		t.Fatalf("page: %d records, nextLink %q", len(p.Value), p.NextLink)
	}
	if n := len(p.Value[0]); n < 400 || n > 600 {
		t.Errorf("record is %d bytes, want about 500: %s", n, p.Value[0])
	}
	var rec struct {
		RecordIndex int
		DeviceID    string
	}
	total := 1000
	for p.NextLink != "" {
		p = read(p.NextLink)
		total += len(p.Value)
		if err := json.Unmarshal(p.Value[0], &rec); err != nil || rec.DeviceID == "" {
			t.Fatalf("record %s: %v", p.Value[0], err)
		}
	}
	if total != 2500 || rec.RecordIndex != 2000 {
		t.Errorf("walked %d records, last page starts at %d; want 2500 and 2000", total, rec.RecordIndex)
	}

	// A huge page starts arriving at once: it is streamed, not built in memory first (building
	// 5 GB would not finish within the deadline, on any machine).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e2 := start(t, nil)
	tok2 := token(t, e2, contosoID)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e2.RegionURL("global")+"/api/machines/SoftwareInventoryByMachine?pageSize=10000000", nil) // ~5 GB
	req.Header.Set("Authorization", "Bearer "+tok2)
	resp, err := e2.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyN(io.Discard, resp.Body, 8<<20)
	resp.Body.Close()
	if err != nil || n != 8<<20 {
		t.Fatalf("read %d bytes: %v", n, err)
	}
}

func TestLatencyKnobsHonourTheClient(t *testing.T) {
	e := start(t, nil)
	e.SetTokenLatency(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := msalClient(t, e, contosoID, secretCred(t, secret)).AcquireTokenByCredential(ctx, []string{mdeScope})
	if err == nil {
		t.Fatal("token request beat a 10 s latency with a 100 ms deadline")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("gave up after %v, not at the caller's deadline", d)
	}
	e.SetTokenLatency(50 * time.Millisecond)
	began = time.Now()
	token(t, e, contosoID)
	if d := time.Since(began); d < 50*time.Millisecond {
		t.Errorf("token with 50 ms latency took %v", d)
	}

	// Close does not wait out a latency knob.
	tok := token(t, e, fabrikamID)
	e.SetRegionLatency("global", time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodGet, e.RegionURL("global")+"/api/alerts", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := e.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	for deadline := time.Now().Add(2 * time.Second); len(e.Requests()) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	began = time.Now()
	e.Close()
	<-done
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("Close took %v: it waited out the one-minute latency knob", d)
	}
}

func TestStartValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"public host", Options{Host: "0.0.0.0"}, "not a loopback address"},
		{"duplicate tenant", Options{Tenants: []Tenant{{ID: contosoID}, {ID: strings.ToUpper(contosoID)}}}, "duplicate"},
		{"empty client id", Options{Apps: []App{{Secret: "x"}}}, "apps[0].client_id is empty"},
		{"duplicate region", Options{Regions: []string{"eu", "eu"}}, `regions[1] "eu" is a duplicate`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Start(tc.opts)
			if err == nil {
				e.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	e, err := Start(Options{Host: "::1"})
	if err != nil {
		t.Fatalf("Start on ::1: %v", err)
	}
	defer e.Close()
	if !strings.HasPrefix(e.RegionURL("global"), "https://[::1]:") {
		t.Errorf("RegionURL = %q", e.RegionURL("global"))
	}
	if resp, err := e.Client().Get(e.RegionURL("global") + "/api/"); err != nil || resp.StatusCode != 401 {
		t.Errorf("GET /api/ on ::1: %v", err)
	} else {
		resp.Body.Close()
	}
}
