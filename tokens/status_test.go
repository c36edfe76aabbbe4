package tokens_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/tokens"
)

// Status walks a tenant through never → ok → expired (injected clock) and another through
// failing with Entra's code; OnFetch sees every request to Entra.
func TestStatus(t *testing.T) {
	emu := start(t, emulator.App{ClientID: clientID, Secret: "s3cret"})
	clk := &clock{t: time.Now()}
	var mu sync.Mutex
	fetched := map[string]string{} // tenant -> code of its last fetch ("" for success)
	src := newSource(t, emu, tokens.Options{Secret: "s3cret", Now: clk.now,
		OnFetch: func(tenantID string, _ time.Duration, err *tokens.Error) {
			mu.Lock()
			defer mu.Unlock()
			fetched[tenantID] = ""
			if err != nil {
				fetched[tenantID] = err.Code
			}
		}})
	ctx := context.Background()
	if st := src.Status(tenantA); st.State != tokens.StateNever {
		t.Errorf("before any request: %+v, want never", st)
	}
	tok, err := src.Token(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = src.Token(ctx, tenantN)
	tests := []struct {
		name      string
		tenant    string
		advance   time.Duration
		state     tokens.State
		code      string
		expires   bool
		failures  int
		fetchCode string
	}{
		{"fresh token", tenantA, 0, tokens.StateOK, "", true, 0, ""},
		{"unconsented", tenantN, 0, tokens.StateFailing, "AADSTS700016", false, 1, "AADSTS700016"},
		{"never tried", tenantB, 0, tokens.StateNever, "", false, 0, "-"},
		{"past its usable time", tenantA, time.Until(tok.ExpiresOn), tokens.StateExpired, "", true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.add(tt.advance)
			st := src.Status(tt.tenant)
			if st.State != tt.state || st.Code != tt.code || !st.Expires.IsZero() != tt.expires || st.Failures != tt.failures {
				t.Errorf("got %+v, want state %s code %q expires=%v failures %d", st, tt.state, tt.code, tt.expires, tt.failures)
			}
			mu.Lock()
			code, ok := fetched[tt.tenant]
			mu.Unlock()
			if !ok {
				code = "-"
			}
			if code != tt.fetchCode {
				t.Errorf("OnFetch saw %q, want %q", code, tt.fetchCode)
			}
		})
	}
}
