package tokenendpoint

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are what a gateway token says.
type Claims struct {
	// Caller is the gateway caller the token was issued to (the "sub" claim).
	Caller string
	// TenantID is the customer tenant's ID ("tid").
	TenantID string
	// ClientID is the client ID the tool sent, free text ("appid" and "azp").
	ClientID string
	// Audience is the resource the token was requested for ("aud").
	Audience string
	// Roles are the roles of the gateway's own token for the tenant, copied ("roles").
	Roles []string
	// Issuer is "iss": the issuer of the discovery document on the host the token was asked from.
	Issuer string
	// IssuedAt, NotBefore and Expires are "iat", "nbf" and "exp".
	IssuedAt, NotBefore, Expires time.Time
}

// Errors of Verify. Every one means the request is not authenticated by that token.
var (
	// ErrNotToken: the string is not a JWT at all (it may be a caller key).
	ErrNotToken = errors.New("not a JWT")
	// ErrTokenExpired: a gateway token past its "exp" (or before its "nbf").
	ErrTokenExpired = errors.New("gateway token expired")
	// ErrTokenInvalid: a JWT this gateway's key did not sign, or one that lacks a claim.
	ErrTokenInvalid = errors.New("gateway token invalid")
)

// jwtClaims is the JWT body. aud is a string, as in Entra's tokens (golang-jwt's
// RegisteredClaims would write an array).
type jwtClaims struct {
	Aud   string   `json:"aud"`
	Iss   string   `json:"iss"`
	Iat   int64    `json:"iat"`
	Nbf   int64    `json:"nbf"`
	Exp   int64    `json:"exp"`
	AppID string   `json:"appid"`
	Azp   string   `json:"azp"`
	Roles []string `json:"roles,omitempty"`
	Sub   string   `json:"sub"`
	Tid   string   `json:"tid"`
	Ver   string   `json:"ver"`
	Jti   string   `json:"jti"`
}

func numeric(sec int64) (*jwt.NumericDate, error) {
	if sec == 0 {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(sec, 0)), nil
}

func (c *jwtClaims) GetExpirationTime() (*jwt.NumericDate, error) { return numeric(c.Exp) }
func (c *jwtClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return numeric(c.Iat) }
func (c *jwtClaims) GetNotBefore() (*jwt.NumericDate, error)      { return numeric(c.Nbf) }
func (c *jwtClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *jwtClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *jwtClaims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings{c.Aud}, nil }

var _ jwt.Claims = (*jwtClaims)(nil)

// sign makes the JWT for c.
func (k *SigningKey) sign(c *jwtClaims) (string, error) {
	t := jwt.NewWithClaims(k.method, c)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("sign gateway token: %w", err)
	}
	return s, nil
}

// Verify checks a gateway token: signed by this handler's key (its kid and algorithm), inside
// its lifetime by Options.Now, and naming a caller, a tenant and an audience. Errors are
// ErrNotToken, ErrTokenExpired or ErrTokenInvalid (errors.Is); none holds the token.
func (h *Handler) Verify(token string) (Claims, error) {
	return h.key.verify(token, h.now)
}

func (k *SigningKey) verify(token string, now func() time.Time) (Claims, error) {
	if strings.Count(token, ".") != 2 {
		return Claims{}, ErrNotToken
	}
	var c jwtClaims
	p := jwt.NewParser(jwt.WithValidMethods([]string{k.method.Alg()}), jwt.WithTimeFunc(now),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	_, err := p.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != k.kid {
			return nil, errors.New("unknown kid")
		}
		return k.public, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Claims{}, ErrNotToken
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		// Only a token we signed reaches the time checks: the signature is verified first.
		return Claims{}, ErrTokenExpired
	case err != nil:
		return Claims{}, ErrTokenInvalid
	case c.Sub == "" || c.Tid == "" || c.Aud == "":
		return Claims{}, ErrTokenInvalid
	}
	return Claims{
		Caller:    c.Sub,
		TenantID:  c.Tid,
		ClientID:  c.AppID,
		Audience:  c.Aud,
		Roles:     c.Roles,
		Issuer:    c.Iss,
		IssuedAt:  time.Unix(c.Iat, 0),
		NotBefore: time.Unix(c.Nbf, 0),
		Expires:   time.Unix(c.Exp, 0),
	}, nil
}
