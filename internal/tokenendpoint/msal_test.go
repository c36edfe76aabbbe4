package tokenendpoint

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// acquire gets a token with real MSAL Go for authority, through client.
func acquire(t *testing.T, f *fixture, authority, secret string, proxy, discovery bool) string {
	t.Helper()
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	app, err := confidential.New(authority, "tool-client-id", cred,
		confidential.WithHTTPClient(f.client(proxy)), confidential.WithInstanceDiscovery(discovery))
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.AcquireTokenByCredential(context.Background(), []string{mdeRes + "/.default"})
	if err != nil {
		t.Fatalf("MSAL Go: %v", err)
	}
	return res.AccessToken
}

func checkToken(t *testing.T, f *fixture, tok, caller, tid, issPrefix string) {
	t.Helper()
	c, err := f.h.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Caller != caller || c.TenantID != tid || c.ClientID != "tool-client-id" || c.Audience != mdeRes ||
		!slices.Equal(c.Roles, mdeRoles) || !strings.HasPrefix(c.Issuer, issPrefix) {
		t.Errorf("claims = %+v, want caller %s, tid %s, client tool-client-id, aud %s, roles %v, iss %s...", c, caller, tid, mdeRes, mdeRoles, issPrefix)
	}
	if got := c.Expires.Sub(c.IssuedAt); got != DefaultLifetime {
		t.Errorf("lifetime %v, want %v", got, DefaultLifetime)
	}
}

// MSAL Go with the gateway as its authority, instance discovery off (MSAL Go sends it to
// login.microsoftonline.com for any host it does not know).
func TestMSALGoDirect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, seg := range []string{"contoso", contosoID} {
		tok := acquire(t, f, f.srv.URL+"/"+seg, socKey, false, false)
		checkToken(t, f, tok, "soc", contosoID, f.srv.URL+"/"+contosoID)
	}
	host := strings.TrimPrefix(f.srv.URL, "https://")
	want := []string{
		"GET " + host + "/contoso/v2.0/.well-known/openid-configuration",
		"POST " + host + "/contoso/oauth2/v2.0/token",
		"GET " + host + "/" + contosoID + "/v2.0/.well-known/openid-configuration",
		"POST " + host + "/" + contosoID + "/oauth2/v2.0/token",
	}
	if got := f.seen.list(); !slices.Equal(got, want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
}

// MSAL Go with instance discovery ON and the gateway's own address as authority, reaching
// login.microsoftonline.com through a CONNECT tunnel to the Handler (what the intercept does):
// the discovery answer keeps the client inside the tunnel.
func TestMSALGoInstanceDiscoveryThroughTunnel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{hosts: []string{"self"}})
	tok := acquire(t, f, f.srv.URL+"/contoso", socKey, true, true)
	checkToken(t, f, tok, "soc", contosoID, "https://login.microsoftonline.com/"+contosoID)
	want := []string{
		"GET login.microsoftonline.com/common/discovery/instance",
		"GET login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration",
		"POST login.microsoftonline.com/contoso/oauth2/v2.0/token",
	}
	// MSAL Go v1.10.1 asks instance discovery twice (endpoints, then cache metadata).
	if got := slices.Compact(f.seen.list()); !slices.Equal(got, want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
}

// MSAL Go unchanged (authority login.microsoftonline.com, discovery on by default) inside a
// tunnel: MSAL trusts the host and asks it directly.
func TestMSALGoMicrosoftAuthorityThroughTunnel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	tok := acquire(t, f, "https://login.microsoftonline.com/"+contosoID, limitedKey, true, true)
	checkToken(t, f, tok, "limited", contosoID, "https://login.microsoftonline.com/"+contosoID+"/v2.0")
	for _, r := range f.seen.list() {
		if !strings.HasPrefix(r, "GET login.microsoftonline.com/") && !strings.HasPrefix(r, "POST login.microsoftonline.com/") {
			t.Errorf("request left the tunnel's host: %s", r)
		}
	}
}

// A refusal reaches MSAL Go as Entra's would: a CallErr with the AADSTS code.
func TestMSALGoWrongKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	cred, _ := confidential.NewCredFromSecret("not-a-key")
	app, err := confidential.New(f.srv.URL+"/contoso", "tool-client-id", cred,
		confidential.WithHTTPClient(f.client(false)), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.AcquireTokenByCredential(context.Background(), []string{mdeRes + "/.default"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err = %v, want invalid_client AADSTS7000215", err)
	}
}
