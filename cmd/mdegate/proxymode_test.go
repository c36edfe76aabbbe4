package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/internal/intercept"
	"github.com/mdegate/mdegate/internal/tokenendpoint"
)

// The proxy mode and the token endpoint (issue 16), driven through the real gateway in front
// of the emulator. The emulator's hosts are reached as the Microsoft names: the gateway
// intercepts login.microsoftonline.com and the Defender API hosts and forwards to the
// emulator's URLs from its config, so no DNS is involved.

// proxyGateway is a gateway with token_endpoint and intercept on, and two callers: "tool"
// (contoso and fabrikam, every operation) and "fabrikam-only".
type proxyGateway struct {
	*testGateway
	ca       *intercept.CA
	caFile   string
	keyFile  string // the signing key file
	tool     string // the tool's caller key
	other    string // fabrikam-only's caller key
	proxyURL *url.URL
}

const toolClientID = "my-soar-connector" // free text: the client ID a tool sends

func startProxyGateway(t *testing.T, extra string, opts ...func(*emulator.Options)) *proxyGateway {
	t.Helper()
	dir := t.TempDir()
	ca, err := intercept.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	keyFile := writeSigningKey(t, dir)
	tool, toolSum := newTestKey(t)
	other, otherSum := newTestKey(t)
	g := startGateway(t, fmt.Sprintf(`clients:
  - {name: tool, key_sha256: %s, tenants: [contoso, fabrikam], allow: ["*"]}
  - {name: fabrikam-only, key_sha256: %s, tenants: [fabrikam]}
token_endpoint: {enabled: true, signing_key_file: %q}
intercept:
  ca_cert_file: %q
  ca_key_file: %q
`, toolSum, otherSum, keyFile, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))+extra, opts...)
	g.keys = append(g.keys, tool, other)
	u, _ := url.Parse(g.URL)
	return &proxyGateway{testGateway: g, ca: ca, caFile: filepath.Join(dir, "ca.pem"), keyFile: keyFile, tool: tool, other: other, proxyURL: u}
}

// writeSigningKey writes a new P-256 key as a PKCS#8 PEM file, as an operator would with
// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`.
func writeSigningKey(t *testing.T, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f := filepath.Join(dir, "signing-key.pem")
	if err := os.WriteFile(f, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// toolClient is what a Go tool does: an http.Client with the gateway as its proxy and the
// gateway's CA trusted.
func (p *proxyGateway) toolClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(p.proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: p.ca.Pool()},
	}}
}

// claimsOf decodes a JWT's payload without checking it (the test reads what a tool reads).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
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

func strs(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, s := range l {
			out = append(out, fmt.Sprint(s))
		}
	}
	return out
}

// checkOnlyRealTokens asserts that every API request the emulator received carried a token the
// emulator itself issued to the partner's app for tenantID: never a gateway token.
func checkOnlyRealTokens(t *testing.T, emu *emulator.Emulator, tenantID string, gatewayTokens ...string) {
	t.Helper()
	seen := emu.Requests()
	if len(seen) == 0 {
		t.Fatal("the emulator received no API request")
	}
	for _, s := range seen {
		if s.TenantID != tenantID || s.AppID != demoClientID {
			t.Errorf("%s %s reached the emulator with tid %q appid %q, want a real token of %s for %s", s.Method, s.Path, s.TenantID, s.AppID, demoClientID, tenantID)
		}
		for _, gt := range gatewayTokens {
			if gt != "" && strings.Contains(s.Header.Get("Authorization"), gt) {
				t.Errorf("%s %s: the gateway token reached the emulator", s.Method, s.Path)
			}
		}
	}
}

// listMachines GETs every page of /api/machines from base with the bearer token, following
// @odata.nextLink as given, and returns the machine IDs and the links followed.
func listMachines(t *testing.T, client *http.Client, base, bearer string) (ids, links []string) {
	t.Helper()
	next := base + "/api/machines"
	for next != "" {
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Value []struct{ ID string }
			Next  string `json:"@odata.nextLink"`
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", next, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Value {
			ids = append(ids, m.ID)
		}
		if page.Next != "" {
			links = append(links, page.Next)
		}
		next = page.Next
	}
	return ids, links
}

// MSAL Go as a tool: authority login.microsoftonline.com/{tenant} with instance discovery on,
// the gateway as proxy, the caller key as client secret. It gets a gateway token with the
// tenant's real tid and roles, lists every page of machines inside the tunnel, and the
// emulator sees only the gateway's real tokens.
func TestProxyModeMSALGo(t *testing.T) {
	t.Parallel()
	p := startProxyGateway(t, "")
	client := p.toolClient()
	cred, err := confidential.NewCredFromSecret(p.tool)
	if err != nil {
		t.Fatal(err)
	}
	app, err := confidential.New("https://login.microsoftonline.com/"+demoContoso, toolClientID, cred, confidential.WithHTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.AcquireTokenByCredential(t.Context(), []string{"https://api.securitycenter.microsoft.com/.default"})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, res.AccessToken)
	if c["tid"] != demoContoso || c["appid"] != toolClientID || c["sub"] != "tool" || c["aud"] != "https://api.securitycenter.microsoft.com" {
		t.Errorf("claims tid %v appid %v sub %v aud %v", c["tid"], c["appid"], c["sub"], c["aud"])
	}
	if got := strs(c["roles"]); !slices.Equal(got, emulator.DefaultRoles) {
		t.Errorf("roles %v, want the real token's %v", got, emulator.DefaultRoles)
	}
	ids, links := listMachines(t, client, "https://api.securitycenter.microsoft.com", res.AccessToken)
	if len(ids) != 7 || !strings.HasPrefix(ids[0], "contoso-") {
		t.Errorf("machines %v, want contoso's 7", ids)
	}
	if len(links) != 2 {
		t.Errorf("followed %d nextLinks, want 2", len(links))
	}
	for _, l := range links {
		if !strings.HasPrefix(l, "https://api.securitycenter.microsoft.com/api/machines") {
			t.Errorf("nextLink %s leaves the host the tool dialled", l)
		}
	}
	// A second token comes from MSAL's cache: the gateway answered like Entra.
	if res2, err := app.AcquireTokenByCredential(t.Context(), []string{"https://api.securitycenter.microsoft.com/.default"}); err != nil || res2.AccessToken != res.AccessToken {
		t.Errorf("second acquire: %v (cached: %v)", err, err == nil && res2.AccessToken == res.AccessToken)
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, res.AccessToken)
	issued := p.logs.waitLines(t, "token issued", 1)
	if len(issued) != 1 || issued[0]["caller"] != "tool" || issued[0]["tenant_id"] != demoContoso || issued[0]["client_id"] != toolClientID {
		t.Errorf("token issued lines: %v", issued)
	}
}

// postToken asks the gateway's token endpoint directly (v2, form secret) for MDE.
func postToken(t *testing.T, client *http.Client, base, tenant, secret string) (int, map[string]any) {
	t.Helper()
	return postScopeWith(t, client, base, tenant, secret, "https://api.securitycenter.microsoft.com/.default")
}

// The token endpoint on the gateway's own listener, and gateway tokens on the forward path:
// no tenant header needed, a different tenant is a conflict, forged and expired tokens get
// 401 in MDE's shape, and the gateway's other paths still work beside it.
func TestTokenEndpointDirect(t *testing.T) {
	t.Parallel()
	p := startProxyGateway(t, "")
	status, tok := postToken(t, http.DefaultClient, p.URL, "contoso", p.tool)
	if status != 200 || tok["access_token"] == nil {
		t.Fatalf("token: %d %v", status, tok)
	}
	bearer := tok["access_token"].(string)
	p.secrets = append(p.secrets, bearer)
	auth := "Bearer " + bearer

	resp, body := p.do(t, "GET", "/api/machines", "", nil, "Authorization", auth)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "contoso-") {
		t.Errorf("with a gateway token and no tenant: %d %s", resp.StatusCode, body)
	}
	resp, body = p.do(t, "GET", "/tenants/contoso/api/machines", "", nil, "Authorization", auth)
	if resp.StatusCode != 200 {
		t.Errorf("the same tenant in the path prefix: %d %s", resp.StatusCode, body)
	}
	resp, body = p.do(t, "GET", "/api/machines", "fabrikam", nil, "Authorization", auth)
	if code, _, _ := mdeError(t, body); resp.StatusCode != 400 || code != "TenantConflict" {
		t.Errorf("another tenant in the header: %d %s", resp.StatusCode, body)
	}
	// A token signed by another key: forged.
	other, _ := tokenendpoint.GenerateSigningKey()
	forged := issueWith(t, other, time.Now)
	resp, body = p.do(t, "GET", "/api/machines", "", nil, "Authorization", "Bearer "+forged)
	if code, _, _ := mdeError(t, body); resp.StatusCode != 401 || code != "Unauthorized" {
		t.Errorf("forged token: %d %s", resp.StatusCode, body)
	}
	// A token signed with the gateway's key, two hours ago, for an hour: expired.
	key, err := tokenendpoint.LoadSigningKey(p.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	expired := issueWith(t, key, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	resp, body = p.do(t, "GET", "/api/machines", "", nil, "Authorization", "Bearer "+expired)
	if _, msg, _ := mdeError(t, body); resp.StatusCode != 401 || !strings.Contains(msg, "expired") {
		t.Errorf("expired token: %d %s", resp.StatusCode, body)
	}
	p.secrets = append(p.secrets, forged, expired)
	// Caller keys still work, and the caller's tenant list still decides.
	resp, body = p.do(t, "GET", "/api/machines", "contoso", nil, "Authorization", "Bearer "+p.tool)
	if resp.StatusCode != 200 {
		t.Errorf("caller key: %d %s", resp.StatusCode, body)
	}
	status, e := postToken(t, http.DefaultClient, p.URL, "contoso", p.other)
	if status != 400 || e["error"] != "unauthorized_client" || !strings.HasPrefix(fmt.Sprint(e["error_description"]), "AADSTS700016") {
		t.Errorf("a caller not allowed the tenant: %d %v", status, e)
	}
	status, e = postToken(t, http.DefaultClient, p.URL, "contoso", "not-a-key")
	if status != 401 || e["error"] != "invalid_client" {
		t.Errorf("wrong key: %d %v", status, e)
	}
	// The gateway's own paths beside the token endpoint's.
	if resp, _ := p.do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	resp, body = p.do(t, "GET", "/contoso/v2.0/.well-known/openid-configuration", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), p.URL+"/contoso/oauth2/v2.0/token") {
		t.Errorf("discovery: %d %s", resp.StatusCode, body)
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, bearer)
}

// issueWith gets a token from a token endpoint of its own with key and clock, as a forger
// (another key) or an old replica (the same key, long ago) would have issued it.
func issueWith(t *testing.T, key *tokenendpoint.SigningKey, now func() time.Time) string {
	t.Helper()
	h, err := tokenendpoint.New(tokenendpoint.Options{
		Tenant: func(string) (tokenendpoint.Tenant, bool) {
			return tokenendpoint.Tenant{ID: demoContoso, Alias: "contoso"}, true
		},
		Key: key, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"y"},
		"scope": {"https://api.securitycenter.microsoft.com/.default"}}
	req, _ := http.NewRequest("POST", "http://gw.test/contoso/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := &memWriter{h: http.Header{}}
	h.ServeHTTP(rec, req)
	var m struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &m); err != nil || m.AccessToken == "" {
		t.Fatalf("issue: %d %s", rec.status, rec.body.String())
	}
	return m.AccessToken
}

// memWriter is the smallest http.ResponseWriter, to call a handler without a server.
type memWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *memWriter) Header() http.Header         { return w.h }
func (w *memWriter) WriteHeader(s int)           { w.status = s }
func (w *memWriter) Write(b []byte) (int, error) { return w.body.Write(b) }

// countingListener is a loopback server that counts the connections it accepts and echoes
// what it reads.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = &atomic.Int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), accepted
}

// connect sends CONNECT target to the gateway with optional proxy credentials and returns the
// status and the connection (for a tunnel).
func connect(t *testing.T, gw, target, user, pass string) (int, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", gw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if user != "" || pass != "" {
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, c, br
}

// mdegate is never an open proxy: a CONNECT to a host outside both lists gets 403 and no
// connection leaves the gateway, and an absolute-form request is refused the same way. A
// passthrough host is tunnelled byte for byte to a known caller only.
func TestProxyModeRefusesAndTunnels(t *testing.T) {
	t.Parallel()
	refusedAddr, refusedHits := countingListener(t)
	ptAddr, ptHits := countingListener(t)
	p := startProxyGateway(t, fmt.Sprintf("  passthrough: [%q]\n", ptAddr))
	gw := p.proxyURL.Host

	if status, _, _ := connect(t, gw, refusedAddr, "tool", p.tool); status != 403 {
		t.Errorf("CONNECT to a host outside both lists: %d, want 403", status)
	}
	if status, _, _ := connect(t, gw, "www.example.com:443", "", ""); status != 403 {
		t.Errorf("CONNECT www.example.com: %d, want 403", status)
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(p.proxyURL)}}).Get("http://" + refusedAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("absolute-form GET: %d, want 403", resp.StatusCode)
	}
	if status, _, _ := connect(t, gw, ptAddr, "", ""); status != 407 {
		t.Errorf("passthrough without credentials: %d, want 407", status)
	}
	if status, _, _ := connect(t, gw, ptAddr, "tool", "wrong-key"); status != 407 {
		t.Errorf("passthrough with a wrong key: %d, want 407", status)
	}
	if n := refusedHits.Load() + ptHits.Load(); n != 0 {
		t.Errorf("%d connections left the gateway for refused CONNECTs", n)
	}
	status, c, br := connect(t, gw, ptAddr, "tool", p.tool)
	if status != 200 {
		t.Fatalf("passthrough with the caller key: %d", status)
	}
	payload := make([]byte, 64<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	go func() { _, _ = c.Write(payload) }()
	got := make([]byte, len(payload))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, payload) {
		t.Errorf("passthrough changed the bytes (err %v)", err)
	}
	if ptHits.Load() != 1 {
		t.Errorf("passthrough connections: %d, want 1", ptHits.Load())
	}
}

// The Microsoft names answer by SNI on tls.listen, for partners who point them at the gateway
// in DNS: a login host reaches the token endpoint, an API host the forward path.
func TestProxyModeSNI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPEM, keyPEM := newTestCA(t, "partner CA").issue(t, "mdegate.example.com", true)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for f, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := startProxyGateway(t, fmt.Sprintf("tls: {listen: \"127.0.0.1:0\", cert_file: %q, key_file: %q}\n", certFile, keyFile))
	addr := strings.TrimPrefix(p.TLSURL, "https://")
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{
		DialContext:     func(ctx context.Context, _, _ string) (net.Conn, error) { return dialer.DialContext(ctx, "tcp", addr) },
		TLSClientConfig: &tls.Config{RootCAs: p.ca.Pool()},
	}}
	status, tok := postToken(t, client, "https://login.microsoftonline.com", demoContoso, p.tool)
	if status != 200 {
		t.Fatalf("token by SNI: %d %v", status, tok)
	}
	bearer := tok["access_token"].(string)
	p.secrets = append(p.secrets, bearer)
	ids, links := listMachines(t, client, "https://api.security.microsoft.com", bearer)
	if len(ids) != 7 || len(links) != 2 || !strings.HasPrefix(links[0], "https://api.security.microsoft.com/") {
		t.Errorf("machines by SNI: %v, links %v", ids, links)
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, bearer)
}

// postScope asks the token endpoint for scope with the v2 grant and returns status and body.
func postScope(t *testing.T, base, tenant, secret, scope string) (int, map[string]any) {
	t.Helper()
	return postScopeWith(t, http.DefaultClient, base, tenant, secret, scope)
}

// postScopeWith is postScope through client.
func postScopeWith(t *testing.T, client *http.Client, base, tenant, secret, scope string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {toolClientID}, "client_secret": {secret}, "scope": {scope}}
	resp, err := client.PostForm(base+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

// The roles a gateway token carries are those of the gateway's real token for the same
// resource (MDE, Defender XDR, Graph); a resource the gateway does not serve is refused as
// Entra refuses it.
func TestTokenEndpointRolesPerResource(t *testing.T) {
	t.Parallel()
	p := startProxyGateway(t, "")
	for scope, want := range map[string][]string{
		"https://api.securitycenter.microsoft.com/.default":                 emulator.DefaultRoles,
		"https://securitycenter.onmicrosoft.com/windowsatpservice/.default": emulator.DefaultRoles,
		"https://api.security.microsoft.com/.default":                       emulator.DefaultXDRRoles,
		"https://graph.microsoft.com/.default":                              emulator.DefaultGraphRoles,
	} {
		status, m := postScope(t, p.URL, "contoso", p.tool, scope)
		if status != 200 {
			t.Errorf("%s: %d %v", scope, status, m)
			continue
		}
		tok := m["access_token"].(string)
		p.secrets = append(p.secrets, tok)
		if got := strs(claimsOf(t, tok)["roles"]); !slices.Equal(got, want) {
			t.Errorf("%s: roles %v, want %v", scope, got, want)
		}
	}
	status, m := postScope(t, p.URL, "contoso", p.tool, "https://management.azure.com/.default")
	if status != 400 || m["error"] != "invalid_resource" || !strings.HasPrefix(fmt.Sprint(m["error_description"]), "AADSTS500011") {
		t.Errorf("an unserved resource: %d %v", status, m)
	}
}

// Without a signing_key_file the key made at start serves every generation: a reload does not
// kill the tokens already handed out, and the warning is given once.
func TestTokenEndpointGeneratedKeySurvivesReload(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "token_endpoint: {enabled: true}\n")
	status, m := postScope(t, g.URL, "contoso", "anything", "https://api.securitycenter.microsoft.com/.default")
	if status != 200 {
		t.Fatalf("anonymous token: %d %v", status, m)
	}
	tok := m["access_token"].(string)
	g.secrets = append(g.secrets, tok)
	if c := claimsOf(t, tok); c["sub"] != tokenendpoint.Anonymous || c["tid"] != demoContoso {
		t.Errorf("anonymous token claims: sub %v tid %v", c["sub"], c["tid"])
	}
	g.writeConfig(t, "127.0.0.1:0", "token_endpoint: {enabled: true, lifetime: 2h}\n")
	if !g.reload(t) {
		t.Fatalf("reload refused:\n%s", g.logs)
	}
	resp, body := g.do(t, "GET", "/api/alerts", "", nil, "Authorization", "Bearer "+tok)
	if resp.StatusCode != 200 {
		t.Errorf("a token from before the reload: %d %s", resp.StatusCode, body)
	}
	warned := len(g.logs.lines(t, "token_endpoint: no signing_key_file, so a key was made at start: gateway tokens die with the process and are not valid on other replicas"))
	if warned != 1 {
		t.Errorf("the generated-key warning was logged %d times, want once", warned)
	}
}

// Shutdown ends the tunnels, which http.Server.Shutdown does not track (hijacked): a tool's
// idle tunnel is closed by the gateway, not left to its idle timeout.
func TestProxyModeShutdownClosesTunnels(t *testing.T) {
	t.Parallel()
	p := startProxyGateway(t, "")
	status, c, br := connect(t, p.proxyURL.Host, "api.security.microsoft.com:443", "", "")
	if status != 200 {
		t.Fatalf("CONNECT: %d", status)
	}
	tc := tls.Client(&bufferedConn{Conn: c, r: br}, &tls.Config{RootCAs: p.ca.Pool(), ServerName: "api.security.microsoft.com"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	_ = tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the tunnel is still open after shutdown (read: %v)", err)
	}
}

// bufferedConn reads through the bufio.Reader that read the CONNECT answer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
