package tokenendpoint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/golang-jwt/jwt/v5"
)

// SigningKey is the private key that signs gateway tokens: EC P-256 (ES256) or RSA of at least
// 2048 bits (RS256). Replicas that must accept each other's tokens share the same key.
type SigningKey struct {
	private crypto.Signer
	public  crypto.PublicKey
	method  jwt.SigningMethod
	kid     string            // the RFC 7638 JWK thumbprint: the same on every replica with this key
	jwk     map[string]string // the public key as a JWK, kid and alg included
}

// GenerateSigningKey makes a fresh P-256 key. Tokens it signs die with the process and are not
// valid on other replicas.
func GenerateSigningKey() (*SigningKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return newSigningKey(k)
}

// LoadSigningKey reads a PEM private key file (PKCS#8 "PRIVATE KEY", SEC 1 "EC PRIVATE KEY" or
// PKCS#1 "RSA PRIVATE KEY"). Errors name the file, never its content.
func LoadSigningKey(path string) (*SigningKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := parseSigningKey(b)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, nil
}

// parseSigningKey is LoadSigningKey on the PEM bytes themselves.
func parseSigningKey(pemBytes []byte) (*SigningKey, error) {
	var block *pem.Block
	for rest := pemBytes; ; {
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		if block.Type == "PRIVATE KEY" || block.Type == "EC PRIVATE KEY" || block.Type == "RSA PRIVATE KEY" {
			break
		}
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	return newSigningKey(key)
}

func newSigningKey(key any) (*SigningKey, error) {
	k := &SigningKey{}
	switch p := key.(type) {
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("EC key on curve %s: only P-256 is supported", p.Curve.Params().Name)
		}
		raw, err := p.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, fmt.Errorf("EC public key: %w", err)
		}
		k.private, k.public, k.method = p, &p.PublicKey, jwt.SigningMethodES256
		k.jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	case *rsa.PrivateKey:
		if p.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: at least 2048 are needed", p.N.BitLen())
		}
		k.private, k.public, k.method = p, &p.PublicKey, jwt.SigningMethodRS256
		k.jwk = map[string]string{"kty": "RSA", "e": b64(big.NewInt(int64(p.E)).Bytes()), "n": b64(p.N.Bytes())}
	default:
		return nil, fmt.Errorf("a %T key: only EC P-256 and RSA are supported", key)
	}
	k.kid = thumbprint(k.jwk)
	k.jwk["kid"] = k.kid
	k.jwk["use"] = "sig"
	k.jwk["alg"] = k.method.Alg()
	return k, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a public JWK (only its required members).
func thumbprint(jwk map[string]string) string {
	var members []string
	if jwk["kty"] == "EC" {
		members = []string{"crv", "kty", "x", "y"} // lexicographic, as RFC 7638 wants
	} else {
		members = []string{"e", "kty", "n"}
	}
	buf := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			buf = append(buf, ',')
		}
		q, _ := json.Marshal(jwk[m]) // strings marshal without error
		buf = append(buf, '"')
		buf = append(buf, m...)
		buf = append(buf, '"', ':')
		buf = append(buf, q...)
	}
	buf = append(buf, '}')
	sum := sha256.Sum256(buf)
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
