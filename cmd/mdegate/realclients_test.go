package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
)

// Real, unmodified clients in other languages through HTTPS_PROXY (issue 16): Debian's
// python3-msal and python3-requests, azure-identity (python3-azure), @azure/msal-node from
// npm, and curl. Each gets only its ordinary settings: tenant, client ID, client secret (the
// caller key), the proxy URL and trust in the gateway's CA. Outside CI a missing client skips
// the test, saying so; with CI=true it fails, so a broken CI setup cannot hide (.ci/run
// installs them).

// needClient returns path when it is executable, or skips (fails in CI) naming the package.
func needClient(t *testing.T, path, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(path); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: install %s (.ci/run does)", path, pkg)
	}
	t.Skipf("%s is missing: install %s to run this test", path, pkg)
	return ""
}

// needPython returns Debian's interpreter after checking it imports the modules; skips (fails
// in CI) otherwise. Debian's python3-* packages install for /usr/bin/python3 only.
func needPython(t *testing.T, pkg string, modules ...string) string {
	t.Helper()
	py := needClient(t, "/usr/bin/python3", "python3")
	if out, err := exec.Command(py, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import %v (install %s; .ci/run does): %s", py, modules, pkg, out)
		}
		t.Skipf("%s cannot import %v: install %s to run this test", py, modules, pkg)
	}
	return py
}

// runClient runs a client program with only the environment given (plus PATH and a HOME of
// its own), and returns its stdout; it fails the test with stderr when the program fails.
func runClient(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstderr: %s\nstdout: %s", name, args, err, stderr.String(), stdout.String())
	}
	return stdout.Bytes()
}

// fill replaces a documented sample's placeholders with the partner's three values.
func fill(script, tenant, clientID, secret string) string {
	return strings.NewReplacer("TENANT_ID", tenant, "CLIENT_ID", clientID, "CLIENT_SECRET", secret).Replace(script)
}

// clientReport is what the scripts below print after Microsoft's flow: the token they got
// (to check its claims and that it never reached MDE) and what they read.
type clientReport struct {
	Token    string   `json:"token"`
	Machines []string `json:"machines"`
	Pages    int      `json:"pages"`
	Results  int      `json:"results"`
	Status   int      `json:"status"`
}

func decodeReport(t *testing.T, out []byte) clientReport {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var r clientReport
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil || r.Token == "" {
		t.Fatalf("the client printed %q", out)
	}
	return r
}

// checkGatewayToken checks what a tool that inspects its token (as the partner docs tell it
// to) sees: the customer's real tid and the roles of the gateway's own token.
func checkGatewayToken(t *testing.T, p *proxyGateway, token string) {
	t.Helper()
	p.secrets = append(p.secrets, token)
	c := claimsOf(t, token)
	if c["tid"] != demoContoso || c["sub"] != "tool" {
		t.Errorf("token tid %v sub %v, want %s, tool", c["tid"], c["sub"], demoContoso)
	}
	if got := strs(c["roles"]); !slices.Equal(got, emulator.DefaultRoles) {
		t.Errorf("token roles %v, want the real token's %v", got, emulator.DefaultRoles)
	}
}

// msalPython is MSAL Python's documented client-credentials sample
// (confidential_client_secret_sample.py) followed by the Defender for Endpoint calls of
// Microsoft's Learn samples: list machines following @odata.nextLink, and run an advanced
// query. Only TENANT_ID, CLIENT_ID and CLIENT_SECRET are the partner's; the proxy and the CA
// come from HTTPS_PROXY and REQUESTS_CA_BUNDLE. The last line prints what it got.
const msalPython = `import json
import msal
import requests

config = {
    "authority": "https://login.microsoftonline.com/TENANT_ID",
    "client_id": "CLIENT_ID",
    "secret": "CLIENT_SECRET",
    "scope": ["https://api.securitycenter.microsoft.com/.default"],
}

app = msal.ConfidentialClientApplication(
    config["client_id"], authority=config["authority"],
    client_credential=config["secret"],
    )

result = app.acquire_token_silent(config["scope"], account=None)
if not result:
    result = app.acquire_token_for_client(scopes=config["scope"])

if "access_token" not in result:
    print(result.get("error"), result.get("error_description"), result.get("correlation_id"))
    raise SystemExit(1)

headers = {"Authorization": "Bearer " + result["access_token"]}
machines, pages = [], 0
url = "https://api.securitycenter.microsoft.com/api/machines"
while url:
    response = requests.get(url, headers=headers)
    response.raise_for_status()
    page = response.json()
    machines += page["value"]
    pages += 1
    url = page.get("@odata.nextLink")

query = "DeviceInfo | take 3"
url = "https://api.securitycenter.microsoft.com/api/advancedqueries/run"
headers = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Authorization": "Bearer " + result["access_token"],
}
data = json.dumps({"Query": query}).encode("utf-8")
response = requests.post(url, data=data, headers=headers)
response.raise_for_status()
jsonResponse = response.json()
schema = jsonResponse["Schema"]
results = jsonResponse["Results"]

print(json.dumps({"token": result["access_token"], "machines": [m["id"] for m in machines], "pages": pages, "results": len(results)}))
`

// The "done when": through HTTPS_PROXY, an unchanged MSAL Python script gets a gateway
// token for contoso with its real tid and roles, lists every page of machines and runs an
// advanced query; the emulator saw only real tokens; no log line holds a token or key (the
// harness checks the log at cleanup).
func TestRealClientMSALPython(t *testing.T) {
	t.Parallel()
	py := needPython(t, "python3-msal python3-requests", "msal", "requests")
	p := startProxyGateway(t, "")
	script := filepath.Join(t.TempDir(), "advanced_query.py")
	if err := os.WriteFile(script, []byte(fill(msalPython, demoContoso, toolClientID, p.tool)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runClient(t, []string{"HTTPS_PROXY=" + p.URL, "REQUESTS_CA_BUNDLE=" + p.caFile}, py, script)
	r := decodeReport(t, out)
	checkGatewayToken(t, p, r.Token)
	if len(r.Machines) != 7 || r.Pages != 3 || r.Results == 0 {
		t.Errorf("machines %v in %d pages, %d query results; want 7 in 3, and rows", r.Machines, r.Pages, r.Results)
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, r.Token)
	apis := map[string]bool{}
	for _, s := range p.emu.Requests() {
		apis[s.Method+" "+s.Path] = true
	}
	if !apis["POST /api/advancedqueries/run"] || !apis["GET /api/machines"] {
		t.Errorf("the emulator saw %v", apis)
	}
}

// urllibV1 is Microsoft Learn's "advanced hunting with Python" sample as published: a plain v1
// token POST (resource=) with urllib, then the query. urllib takes HTTPS_PROXY and OpenSSL's
// SSL_CERT_FILE.
const urllibV1 = `import json
import urllib.request
import urllib.parse

tenantId = 'TENANT_ID' # Paste your own tenant ID here
appId = 'CLIENT_ID' # Paste your own app ID here
appSecret = 'CLIENT_SECRET' # Paste your own app secret here

url = "https://login.microsoftonline.com/%s/oauth2/token" % (tenantId)

resourceAppIdUri = 'https://api.securitycenter.microsoft.com'

body = {
    'resource' : resourceAppIdUri,
    'client_id' : appId,
    'client_secret' : appSecret,
    'grant_type' : 'client_credentials'
}

data = urllib.parse.urlencode(body).encode("utf-8")

req = urllib.request.Request(url, data)
response = urllib.request.urlopen(req)
jsonResponse = json.loads(response.read())
aadToken = jsonResponse["access_token"]

query = 'DeviceInfo | take 3' # Paste your own query here

url = "https://api.securitycenter.microsoft.com/api/advancedqueries/run"
headers = {
    'Content-Type' : 'application/json',
    'Accept' : 'application/json',
    'Authorization' : "Bearer " + aadToken
}

data = json.dumps({ 'Query' : query }).encode("utf-8")

req = urllib.request.Request(url, data, headers)
response = urllib.request.urlopen(req)
jsonResponse = json.loads(response.read())
schema = jsonResponse["Schema"]
results = jsonResponse["Results"]

print(json.dumps({"token": aadToken, "results": len(results)}))
`

func TestRealClientPythonURLlibV1(t *testing.T) {
	t.Parallel()
	py := needPython(t, "python3", "json")
	p := startProxyGateway(t, "")
	script := filepath.Join(t.TempDir(), "sample.py")
	if err := os.WriteFile(script, []byte(fill(urllibV1, "contoso", toolClientID, p.tool)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runClient(t, []string{"HTTPS_PROXY=" + p.URL, "SSL_CERT_FILE=" + p.caFile}, py, script)
	r := decodeReport(t, out)
	checkGatewayToken(t, p, r.Token)
	if r.Results == 0 {
		t.Errorf("no query results")
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, r.Token)
}

// azureIdentity is what check_msdefender and most Python SOAR integrations do: azure-identity's
// ClientSecretCredential, then requests to the API host they hard-code.
const azureIdentity = `import json
import requests
from azure.identity import ClientSecretCredential

credential = ClientSecretCredential(tenant_id="TENANT_ID", client_id="CLIENT_ID", client_secret="CLIENT_SECRET")
token = credential.get_token("https://api.securitycenter.microsoft.com/.default")
response = requests.get("https://api.security.microsoft.com/api/machines", headers={"Authorization": "Bearer " + token.token})
response.raise_for_status()
print(json.dumps({"token": token.token, "machines": [m["id"] for m in response.json()["value"]]}))
`

func TestRealClientAzureIdentity(t *testing.T) {
	t.Parallel()
	py := needPython(t, "python3-azure", "azure.identity", "requests")
	p := startProxyGateway(t, "")
	script := filepath.Join(t.TempDir(), "check.py")
	if err := os.WriteFile(script, []byte(fill(azureIdentity, demoContoso, toolClientID, p.tool)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runClient(t, []string{"HTTPS_PROXY=" + p.URL, "REQUESTS_CA_BUNDLE=" + p.caFile}, py, script)
	r := decodeReport(t, out)
	checkGatewayToken(t, p, r.Token)
	if len(r.Machines) != 3 { // the first page only, as check_msdefender reads it
		t.Errorf("machines %v, want the first page of 3", r.Machines)
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, r.Token)
}

// Node's fetch ignores HTTPS_PROXY on Node 20: the user's ordinary way is undici's
// EnvHttpProxyAgent as the global dispatcher, preloaded (node --require). msal-node 7 uses
// fetch for its token requests, so the same setting carries both.
const nodePreload = `const { setGlobalDispatcher, EnvHttpProxyAgent } = require('undici');
setGlobalDispatcher(new EnvHttpProxyAgent());
`

const msalNode = `const msal = require('@azure/msal-node');

const config = {
  auth: {
    clientId: 'CLIENT_ID',
    authority: 'https://login.microsoftonline.com/TENANT_ID',
    clientSecret: 'CLIENT_SECRET',
  },
};

(async () => {
  const cca = new msal.ConfidentialClientApplication(config);
  const result = await cca.acquireTokenByClientCredential({ scopes: ['https://api.securitycenter.microsoft.com/.default'] });
  const response = await fetch('https://api.securitycenter.microsoft.com/api/machines', {
    headers: { Authorization: 'Bearer ' + result.accessToken },
  });
  const body = await response.json();
  console.log(JSON.stringify({ token: result.accessToken, status: response.status, machines: body.value.map((m) => m.id) }));
})().catch((e) => { console.error(e && e.message ? e.message : String(e)); process.exit(1); });
`

// nodePackages are the npm packages TestRealClientMSALNode runs, at the versions it was
// written against (.ci/run installs the same list).
var nodePackages = []string{"@azure/msal-node@7.2.4", "undici@7.30.3"}

// nodeModules returns a node_modules directory holding @azure/msal-node and undici:
// MDEGATE_TEST_NODE_MODULES when set (.ci/run installs them there), else a fresh
// `npm install --prefix` into the test's own directory (the registry must be reachable).
func nodeModules(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("MDEGATE_TEST_NODE_MODULES"); d != "" {
		return d
	}
	npm := needClient(t, "npm", "npm")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := append([]string{"install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error"}, nodePackages...)
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm"))
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("npm install @azure/msal-node undici: %v\n%s", err, out)
		}
		t.Skipf("npm install @azure/msal-node undici failed (no registry?): %v", err)
	}
	return filepath.Join(dir, "node_modules")
}

func TestRealClientMSALNode(t *testing.T) {
	t.Parallel()
	node := needClient(t, "node", "nodejs")
	mods := nodeModules(t)
	p := startProxyGateway(t, "")
	dir := t.TempDir()
	preload, script := filepath.Join(dir, "proxy.cjs"), filepath.Join(dir, "tool.cjs")
	for f, s := range map[string]string{preload: nodePreload, script: fill(msalNode, demoContoso, toolClientID, p.tool)} {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := runClient(t, []string{"HTTPS_PROXY=" + p.URL, "NODE_EXTRA_CA_CERTS=" + p.caFile, "NODE_PATH=" + mods}, node, "--require", preload, script)
	r := decodeReport(t, out)
	checkGatewayToken(t, p, r.Token)
	if r.Status != 200 || len(r.Machines) != 3 {
		t.Errorf("status %d machines %v, want 200 and the first page of 3", r.Status, r.Machines)
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, r.Token)
}

// curl -x http://gw --cacert ca.pem: a v2 token, then an API call with it.
func TestRealClientCurl(t *testing.T) {
	t.Parallel()
	curl := needClient(t, "curl", "curl")
	p := startProxyGateway(t, "")
	out := runClient(t, nil, curl, "-sS", "--fail-with-body", "-x", p.URL, "--cacert", p.caFile,
		"-d", "grant_type=client_credentials", "-d", "client_id="+toolClientID, "-d", "client_secret="+p.tool,
		"--data-urlencode", "scope=https://api.securitycenter.microsoft.com/.default",
		"https://login.microsoftonline.com/contoso/oauth2/v2.0/token")
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("curl token: %s", out)
	}
	checkGatewayToken(t, p, tok.AccessToken)
	out = runClient(t, nil, curl, "-sS", "--fail-with-body", "-x", p.URL, "--cacert", p.caFile,
		"-H", "Authorization: Bearer "+tok.AccessToken, "https://api.security.microsoft.com/api/alerts?$top=2")
	var alerts struct{ Value []struct{ ID string } }
	if err := json.Unmarshal(out, &alerts); err != nil || len(alerts.Value) != 2 || !strings.HasPrefix(alerts.Value[0].ID, "contoso-") {
		t.Errorf("curl alerts: %s", out)
	}
	checkOnlyRealTokens(t, p.emu, demoContoso, tok.AccessToken)
}
