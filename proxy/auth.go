package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/mdegate/mdegate/internal/tokenendpoint"
	"github.com/mdegate/mdegate/routing"
)

// Client is a caller allowed to use the gateway, with what it may do.
type Client struct {
	// Name identifies the caller in logs and in 403 answers. Required.
	Name string
	// KeySHA256 is the SHA-256 of the caller's key, presented as "Authorization: Bearer <key>"
	// or "X-Api-Key: <key>". The zero value means the caller has no key.
	KeySHA256 [sha256.Size]byte
	// CertSubject identifies the caller by a verified client certificate (mTLS): it is
	// compared with the certificate's subject common name and each of its DNS, e-mail and URI
	// SANs. Unset: the caller is not identified by certificate.
	CertSubject string
	// Tenants are the tenants the caller may use, by name or ID; "*" is every tenant. Empty:
	// none.
	Tenants []string
	// Allow lists the operations the caller may use as "METHOD /path" patterns matched on the
	// cleaned, lower-cased path ('*' at the end matches the rest, elsewhere one segment's
	// characters; a GET rule also allows HEAD), or "*" for everything. Nil: read-only, every GET
	// and HEAD.
	Allow []string
	// MaxConcurrent caps the caller's requests in flight; more are answered 429. Zero means
	// DefaultMaxConcurrent; negative means no cap.
	MaxConcurrent int
	// DefaultTenant (a name or ID) serves the caller's requests that name no tenant. Unset:
	// Options.DefaultTenant.
	DefaultTenant string
	// Admin lets the caller read the gateway's own admin answers on a caller-facing listener
	// (the per-tenant /readyz, /metrics; Handler.IsAdminCaller). It grants nothing on
	// Microsoft's APIs. False: the caller sees only /healthz and a bare /readyz status.
	Admin bool
}

// DefaultMaxConcurrent is a caller's cap on requests in flight when its MaxConcurrent is zero.
const DefaultMaxConcurrent = 64

// client is a Client compiled for the hot path.
type client struct {
	name       string
	keyHash    [sha256.Size]byte
	anyTenant  bool
	tenants    map[string]bool // tenant IDs
	rules      []rule
	max        int64         // 0: no cap
	inFlight   atomic.Int64  // its requests being served (counted whether capped or not)
	refusals   atomic.Uint64 // its requests refused as not allowed or over its cap
	busy       *apiError     // the 429, made once
	forbidden  *apiError     // the 403 for any tenant outside its list, made once
	notAllowed string        // how 403 names the rule list
	admin      bool          // admin: true, may read /metrics and /readyz's detail

	defaultTenant string               // "" for none
	caller        tokenendpoint.Caller // as the token endpoint knows it (gatewaytoken.go)
}

// auth finds callers by key or certificate. A nil *auth lets every request through as
// anonymous.
type auth struct {
	byKey  map[[sha256.Size]byte]*client
	byCert map[string]*client
	byName map[string]*client // the callers of gateway tokens (gatewaytoken.go)
	list   []*client          // in configuration order, for Handler.Callers
}

// newAuth compiles the clients; tenant names are resolved to IDs with routes.
func newAuth(clients []Client, routes *routing.Table) (*auth, error) {
	if len(clients) == 0 {
		return nil, nil
	}
	a := &auth{byKey: map[[sha256.Size]byte]*client{}, byCert: map[string]*client{}, byName: map[string]*client{}}
	for i, cc := range clients {
		c := &client{name: cc.Name, keyHash: cc.KeySHA256, tenants: map[string]bool{}, defaultTenant: cc.DefaultTenant,
			admin: cc.Admin}
		if d := cc.DefaultTenant; d != "" {
			if _, err := routes.Resolve(d); err != nil {
				return nil, fmt.Errorf("clients[%d] %s: default tenant %q is not configured", i, cc.Name, d)
			}
		}
		for _, t := range cc.Tenants {
			if t == "*" {
				c.anyTenant = true
				continue
			}
			tn, err := routes.Resolve(t)
			if err != nil {
				return nil, fmt.Errorf("clients[%d] %s: tenant %q is not configured", i, cc.Name, t)
			}
			c.tenants[tn.ID] = true
		}
		if cc.Allow == nil {
			c.rules = readOnly
			c.notAllowed = "it is read-only (no allow list: GET and HEAD only)"
		} else {
			for j, s := range cc.Allow {
				r, err := parseRule(s)
				if err != nil {
					return nil, fmt.Errorf("clients[%d] %s: allow[%d]: %w", i, cc.Name, j, err)
				}
				c.rules = append(c.rules, r)
			}
			c.notAllowed = "no rule of its allow list matches"
		}
		switch {
		case cc.MaxConcurrent == 0:
			c.max = DefaultMaxConcurrent
		case cc.MaxConcurrent > 0:
			c.max = int64(cc.MaxConcurrent)
		}
		// One answer for every tenant outside the list, configured or not, alone or in
		// conflict, naming none of them: otherwise the answer tells which customers exist
		// (issue 14, finding 6).
		c.forbidden = &apiError{http.StatusForbidden, "Forbidden",
			fmt.Sprintf("client %s may not use the tenant this request names: it is not in the client's tenants list", quote(cc.Name))}
		c.busy = &apiError{http.StatusTooManyRequests, "TooManyRequests",
			fmt.Sprintf("client %s already has %d requests in flight; retry when one ends", quote(cc.Name), c.max)}
		if cc.KeySHA256 != ([sha256.Size]byte{}) {
			if _, dup := a.byKey[cc.KeySHA256]; dup {
				return nil, fmt.Errorf("clients[%d] %s: the same key as another client", i, cc.Name)
			}
			a.byKey[cc.KeySHA256] = c
		}
		if cc.CertSubject != "" {
			a.byCert[cc.CertSubject] = c
		}
		c.caller = tokenendpoint.Caller{Name: cc.Name}
		if c.anyTenant {
			c.caller.Tenants = []string{"*"}
		}
		for id := range c.tenants {
			c.caller.Tenants = append(c.caller.Tenants, id)
		}
		a.byName[cc.Name] = c
		a.list = append(a.list, c)
	}
	return a, nil
}

// identify returns the caller of r, or errUnauthorized. A presented key decides, right or
// wrong; without one, a verified client certificate may name the caller.
func (a *auth) identify(r *http.Request) (*client, error) {
	key, ok := presentedKey(r.Header)
	if ok {
		sum := sha256.Sum256([]byte(key))
		c := a.byKey[sum]
		// The map finds the candidate by hash; the constant-time compare makes the decision.
		if c == nil || subtle.ConstantTimeCompare(c.keyHash[:], sum[:]) != 1 {
			return nil, errUnauthorized
		}
		return c, nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(a.byCert) > 0 {
		if c := a.byCert[certName(r.TLS.VerifiedChains[0][0], a.byCert)]; c != nil {
			return c, nil
		}
	}
	return nil, errUnauthorized
}

// IsAdminCaller reports whether r comes from a caller allowed to read the gateway's admin
// answers (the per-tenant /readyz, /metrics, a status page): with Options.Clients, one whose
// Client.Admin is set, identified as for any call (a key as "Authorization: Bearer <key>" or
// "X-Api-Key", or a verified client certificate); without clients, every caller is the
// anonymous one and is an admin caller. The request is not counted, logged or answered.
func (h *Handler) IsAdminCaller(r *http.Request) bool {
	if h.auth == nil {
		return true
	}
	c, err := h.auth.identify(r)
	return err == nil && c.admin
}

// presentedKey is the key in "Authorization: Bearer <key>" or else "X-Api-Key: <key>".
func presentedKey(h http.Header) (string, bool) {
	if key, ok := bearerToken(h); ok {
		return key, true
	}
	if v := h["X-Api-Key"]; len(v) > 0 && v[0] != "" {
		return strings.TrimSpace(v[0]), true
	}
	return "", false
}

// certName returns the first of the certificate's subject CN and SANs that names a client.
func certName(cert *x509.Certificate, names map[string]*client) string {
	if _, ok := names[cert.Subject.CommonName]; ok && cert.Subject.CommonName != "" {
		return cert.Subject.CommonName
	}
	for _, n := range cert.DNSNames {
		if _, ok := names[n]; ok {
			return n
		}
	}
	for _, n := range cert.EmailAddresses {
		if _, ok := names[n]; ok {
			return n
		}
	}
	for _, u := range cert.URIs {
		if _, ok := names[u.String()]; ok {
			return u.String()
		}
	}
	return ""
}

// mayCall checks the operation against the caller's allow list.
func (c *client) mayCall(method, lowerPath string) error {
	for i := range c.rules {
		if c.rules[i].allows(method, lowerPath) {
			return nil
		}
	}
	return &apiError{http.StatusForbidden, "Forbidden",
		fmt.Sprintf("client %s may not %s %s: %s", quote(c.name), method, lowerPath, c.notAllowed)}
}

// mayUse checks the tenant (nil when it is not configured) against the caller's tenants. A
// caller limited to some tenants gets the same 403 for a tenant that does not exist, so it
// cannot learn which other customers the gateway serves.
func (c *client) mayUse(tn *routing.Tenant, asked string) error {
	if c.anyTenant && tn != nil || tn != nil && c.tenants[tn.ID] {
		return nil
	}
	if c.anyTenant {
		return unknownTenant(asked)
	}
	return c.forbidden
}

// restricted reports whether c may use only the tenants of its list.
func (c *client) restricted() bool { return c != nil && !c.anyTenant }

// acquire takes one of the caller's in-flight slots; release gives it back.
// The count is kept for an uncapped caller too, for the status page (Handler.Callers).
func (c *client) acquire() bool {
	if c.inFlight.Add(1) > c.max && c.max != 0 {
		c.inFlight.Add(-1)
		return false
	}
	return true
}

func (c *client) release() { c.inFlight.Add(-1) }

// CheckAllow reports what is wrong with one allow pattern, or nil.
func CheckAllow(pattern string) error {
	_, err := parseRule(pattern)
	return err
}
