package tokens_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/tokens"
)

const (
	clientID = "6a1c3f0e-2b4d-4e8f-9a7b-0c1d2e3f4a5b"
	tenantA  = "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"
	tenantB  = "0b7e4c1a-5f2d-4e8b-a1c3-9d8e7f6a5b4c"
	tenantN  = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b" // not consented
	scope    = "https://api.securitycenter.microsoft.com/.default"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T, app emulator.App) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(emulator.Options{
		Apps: []emulator.App{app},
		Tenants: []emulator.Tenant{
			{ID: tenantA, Name: "contoso", Consented: true},
			{ID: tenantB, Name: "fabrikam", Consented: true},
			{ID: tenantN, Name: "northwind"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu
}

func newSource(t *testing.T, emu *emulator.Emulator, o tokens.Options) *tokens.Source {
	t.Helper()
	o.Authority, o.ClientID, o.Scope, o.HTTPClient = emu.LoginURL(), clientID, scope, emu.Client()
	s, err := tokens.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSecretAndCertificate(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mdegate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	emu := start(t, emulator.App{ClientID: clientID, Secret: "s3cret", Cert: cert})
	for name, o := range map[string]tokens.Options{
		"secret":      {Secret: "s3cret"},
		"certificate": {Certs: []*x509.Certificate{cert}, Key: key},
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := newSource(t, emu, o).Token(context.Background(), tenantA)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok.Bearer, "Bearer ey") || time.Until(tok.ExpiresOn) < 50*time.Minute {
				t.Errorf("token %.12s... expires %v", tok.Bearer, tok.ExpiresOn)
			}
		})
	}
}

// Refresh-ahead on an injected clock: past refreshAt the current token is returned at once
// while one background fetch replaces it; a failed refresh keeps the valid token; a token
// past its usable time is never handed out.
func TestRefreshAhead(t *testing.T) {
	emu := start(t, emulator.App{ClientID: clientID, Secret: "s3cret"})
	clk := &clock{t: time.Now()}
	src := newSource(t, emu, tokens.Options{Secret: "s3cret", Now: clk.now})
	ctx := context.Background()
	first, err := src.Token(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	// 52 minutes in: inside the 10-minute lead. Make Entra slow: the caller must not wait.
	emu.SetTokenLatency(2 * time.Second)
	clk.add(52 * time.Minute)
	// The caller gets the current token: had it waited for the refresh, it would hold the new one.
	got, err := src.Token(ctx, tenantA)
	if err != nil || got.Bearer != first.Bearer {
		t.Fatalf("during refresh got a different token or %v", err)
	}
	// MSAL dates tokens by the real clock: back to it, so polling starts no second refresh.
	clk.set(time.Now())
	waitFor(t, func() bool { tok, _ := src.Token(ctx, tenantA); return tok.Bearer != first.Bearer })
	if n := emu.TokenRequests(tenantA); n != 2 {
		t.Errorf("%d token requests, want 2 (one refresh)", n)
	}

	// A failing refresh: the still-valid token keeps being served.
	emu.SetTokenLatency(0)
	second, _ := src.Token(ctx, tenantA)
	emu.FailTokens(tenantA, 500, 0)
	clk.add(52 * time.Minute)
	if got, err := src.Token(ctx, tenantA); err != nil || got.Bearer != second.Bearer {
		t.Fatalf("with Entra failing, got %v, want the valid token", err)
	}
	waitFor(t, func() bool { return emu.TokenRequests(tenantA) == 3 }) // the refresh was tried
	if got, err := src.Token(ctx, tenantA); err != nil || got.Bearer != second.Bearer {
		t.Fatalf("after a failed refresh, got %v, want the still-valid token", err)
	}
	// Past its usable time the token is never injected: the caller gets the error.
	clk.add(7*time.Minute + 30*time.Second)
	if _, err := src.Token(ctx, tenantA); err == nil {
		t.Fatal("a token in its last minute was handed out")
	}
}

func TestInvalidate(t *testing.T) {
	emu := start(t, emulator.App{ClientID: clientID, Secret: "s3cret"})
	src := newSource(t, emu, tokens.Options{Secret: "s3cret"})
	ctx := context.Background()
	a, _ := src.Token(ctx, tenantA)
	src.Invalidate(tenantA, tokens.Token{Bearer: "Bearer other"}) // not the current one: kept
	if b, _ := src.Token(ctx, tenantA); b.Bearer != a.Bearer {
		t.Fatal("invalidating another token dropped the current one")
	}
	src.Invalidate(tenantA, a)
	b, err := src.Token(ctx, tenantA)
	if err != nil || b.Bearer == a.Bearer {
		t.Fatalf("after Invalidate: same token or %v", err)
	}
	if n := emu.TokenRequests(tenantA); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestErrorsAreTypedAndSafe(t *testing.T) {
	emu := start(t, emulator.App{ClientID: clientID, Secret: "s3cret"})
	tests := []struct {
		name, secret, tenant, code string
	}{
		{"unconsented", "s3cret", tenantN, "AADSTS700016"},
		{"wrong secret", "wrong-s3cret-value", tenantA, "AADSTS7000215"},
		{"unknown tenant", "s3cret", "11111111-2222-3333-4444-555555555555", "AADSTS90002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newSource(t, emu, tokens.Options{Secret: tt.secret})
			_, err := src.Token(context.Background(), tt.tenant)
			var te *tokens.Error
			if !errors.As(err, &te) || te.Code != tt.code {
				t.Fatalf("got %v, want a *tokens.Error with %s", err, tt.code)
			}
			for _, text := range []string{err.Error(), te.Message()} {
				if strings.Contains(text, tt.secret) || strings.Contains(text, "Trace ID") || strings.Contains(text, "\n") {
					t.Errorf("error text carries the secret or Entra's raw body: %q", text)
				}
			}
			// Within the back-off the same error comes back without asking Entra again.
			n := emu.TokenRequests(tt.tenant)
			if _, err2 := src.Token(context.Background(), tt.tenant); !errors.As(err2, &te) || emu.TokenRequests(tt.tenant) != n {
				t.Errorf("a second call within the back-off asked Entra again")
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		src, err := tokens.New(tokens.Options{Authority: "https://127.0.0.1:1", ClientID: clientID, Scope: scope, Secret: "s3cret", HTTPClient: emu.Client()})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		_, err = src.Token(context.Background(), tenantA)
		var te *tokens.Error
		if !errors.As(err, &te) || te.Code != "" || !strings.Contains(te.Message(), "unreachable") {
			t.Errorf("got %v, want an unreachable *tokens.Error", err)
		}
	})
}

// One tenant whose token requests hang never delays another tenant's.
func TestSlowTenantDoesNotBlockOthers(t *testing.T) {
	emu := start(t, emulator.App{ClientID: clientID, Secret: "s3cret"})
	src := newSource(t, emu, tokens.Options{Secret: "s3cret", FetchTimeout: 5 * time.Second})
	emu.SetTokenLatency(3 * time.Second)
	slow := make(chan error, 1)
	go func() { _, err := src.Token(context.Background(), tenantA); slow <- err }()
	time.Sleep(100 * time.Millisecond) // tenant A's fetch is now hanging in Entra
	emu.SetTokenLatency(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := src.Token(ctx, tenantB); err != nil {
		t.Errorf("tenant B waited on tenant A: %v", err)
	}
	if err := <-slow; err != nil {
		t.Errorf("tenant A: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Regression test for issue 14, finding 10: an upstream answering 401 to every call made
// each call drop the token and fetch a new one. A tenant's token is dropped at most once
// per MinInvalidateInterval, and only while it is still the one refused.
func TestInvalidateAtMostOncePerInterval(t *testing.T) {
	emu := start(t, emulator.App{ClientID: clientID, Secret: "s3cret"})
	clk := &clock{t: time.Now()}
	src := newSource(t, emu, tokens.Options{Secret: "s3cret", Now: clk.now})
	ctx := context.Background()
	tok := func() tokens.Token {
		t.Helper()
		tk, err := src.Token(ctx, tenantA)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	first := tok()
	src.Invalidate(tenantA, first)
	second := tok()
	if second.Bearer == first.Bearer || emu.TokenRequests(tenantA) != 2 {
		t.Fatalf("the first refusal fetched no new token (%d requests)", emu.TokenRequests(tenantA))
	}
	src.Invalidate(tenantA, first) // a stale report: already replaced
	for range 10 {
		src.Invalidate(tenantA, second)
		if tok().Bearer != second.Bearer {
			t.Fatal("a second token was dropped within the interval")
		}
	}
	if n := emu.TokenRequests(tenantA); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	clk.add(tokens.MinInvalidateInterval)
	src.Invalidate(tenantA, second)
	if tok().Bearer == second.Bearer || emu.TokenRequests(tenantA) != 3 {
		t.Fatalf("after the interval the refused token was kept (%d requests)", emu.TokenRequests(tenantA))
	}
}
