package tokens_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/tokens"
)

// audience decodes a bearer token's aud claim (the emulator's tokens are JWTs).
func audience(t *testing.T, tok tokens.Token) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(tok.Bearer, "Bearer "), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Aud string `json:"aud"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Aud
}

// Each (tenant, resource) has its own token, cache and status: an XDR or Graph call gets a
// token for its own audience, and asking again is served from the cache.
func TestTokenPerResource(t *testing.T) {
	t.Parallel()
	app := emulator.App{ClientID: clientID, Secret: "s3cr3t~" + "0123456789abcdef"}
	emu := start(t, app)
	s := newSource(t, emu, tokens.Options{Secret: app.Secret})
	ctx := context.Background()
	const xdr, graph = "https://api.security.microsoft.com", "https://graph.microsoft.com"

	mdeTok, err := s.Token(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	if got := audience(t, mdeTok); got != s.Resource() || got != "https://api.securitycenter.microsoft.com" {
		t.Errorf("Token: aud %q, want %q", got, s.Resource())
	}
	for _, res := range []string{xdr, graph} {
		tok, err := s.TokenFor(ctx, tenantA, res)
		if err != nil {
			t.Fatalf("%s: %v", res, err)
		}
		if got := audience(t, tok); got != res {
			t.Errorf("TokenFor(%s): aud %q", res, got)
		}
		again, err := s.TokenFor(ctx, tenantA, res)
		if err != nil || again.Bearer != tok.Bearer {
			t.Errorf("TokenFor(%s) again: a new token (%v), want the cached one", res, err)
		}
	}
	if n := emu.TokenRequests(tenantA); n != 3 {
		t.Errorf("%d token requests, want 3 (one per resource)", n)
	}
	if got := s.StatusFor(tenantA, graph).State; got != tokens.StateOK {
		t.Errorf("graph status %s, want ok", got)
	}
	if got := s.StatusFor(tenantB, graph).State; got != tokens.StateNever {
		t.Errorf("another tenant's graph status %s, want never", got)
	}
	var listed []string
	for _, st := range s.Statuses(tenantA) {
		listed = append(listed, st.Resource+"="+string(st.State))
	}
	want := "https://api.securitycenter.microsoft.com=ok https://api.security.microsoft.com=ok https://graph.microsoft.com=ok"
	if strings.Join(listed, " ") != want {
		t.Errorf("Statuses = %v, want %s", listed, want)
	}
	// A refused XDR token is dropped; the MDE one stays.
	xdrTok, _ := s.TokenFor(ctx, tenantA, xdr)
	s.Invalidate(tenantA, xdrTok)
	if got := s.StatusFor(tenantA, xdr).State; got != tokens.StateExpired {
		t.Errorf("xdr after Invalidate: %s, want expired", got)
	}
	if got := s.Status(tenantA).State; got != tokens.StateOK {
		t.Errorf("mde after the xdr token was invalidated: %s, want ok", got)
	}
}
