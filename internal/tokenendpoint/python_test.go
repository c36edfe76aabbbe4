package tokenendpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// debianPython is Debian's interpreter: python3-msal and python3-requests install for it, and
// the python3 first on PATH may be another build that does not see them.
const debianPython = "/usr/bin/python3"

// needPythonMSAL skips without python3-msal, and fails instead when CI=true: CI installs it.
func needPythonMSAL(t *testing.T) {
	t.Helper()
	err := exec.Command(debianPython, "-c", "import msal, requests").Run()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s cannot import msal and requests (apt-get install -y python3-msal python3-requests): %v", debianPython, err)
	}
	t.Skipf("%s cannot import msal and requests (apt-get install -y python3-msal python3-requests): %v", debianPython, err)
}

// pythonClient is what an unchanged tool does: MSAL Python's client-credentials flow, and
// the Microsoft Learn sample's plain v1 POST with requests. The proxy and the CA come from the
// environment only (HTTPS_PROXY, REQUESTS_CA_BUNDLE).
const pythonClient = `
import json, sys, msal, requests
out = {"msal_version": msal.__version__}
authority, secret, resource = sys.argv[1], sys.argv[2], sys.argv[3]
def msal_token(authority, **kw):
    app = msal.ConfidentialClientApplication("tool-client-id", client_credential=secret, authority=authority, **kw)
    r = app.acquire_token_for_client(scopes=[resource + "/.default"])
    if "access_token" not in r:
        raise SystemExit("MSAL Python: " + json.dumps(r))
    return r["access_token"]
mode = sys.argv[4]
if mode == "msal":
    out["token"] = msal_token(authority)
elif mode == "msal-no-discovery":
    out["token"] = msal_token(authority, instance_discovery=False)
elif mode == "requests-v1":
    r = requests.post(authority + "/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "tool-client-id",
        "client_secret": secret, "resource": resource})
    r.raise_for_status()
    out["token"] = r.json()["access_token"]
    out["body_keys"] = sorted(r.json().keys())
print(json.dumps(out))
`

// Real MSAL Python (Debian's python3-msal) against the Handler over loopback TLS.
func TestPythonMSAL(t *testing.T) {
	t.Parallel()
	needPythonMSAL(t)
	f := newFixture(t, fixtureOptions{hosts: []string{"self"}})
	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(pythonClient), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, authority, mode string, proxy bool) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, debianPython, script, authority, socKey, mdeRes, mode)
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "REQUESTS_CA_BUNDLE=" + f.caFile}
		if proxy {
			cmd.Env = append(cmd.Env, "HTTPS_PROXY="+f.tunnel)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("python: %v\n%s", err, stderr.String())
		}
		var out map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("python output %q: %v", stdout.String(), err)
		}
		tok, _ := out["token"].(string)
		c, err := f.h.Verify(tok)
		if err != nil || c.Caller != "soc" || c.TenantID != contosoID || c.ClientID != "tool-client-id" {
			t.Fatalf("token claims %+v, err %v", c, err)
		}
		t.Logf("MSAL Python %v", out["msal_version"])
		return out
	}
	self := strings.TrimPrefix(f.srv.URL, "https://")

	t.Run("gateway authority, instance discovery on, through a tunnel", func(t *testing.T) {
		before := len(f.seen.list())
		run(t, f.srv.URL+"/contoso", "msal", true)
		// MSAL Python asks login.microsoftonline.com about any host it does not know, and then
		// follows tenant_discovery_endpoint as given: all of it stayed on the tunnel's host.
		got := f.seen.list()[before:]
		want := []string{
			"GET login.microsoftonline.com/common/discovery/instance",
			"GET login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration",
			"POST login.microsoftonline.com/contoso/oauth2/v2.0/token",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("server saw %q, want %q", got, want)
		}
	})
	t.Run("login.microsoftonline.com authority, unchanged tool, through a tunnel", func(t *testing.T) {
		before := len(f.seen.list())
		run(t, "https://login.microsoftonline.com/contoso", "msal", true)
		for _, r := range f.seen.list()[before:] {
			if !strings.Contains(r, " login.microsoftonline.com/") {
				t.Errorf("left the tunnel's host: %s", r)
			}
		}
	})
	t.Run("gateway authority, instance discovery off, direct", func(t *testing.T) {
		before := len(f.seen.list())
		run(t, f.srv.URL+"/contoso", "msal-no-discovery", false)
		for _, r := range f.seen.list()[before:] {
			if !strings.Contains(r, " "+self+"/") {
				t.Errorf("not addressed to the gateway: %s", r)
			}
		}
	})
	t.Run("plain requests v1 POST, through a tunnel", func(t *testing.T) {
		out := run(t, "https://login.microsoftonline.com/contoso", "requests-v1", true)
		if keys, _ := json.Marshal(out["body_keys"]); string(keys) != `["access_token","expires_in","expires_on","ext_expires_in","not_before","resource","token_type"]` {
			t.Errorf("v1 body keys %s", keys)
		}
	})
}

// Without the gateway's name in Options.Hosts, instance discovery refuses the gateway as an
// authority (Entra's invalid_instance), and MSAL Python stops before sending its secret.
func TestPythonMSALForeignAuthority(t *testing.T) {
	t.Parallel()
	needPythonMSAL(t)
	f := newFixture(t, fixtureOptions{})
	script := filepath.Join(t.TempDir(), "client.py")
	if err := os.WriteFile(script, []byte(pythonClient), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, script, f.srv.URL+"/contoso", socKey, mdeRes, "msal")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "REQUESTS_CA_BUNDLE=" + f.caFile, "HTTPS_PROXY=" + f.tunnel}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "invalid_instance") {
		t.Fatalf("err %v, output %s; want MSAL Python to refuse with invalid_instance", err, out)
	}
	for _, r := range f.seen.list() {
		if strings.HasPrefix(r, "POST ") {
			t.Errorf("a token request was sent: %s", r)
		}
	}
}
