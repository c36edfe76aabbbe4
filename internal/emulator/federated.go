package emulator

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Federated credentials (workload identity): the app trusts tokens that an external identity
// provider (the AKS cluster's OIDC issuer, GitHub Actions, another cloud) issued to a given
// subject, and accepts them as client_assertion in place of a secret or a certificate.

// DefaultFederatedAudience is the audience Entra expects in federated assertions unless the
// credential names another.
const DefaultFederatedAudience = "api://AzureADTokenExchange"

// FederatedCredential is one federated identity credential of an App.
type FederatedCredential struct {
	// Issuer is the external identity provider's issuer URL, compared exactly with the
	// assertion's iss. Required.
	Issuer string
	// Subject is the identity the external token must be issued to (its sub), such as
	// "system:serviceaccount:mdegate:gateway". Required.
	Subject string
	// Audience is the aud the external token must carry. Empty means
	// DefaultFederatedAudience.
	Audience string
	// Key is the issuer's signing key: the emulator trusts it directly instead of fetching
	// the issuer's JWKS. Assertions must be RS256 or PS256. Required.
	Key *rsa.PublicKey
}

// SignFederatedToken makes the kind of token an external identity provider issues, as a test
// writes it into a federated token file: iss, sub and aud as given, valid from now for
// lifetime, signed RS256 with key.
func SignFederatedToken(key *rsa.PrivateKey, issuer, subject, audience string, now time.Time, lifetime time.Duration) (string, error) {
	if audience == "" {
		audience = DefaultFederatedAudience
	}
	claims := map[string]any{
		"iss": issuer,
		"sub": subject,
		"aud": []string{audience},
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(lifetime).Unix(),
		"jti": newUUID(),
	}
	return signRS256(key, jwtHeader{Typ: "JWT", Alg: "RS256", Kid: "federated"}, claims)
}

// isFederated reports whether an assertion is meant as a federated one: the app has
// federated credentials and the assertion's issuer is not the app itself (a certificate
// assertion has iss = sub = client ID).
func isFederated(app *App, assertion string) bool {
	if len(app.Federated) == 0 {
		return false
	}
	p, err := parseJWT(assertion)
	if err != nil {
		return false
	}
	var c assertionClaims
	if json.Unmarshal(p.claims, &c) != nil {
		return false
	}
	return !strings.EqualFold(c.Iss, app.ClientID)
}

// assertionFailure is why the token endpoint refused an assertion; code 0 means it did not.
type assertionFailure struct {
	status int
	name   string
	code   int
	text   string
}

// checkFederated verifies a federated assertion against the app's federated credentials, in
// Entra's order: a credential matching issuer, subject and audience (AADSTS70021), the
// signature (AADSTS700027), the validity window (AADSTS700024). Texts never hold the
// assertion.
func (e *Emulator) checkFederated(app *App, req tokenRequest) assertionFailure {
	if req.asType != assertionType {
		return assertionFailure{http.StatusBadRequest, "invalid_request", 700027,
			fmt.Sprintf("Client assertion type must be '%s'.", assertionType)}
	}
	p, err := parseJWT(req.assertion)
	if err != nil {
		return assertionFailure{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion is not a valid JWT."}
	}
	var c assertionClaims
	if err := json.Unmarshal(p.claims, &c); err != nil {
		return assertionFailure{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion contains invalid claims."}
	}
	var cred *FederatedCredential
	for i := range app.Federated {
		f := &app.Federated[i]
		want := f.Audience
		if want == "" {
			want = DefaultFederatedAudience
		}
		if f.Issuer == c.Iss && f.Subject == c.Sub && hasAudience(c.Aud, want) {
			cred = f
			break
		}
	}
	if cred == nil {
		return assertionFailure{http.StatusBadRequest, "invalid_request", 70021,
			fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'.",
				safeText(c.Iss), safeText(c.Sub), safeText(strings.Join(c.Aud, ",")))}
	}
	if cred.Key == nil || p.verify(cred.Key) != nil {
		return assertionFailure{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."}
	}
	now := e.now()
	exp, err := c.Exp.Float64()
	if err != nil || exp <= float64(now.Unix()) {
		return assertionFailure{http.StatusBadRequest, "invalid_client", 700024,
			fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, expiry time of assertion %s.",
				now.UTC().Format(time.RFC3339), unixText(exp))}
	}
	if c.Nbf != "" {
		nbf, err := c.Nbf.Float64()
		if err != nil || nbf > float64(now.Add(5*time.Minute).Unix()) {
			return assertionFailure{http.StatusBadRequest, "invalid_client", 700024,
				fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s.",
					now.UTC().Format(time.RFC3339), unixText(nbf))}
		}
	}
	return assertionFailure{}
}

func hasAudience(aud audience, want string) bool {
	for _, a := range aud {
		if a == want {
			return true
		}
	}
	return false
}
