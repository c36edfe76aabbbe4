package tokenendpoint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func decodeSeg(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadSigningKey(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	pk8 := func(k any) []byte { b, _ := x509.MarshalPKCS8PrivateKey(k); return b }
	sec1, _ := x509.MarshalECPrivateKey(ec)
	for _, tc := range []struct {
		name, typ string
		der       []byte
		alg       string // "" for an error
		errHas    string
	}{
		{"EC PKCS#8", "PRIVATE KEY", pk8(ec), "ES256", ""},
		{"EC SEC 1", "EC PRIVATE KEY", sec1, "ES256", ""},
		{"RSA PKCS#1", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048), "RS256", ""},
		{"RSA PKCS#8", "PRIVATE KEY", pk8(rsa2048), "RS256", ""},
		{"RSA 1024", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024), "", "at least 2048"},
		{"P-384", "PRIVATE KEY", pk8(ec384), "", "only P-256"},
		{"certificate only", "CERTIFICATE", []byte{1, 2, 3}, "", "no PEM private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writePEM(t, tc.typ, tc.der)
			k, err := LoadSigningKey(p)
			if tc.alg == "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), p) {
					t.Fatalf("err %v, want one naming %s and %q", err, p, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.method.Alg() != tc.alg || k.kid == "" {
				t.Fatalf("alg %s kid %q", k.method.Alg(), k.kid)
			}
			// The same key file gives the same kid (replicas share it).
			k2, _ := LoadSigningKey(p)
			if k2.kid != k.kid {
				t.Errorf("kid differs between loads")
			}
			// A token it signs goes through a Handler and verifies.
			f := newFixture(t, fixtureOptions{key: k})
			status, body := post(t, f, "/contoso/oauth2/v2.0/token", with(v2Form(mdeRes+"/.default"), "client_secret", socKey), nil, nil)
			if status != 200 {
				t.Fatalf("%d %v", status, body)
			}
			if _, err := f.h.Verify(body["access_token"].(string)); err != nil {
				t.Fatal(err)
			}
			_, jwks := get(t, f, "/common/discovery/keys")
			jwk := jwks["keys"].([]any)[0].(map[string]any)
			if jwk["kid"] != k.kid || jwk["alg"] != tc.alg {
				t.Errorf("jwk %v", jwk)
			}
		})
	}
	if _, err := LoadSigningKey(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("missing file: no error")
	}
}

// The kid is RFC 7638's thumbprint: its example key gives its example value.
func TestThumbprintRFC7638(t *testing.T) {
	t.Parallel()
	jwk := map[string]string{
		"kty": "RSA",
		"e":   "AQAB",
		"n":   "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
	}
	if got := thumbprint(jwk); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("thumbprint %s", got)
	}
}
