package proxy

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mdegate/mdegate/internal/tokenendpoint"
)

// Gateway tokens (issue 16): a tool that fetched its token from the gateway's token endpoint
// (internal/tokenendpoint) calls the API with "Authorization: Bearer <gateway JWT>". That
// request is the token's caller, for the token's tenant: it needs no tenant header or prefix,
// and one that names another tenant is a TenantConflict. The gateway token is replaced by the
// gateway's own token for MDE like any caller key (rewrite), so it never leaves the gateway.

// TokenVerifier checks a gateway token. *tokenendpoint.Handler implements it.
type TokenVerifier interface {
	Verify(token string) (tokenendpoint.Claims, error)
}

var (
	errTokenExpired = &apiError{http.StatusUnauthorized, "Unauthorized", "the gateway token has expired: get a new one from the gateway's token endpoint"}
	errTokenInvalid = &apiError{http.StatusUnauthorized, "Unauthorized", "the bearer token is not a valid token of this gateway: get one from its token endpoint, or present your mdegate key"}
)

// maxVerifiedTokens bounds the cache of verified tokens; a full cache drops its expired
// entries, and if that is not enough, all of them.
const maxVerifiedTokens = 4096

// verifiedTokens remembers the tokens already verified, so that a tool's second call with the
// same token costs a map lookup instead of a signature check (an ES256 verification costs
// more CPU than the rest of a forwarded call). Only tokens that verified are kept, whole, so a
// forged token never hits.
type verifiedTokens struct {
	v   TokenVerifier
	now func() time.Time

	mu sync.RWMutex
	m  map[string]tokenendpoint.Claims
}

func newVerifiedTokens(v TokenVerifier) *verifiedTokens {
	return &verifiedTokens{v: v, now: time.Now, m: map[string]tokenendpoint.Claims{}}
}

// verify returns the claims of tok, or errTokenExpired or errTokenInvalid, or
// tokenendpoint.ErrNotToken when tok is no JWT at all (a caller key).
func (t *verifiedTokens) verify(tok string) (tokenendpoint.Claims, error) {
	t.mu.RLock()
	c, ok := t.m[tok]
	t.mu.RUnlock()
	if ok {
		if !t.now().Before(c.Expires) {
			return c, errTokenExpired
		}
		return c, nil
	}
	c, err := t.v.Verify(tok)
	switch {
	case errors.Is(err, tokenendpoint.ErrNotToken):
		return c, err
	case errors.Is(err, tokenendpoint.ErrTokenExpired):
		return c, errTokenExpired
	case err != nil:
		return c, errTokenInvalid
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxVerifiedTokens {
		for k, v := range t.m {
			if !now.Before(v.Expires) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= maxVerifiedTokens {
			clear(t.m)
		}
	}
	t.m[tok] = c
	return c, nil
}

// bearerToken is the value of "Authorization: Bearer <v>", or false.
func bearerToken(h http.Header) (string, bool) {
	v := h["Authorization"]
	const prefix = "bearer "
	if len(v) == 0 || len(v[0]) <= len(prefix) || !strings.EqualFold(v[0][:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(v[0][len(prefix):]), true
}

// fromGatewayToken identifies the caller of a request that carries a gateway token. ok is
// false when the request carries none (no bearer, or a bearer that is no JWT: a caller key),
// and the caller is then identified as before. cl is nil in anonymous mode.
func (h *Handler) fromGatewayToken(r *http.Request) (cl *client, tenantID string, ok bool, err error) {
	tok, has := bearerToken(r.Header)
	if !has {
		return nil, "", false, nil
	}
	claims, err := h.gwTokens.verify(tok)
	if errors.Is(err, tokenendpoint.ErrNotToken) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", true, err
	}
	if h.auth != nil {
		// The caller may have been removed since the token was issued: its token dies with it.
		if cl = h.auth.byName[claims.Caller]; cl == nil {
			return nil, "", true, errTokenInvalid
		}
	}
	return cl, claims.TenantID, true, nil
}

// Authenticate finds the caller whose key is secret, for the token endpoint
// (tokenendpoint.Options.Authenticate) and the proxy mode's passthrough tunnels: the same
// clients, checked the same way as the API's keys. Tenants are IDs, or "*" for all. It is
// false for every secret when the handler has no clients (anonymous mode).
func (h *Handler) Authenticate(secret string) (tokenendpoint.Caller, bool) {
	if h.auth == nil || secret == "" {
		return tokenendpoint.Caller{}, false
	}
	hdr := http.Header{"X-Api-Key": {secret}}
	c, err := h.auth.identify(&http.Request{Header: hdr})
	if err != nil {
		return tokenendpoint.Caller{}, false
	}
	return c.caller, true
}
