package proxy

import (
	"errors"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/tokenendpoint"
)

// verifierFunc is a TokenVerifier made of a function.
type verifierFunc func(string) (tokenendpoint.Claims, error)

func (f verifierFunc) Verify(tok string) (tokenendpoint.Claims, error) { return f(tok) }

// The cache of verified tokens: a token is verified once, its expiry still holds on later
// hits, failures are never cached, and a full cache drops what expired.
func TestVerifiedTokensCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	calls := 0
	v := newVerifiedTokens(verifierFunc(func(tok string) (tokenendpoint.Claims, error) {
		calls++
		switch tok {
		case "good", "good2":
			return tokenendpoint.Claims{Caller: "c", TenantID: "t", Expires: now.Add(time.Hour)}, nil
		case "expired":
			return tokenendpoint.Claims{}, tokenendpoint.ErrTokenExpired
		case "key":
			return tokenendpoint.Claims{}, tokenendpoint.ErrNotToken
		}
		return tokenendpoint.Claims{}, tokenendpoint.ErrTokenInvalid
	}))
	clock := now
	v.now = func() time.Time { return clock }
	for range 3 {
		if c, err := v.verify("good"); err != nil || c.TenantID != "t" {
			t.Fatalf("good: %v %v", c, err)
		}
	}
	if calls != 1 {
		t.Errorf("verified %d times, want once", calls)
	}
	for tok, want := range map[string]error{"forged": errTokenInvalid, "expired": errTokenExpired, "key": tokenendpoint.ErrNotToken} {
		for range 2 {
			if _, err := v.verify(tok); !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", tok, err, want)
			}
		}
	}
	if calls != 7 {
		t.Errorf("%d verifications, want failures never cached (7)", calls)
	}
	clock = now.Add(time.Hour)
	if _, err := v.verify("good"); !errors.Is(err, errTokenExpired) {
		t.Errorf("a cached token past its exp: %v", err)
	}
	for i := range maxVerifiedTokens {
		v.m[string(rune(i))] = tokenendpoint.Claims{Expires: now}
	}
	if _, err := v.verify("good2"); err != nil || len(v.m) > 2 {
		t.Errorf("a full cache kept %d entries (%v), want the expired ones dropped", len(v.m), err)
	}
}
