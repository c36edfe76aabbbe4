package emulator

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// JWTs are built and checked with the standard library only: the emulator needs RS256 to
// sign access tokens and PS256/RS256 to check client assertions, nothing more.

// b64url encodes without padding, as JWTs do.
func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return formatUUID(b)
}

// stableUUID returns a UUID derived from seed, so generated data is deterministic.
func stableUUID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	var b [16]byte
	copy(b[:], sum[:16])
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// isUUID reports whether s looks like a UUID (8-4-4-4-12 hex digits).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// accessClaims are the claims of an emulator-issued access token (v1 shape, like MDE's).
type accessClaims struct {
	Aud      string   `json:"aud"`
	Iss      string   `json:"iss"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf"`
	Exp      int64    `json:"exp"`
	Aio      string   `json:"aio,omitempty"`
	AppID    string   `json:"appid"`
	AppIDAcr string   `json:"appidacr"`
	IdP      string   `json:"idp"`
	Oid      string   `json:"oid"`
	Rh       string   `json:"rh,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Sub      string   `json:"sub"`
	Tid      string   `json:"tid"`
	Uti      string   `json:"uti"`
	Ver      string   `json:"ver"`
	Jti      string   `json:"jti"`
}

type jwtHeader struct {
	Alg     string `json:"alg"`
	Typ     string `json:"typ,omitempty"`
	Kid     string `json:"kid,omitempty"`
	X5t     string `json:"x5t,omitempty"`
	X5tS256 string `json:"x5t#S256,omitempty"`
}

// signRS256 returns the compact JWT of claims signed with key.
func signRS256(key *rsa.PrivateKey, h jwtHeader, claims any) (string, error) {
	hb, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encode jwt header: %w", err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode jwt claims: %w", err)
	}
	signing := b64url(hb) + "." + b64url(cb)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	return signing + "." + b64url(sig), nil
}

// parsedJWT is a compact JWT split and decoded, not yet verified.
type parsedJWT struct {
	header  jwtHeader
	claims  []byte // JSON
	signing string // header.payload, what the signature covers
	sig     []byte
}

var errMalformed = errors.New("malformed jwt")

func parseJWT(tok string) (*parsedJWT, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errMalformed
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errMalformed
	}
	p := &parsedJWT{claims: cb, signing: parts[0] + "." + parts[1], sig: sig}
	if err := json.Unmarshal(hb, &p.header); err != nil {
		return nil, errMalformed
	}
	return p, nil
}

// verify checks the signature with pub for the header's alg (RS256 or PS256 only).
func (p *parsedJWT) verify(pub *rsa.PublicKey) error {
	sum := sha256.Sum256([]byte(p.signing))
	switch p.header.Alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], p.sig)
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], p.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		return fmt.Errorf("unsupported alg %q", p.header.Alg)
	}
}

// thumbprintMatches reports whether the header's certificate thumbprint names cert: x5t#S256
// (SHA-256) or, failing that, x5t (SHA-1). MSAL Go encodes them with standard base64 and
// padding, the JOSE spec with unpadded base64url: both are accepted.
func (h jwtHeader) thumbprintMatches(cert *x509.Certificate) bool {
	if h.X5tS256 != "" {
		sum := sha256.Sum256(cert.Raw)
		return equalThumbprint(h.X5tS256, sum[:])
	}
	if h.X5t != "" {
		sum := sha1.Sum(cert.Raw)
		return equalThumbprint(h.X5t, sum[:])
	}
	return false
}

func equalThumbprint(enc string, want []byte) bool {
	trimmed := strings.TrimRight(enc, "=")
	for _, dec := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if got, err := dec.DecodeString(trimmed); err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return true
		}
	}
	return false
}

// assertionClaims are the claims of a client assertion the emulator checks. Times are
// numbers (MSAL writes them as JSON numbers).
type assertionClaims struct {
	Aud audience    `json:"aud"`
	Iss string      `json:"iss"`
	Sub string      `json:"sub"`
	Exp json.Number `json:"exp"`
	Nbf json.Number `json:"nbf"`
}

// audience is a JWT aud: one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var many []string
		if err := json.Unmarshal(b, &many); err != nil {
			return err
		}
		*a = many
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*a = audience{one}
	return nil
}
