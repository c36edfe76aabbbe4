package consent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// secretSentinel stands for anything secret a token error could carry in its log text; the
// page must never show it.
const secretSentinel = "SENTINEL-CLIENT-SECRET-f00d"

const (
	contosoID  = "11111111-1111-4111-8111-111111111111" // configured, consented
	fabrikamID = "22222222-2222-4222-8222-222222222222" // configured, no consent
	newcoID    = "55555555-5555-4555-8555-555555555555" // not configured, consented, a role short
	brokenID   = "66666666-6666-4666-8666-666666666666" // not configured, an opaque error
	adatumID   = "7a3f9c12-4b8e-4d21-9f60-2c5e8b1d0a47" // not configured, consented
)

var expectedRoles = []string{"Alert.Read.All", "Machine.Read.All", "Machine.Isolate"}

// tokenError is shaped like tokens.Error: a log text that may hold more than the caller may
// see, and a safe Message.
type tokenError struct{ tenant string }

func (e *tokenError) Error() string {
	return "tenant " + e.tenant + ": token request failed (client secret " + secretSentinel + ")"
}

func (e *tokenError) Message() string {
	return "no token for tenant " + e.tenant + ": AADSTS7000229: the app has no service principal in this tenant: an admin must consent"
}

// gateway is the fake side of the callbacks: a configuration and what Entra would answer.
type gateway struct {
	mu      sync.Mutex
	fetched []string // tenant IDs Roles was asked for
	hadDL   bool     // every Roles context had a deadline
}

var config = map[string][2]string{"contoso": {"contoso", contosoID}, "fabrikam": {"fabrikam", fabrikamID}}

func (g *gateway) lookup(key string) (alias, id string, ok bool) {
	key = strings.ToLower(key)
	for a, t := range config {
		if key == a || key == t[1] {
			return t[0], t[1], true
		}
	}
	return "", "", false
}

func (g *gateway) roles(ctx context.Context, tenantID string) ([]string, error) {
	_, dl := ctx.Deadline()
	g.mu.Lock()
	g.fetched = append(g.fetched, tenantID)
	g.hadDL = len(g.fetched) == 1 && dl || g.hadDL && dl
	g.mu.Unlock()
	switch tenantID {
	case contosoID, adatumID:
		return []string{"Alert.Read.All", "Machine.Read.All", "Machine.Isolate", "Ti.ReadWrite.All"}, nil
	case newcoID:
		return []string{"Alert.Read.All", "machine.read.all"}, nil
	case brokenID:
		return nil, errors.New("opaque failure " + secretSentinel)
	}
	return nil, &tokenError{tenant: tenantID}
}

func (g *gateway) calls() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.fetched...)
}

func newHandler(s *Signer, g *gateway, observe func(Result)) *Handler {
	return New(Options{Signer: s, Lookup: g.lookup, Roles: g.roles, Expected: expectedRoles, Observe: observe,
		PerClient: Rate{Every: time.Second, Burst: 1000}, Global: Rate{Every: time.Millisecond, Burst: 1000}})
}
