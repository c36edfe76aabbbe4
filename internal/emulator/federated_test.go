package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFederatedAssertions(t *testing.T) {
	issuerKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const (
		issuer  = "https://oidc.cluster.example/abc"
		subject = "system:serviceaccount:mdegate:gateway"
	)
	e := start(t, func(o *Options) {
		o.Apps[0].Federated = []FederatedCredential{{Issuer: issuer, Subject: subject, Key: &issuerKey.PublicKey}}
	})
	sign := func(key *rsa.PrivateKey, iss, sub, aud string, from time.Time, life time.Duration) string {
		tok, err := SignFederatedToken(key, iss, sub, aud, from, life)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	for _, tc := range []struct {
		name      string
		assertion string
		status    int
		code      int
	}{
		{"good", sign(issuerKey, issuer, subject, "", now, time.Hour), 200, 0},
		{"other subject", sign(issuerKey, issuer, "system:serviceaccount:x:y", "", now, time.Hour), 400, 70021},
		{"other issuer", sign(issuerKey, "https://evil.example", subject, "", now, time.Hour), 400, 70021},
		{"other audience", sign(issuerKey, issuer, subject, "api://other", now, time.Hour), 400, 70021},
		{"signed by another key", sign(otherKey, issuer, subject, "", now, time.Hour), 401, 700027},
		{"expired", sign(issuerKey, issuer, subject, "", now.Add(-2*time.Hour), time.Hour), 400, 700024},
		{"not yet valid", sign(issuerKey, issuer, subject, "", now.Add(time.Hour), time.Hour), 400, 700024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, m := postToken(t, e, contosoID+"/oauth2/v2.0/token", url.Values{
				"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {mdeScope},
				"client_assertion": {tc.assertion}, "client_assertion_type": {assertionType},
			})
			if status != tc.status {
				t.Fatalf("status = %d, want %d: %v", status, tc.status, m)
			}
			if tc.status == 200 {
				if a := get(t, e, "/api/machines", m["access_token"].(string)); a.status != 200 {
					t.Errorf("token refused by the API: %d %s", a.status, a.body)
				}
				return
			}
			if codes, _ := m["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(tc.code) {
				t.Errorf("error_codes = %v, want [%d] (%v)", m["error_codes"], tc.code, m["error_description"])
			}
			if d, _ := m["error_description"].(string); strings.Contains(d, "eyJ") {
				t.Errorf("error_description leaks the assertion: %q", d)
			}
		})
	}
	// The app's own certificate assertions still work next to federated credentials.
	tokenURL := e.LoginURL() + "/" + contosoID + "/oauth2/v2.0/token"
	status, m := postToken(t, e, contosoID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {mdeScope},
		"client_assertion": {assertion(t, certs(t)[0], tokenURL, nil)}, "client_assertion_type": {assertionType},
	})
	if status != 200 {
		t.Errorf("certificate assertion: status %d: %v", status, m)
	}
}
