package tokens

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// Options configure a Source. The credential is exactly one of Secret, Certs+Key or Assertion.
type Options struct {
	// Authority is the Entra login host, e.g. https://login.microsoftonline.com. Required; the
	// tenant ID is appended per token request.
	Authority string
	// ClientID is the partner's multi-tenant app. Required.
	ClientID string
	// Secret is the app's client secret.
	Secret string
	// Certs is the app's certificate chain, for a certificate credential; nil means none.
	Certs []*x509.Certificate
	// Key is Certs' private key (RSA: MSAL signs PS256); nil means no certificate credential.
	Key crypto.PrivateKey
	// Assertion, when set, returns a client assertion (e.g. a federated token) on each request.
	Assertion func(ctx context.Context) (string, error)
	// Scope is the client-credentials scope of Token, e.g.
	// https://api.securitycenter.microsoft.com/.default. Required. TokenFor asks for other
	// resources' tokens (resource + "/.default") from the same app.
	Scope string
	// HTTPClient talks to the token endpoint. Nil means a client with Go's default transport.
	HTTPClient *http.Client
	// FetchTimeout bounds one token request. Zero means 30 s (MSAL's own default).
	FetchTimeout time.Duration
	// Logger receives one line per token fetch (never the token). Zero value means no logging.
	Logger zerolog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// OnFetch, when set, is called after every token request to Entra with the tenant, how
	// long it took, and nil or the failure (metrics). It must not block. Nil means no call.
	OnFetch func(tenantID string, took time.Duration, err *Error)
}

// Token is a bearer token ready to inject.
type Token struct {
	// Bearer is the whole Authorization header value, "Bearer <jwt>", built once per token so
	// the hot path does not concatenate.
	Bearer string
	// ExpiresOn is when Entra said the token expires.
	ExpiresOn time.Time

	header []string // {Bearer}, built once per token; nil in a Token made elsewhere
}

// Header is the Authorization header value as net/http keeps it, built once per token so the
// hot path allocates nothing. It is shared by every request that uses the token: callers
// must not modify it.
func (t Token) Header() []string {
	if t.header != nil {
		return t.header
	}
	return []string{t.Bearer}
}

// Source hands out cached tokens per (tenant, resource): Token for the resource of
// Options.Scope, TokenFor for any other (Defender XDR, Graph). Each pair has its own cache
// entry, singleflight, refresh-ahead and back-off. It is safe for concurrent use. Close stops
// its background refreshes.
type Source struct {
	msal    confidential.Client
	def     *resource // Options.Scope's
	timeout time.Duration
	log     zerolog.Logger
	now     func() time.Time
	onFetch func(tenantID string, took time.Duration, err *Error)

	resources sync.Map // resource -> *resource, def included
	group     singleflight.Group

	// life is the parent of every token request: Close cancels it so that no fetch outlives
	// the Source. It is the one context kept in a struct, as http.Server keeps its base context.
	life   context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed and the Add side of wg
	closed bool
	wg     sync.WaitGroup
}

// resource is one token resource's tenants.
type resource struct {
	name    string   // the audience, e.g. https://api.security.microsoft.com
	scopes  []string // {name + "/.default"}, or Options.Scope
	entries sync.Map // tenant ID -> *entry
}

// entry is one (tenant, resource)'s token state.
type entry struct {
	tok atomic.Pointer[held] // current token; nil before the first success

	mu          sync.Mutex // guards the fields below
	refreshing  bool       // a background refresh is running
	failures    int        // consecutive failed fetches
	retryAt     time.Time  // no new fetch before this after a failure
	lastErr     *Error     // the last failure, answered while retryAt is ahead and no token is valid
	fetched     time.Time  // last successful fetch
	invalidated time.Time  // last token dropped by Invalidate
}

type held struct {
	Token
	refreshAt time.Time // start a background refresh from here on
	usable    time.Time // never inject at or after this (ExpiresOn minus a skew)
}

// New builds a Source. It does not contact Entra: tokens are fetched on first use.
func New(opts Options) (*Source, error) {
	if opts.Authority == "" || opts.ClientID == "" || opts.Scope == "" {
		return nil, errors.New("tokens: authority, client ID and scope are required")
	}
	cred, err := credential(opts)
	if err != nil {
		return nil, err
	}
	mopts := []confidential.Option{
		confidential.WithInstanceDiscovery(false), // the authority is given; never ask login.microsoftonline.com
		confidential.WithCache(noCache{}),
	}
	if opts.HTTPClient != nil {
		mopts = append(mopts, confidential.WithHTTPClient(opts.HTTPClient))
	}
	// One MSAL client serves every tenant: the tenant is chosen per call (WithTenantID).
	authority := strings.TrimRight(opts.Authority, "/") + "/organizations"
	client, err := confidential.New(authority, opts.ClientID, cred, mopts...)
	if err != nil {
		return nil, fmt.Errorf("tokens: msal client: %w", err)
	}
	def := &resource{name: strings.TrimSuffix(opts.Scope, "/.default"), scopes: []string{opts.Scope}}
	s := &Source{
		msal:    client,
		def:     def,
		timeout: opts.FetchTimeout,
		log:     opts.Logger,
		now:     opts.Now,
		onFetch: opts.OnFetch,
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.resources.Store(def.name, def)
	s.life, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func credential(opts Options) (confidential.Credential, error) {
	n := 0
	for _, set := range []bool{opts.Secret != "", opts.Key != nil, opts.Assertion != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return confidential.Credential{}, errors.New("tokens: exactly one credential (secret, certificate or assertion) is required")
	}
	switch {
	case opts.Secret != "":
		return confidential.NewCredFromSecret(opts.Secret)
	case opts.Key != nil:
		c, err := confidential.NewCredFromCert(opts.Certs, opts.Key)
		if err != nil {
			return c, fmt.Errorf("tokens: certificate credential: %w", err)
		}
		return c, nil
	default:
		f := opts.Assertion
		return confidential.NewCredFromAssertionCallback(func(ctx context.Context, _ confidential.AssertionRequestOptions) (string, error) {
			a, err := f(ctx)
			if err != nil {
				return "", fmt.Errorf("%w: %w", errAssertion, err)
			}
			return a, nil
		}), nil
	}
}

// Token returns a valid token for the tenant, fetching it if there is none. A token near its
// expiry is returned at once while a background refresh replaces it. Errors are *Error, or
// ctx's error when the caller gave up first.
func (s *Source) Token(ctx context.Context, tenantID string) (Token, error) {
	return s.token(ctx, s.def, tenantID)
}

// TokenFor is Token for another resource of the same app: the audience, such as
// https://api.security.microsoft.com (Defender XDR) or https://graph.microsoft.com; the
// scope asked for is resource + "/.default". The resource of Options.Scope gives Token's.
func (s *Source) TokenFor(ctx context.Context, tenantID, resource string) (Token, error) {
	return s.token(ctx, s.resource(resource), tenantID)
}

// Resource is the resource of Options.Scope, the one Token serves.
func (s *Source) Resource() string { return s.def.name }

func (s *Source) resource(name string) *resource {
	if v, ok := s.resources.Load(name); ok {
		return v.(*resource)
	}
	v, _ := s.resources.LoadOrStore(name, &resource{name: name, scopes: []string{name + "/.default"}})
	return v.(*resource)
}

// flightKey names a (tenant, resource) fetch in the singleflight group; built only when a
// fetch is needed.
func (r *resource) flightKey(tenantID string) string { return r.name + " " + tenantID }

func (s *Source) token(ctx context.Context, r *resource, tenantID string) (Token, error) {
	e := r.entry(tenantID)
	now := s.now()
	if h := e.tok.Load(); h != nil && now.Before(h.usable) {
		if !now.Before(h.refreshAt) {
			s.refreshAhead(r, tenantID, e, now)
		}
		return h.Token, nil
	}
	e.mu.Lock()
	if e.lastErr != nil && now.Before(e.retryAt) {
		err := e.lastErr
		e.mu.Unlock()
		return Token{}, err // Entra just refused this tenant: do not hammer it
	}
	e.mu.Unlock()
	ch := s.group.DoChan(r.flightKey(tenantID), func() (any, error) { return s.fetch(r, tenantID, e) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return Token{}, r.Err
		}
		return r.Val.(*held).Token, nil
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

// Invalidate drops the tenant's token if it is still the one given (the upstream refused it),
// whichever resource it is for, so the next Token or TokenFor call fetches a fresh one. A
// token already replaced is left alone, so many callers reporting the same bad token cause
// one fetch. A (tenant, resource)'s token is dropped at most once per MinInvalidateInterval,
// each resource counting on its own as it has its own token: an upstream that refuses every
// token (a revoked consent, a missing role) would otherwise turn each call into a token
// request and get the tenant throttled by Entra (issue 14, finding 10); within the interval
// the 401s pass on.
func (s *Source) Invalidate(tenantID string, bad Token) {
	s.resources.Range(func(_, v any) bool {
		ev, ok := v.(*resource).entries.Load(tenantID)
		if !ok {
			return true
		}
		e := ev.(*entry)
		h := e.tok.Load()
		if h == nil || h.Bearer != bad.Bearer {
			return true
		}
		now := s.now()
		e.mu.Lock()
		if !e.invalidated.IsZero() && now.Sub(e.invalidated) < MinInvalidateInterval {
			e.mu.Unlock()
			return false
		}
		e.invalidated = now
		e.mu.Unlock()
		e.tok.CompareAndSwap(h, nil)
		return false
	})
}

// MinInvalidateInterval is the least time between two forced token fetches of one tenant
// for one resource (see Invalidate).
const MinInvalidateInterval = 30 * time.Second

// Close stops background refreshes and waits for them. Token calls after Close fail.
func (s *Source) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

func (r *resource) entry(tenantID string) *entry {
	if v, ok := r.entries.Load(tenantID); ok {
		return v.(*entry)
	}
	v, _ := r.entries.LoadOrStore(tenantID, new(entry))
	return v.(*entry)
}

// refreshAhead starts one background refresh for the (tenant, resource) unless one runs or a
// failure's back-off is still ahead. The caller keeps using the current, still-valid token.
func (s *Source) refreshAhead(r *resource, tenantID string, e *entry, now time.Time) {
	e.mu.Lock()
	if e.refreshing || now.Before(e.retryAt) {
		e.mu.Unlock()
		return
	}
	e.refreshing = true
	e.mu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		_, _, _ = s.group.Do(r.flightKey(tenantID), func() (any, error) { return s.fetch(r, tenantID, e) })
		e.mu.Lock()
		e.refreshing = false
		e.mu.Unlock()
	}()
}

// fetch asks Entra for a token; it runs at most once at a time per (tenant, resource)
// (singleflight). It
// is detached from any one caller's context: the callers that wait may give up, the fetch
// completes for the next ones, bounded by FetchTimeout and by Close.
func (s *Source) fetch(r *resource, tenantID string, e *entry) (*held, error) {
	ctx, cancel := context.WithTimeout(s.life, s.timeout)
	defer cancel()
	start := s.now()
	res, err := s.msal.AcquireTokenByCredential(ctx, r.scopes, confidential.WithTenantID(tenantID))
	now := s.now()
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("%w: %w", errTimeout, err)
		}
		te := classify(tenantID, err)
		e.mu.Lock()
		e.failures++
		e.retryAt = now.Add(backoff(e.failures))
		e.lastErr = te
		failures := e.failures
		e.mu.Unlock()
		s.log.Warn().Str("tenant_id", tenantID).Str("resource", r.name).Str("code", te.Code).Int("status", te.Status).
			Int("failures", failures).Str("hint", te.Hint()).Msg("token fetch failed")
		if s.onFetch != nil {
			s.onFetch(tenantID, now.Sub(start), te)
		}
		return nil, te
	}
	bearer := "Bearer " + res.AccessToken
	h := schedule(Token{Bearer: bearer, ExpiresOn: res.ExpiresOn, header: []string{bearer}}, now)
	e.tok.Store(h)
	e.mu.Lock()
	e.failures, e.retryAt, e.lastErr, e.fetched = 0, time.Time{}, nil, now
	e.mu.Unlock()
	s.log.Info().Str("tenant_id", tenantID).Str("resource", r.name).Time("expires", res.ExpiresOn).
		Dur("fetch_ms", now.Sub(start)).Msg("token fetched")
	if s.onFetch != nil {
		s.onFetch(tenantID, now.Sub(start), nil)
	}
	return h, nil
}

// schedule decides when a fresh token is refreshed and when it stops being injected. A one-hour
// token is refreshed from 10 minutes before expiry and never injected in its last minute; a
// short-lived one scales down (a quarter and a tenth of its lifetime).
func schedule(t Token, now time.Time) *held {
	life := t.ExpiresOn.Sub(now)
	lead := min(life/4, 10*time.Minute)
	skew := min(life/10, time.Minute)
	return &held{Token: t, refreshAt: t.ExpiresOn.Add(-lead), usable: t.ExpiresOn.Add(-skew)}
}

// backoff after n consecutive failures: 1 s, 2 s, 4 s ... capped at 30 s.
func backoff(n int) time.Duration {
	d := time.Second << min(n-1, 5)
	return min(d, 30*time.Second)
}

// noCache turns MSAL's token cache off: the Source is the cache (O(1) per tenant, with
// refresh-ahead), so MSAL always asks Entra when asked. Replace hands MSAL an empty cache
// before each lookup; Export keeps nothing. Tokens thus live only in the Source's memory.
type noCache struct{}

var _ cache.ExportReplace = noCache{}

func (noCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	return u.Unmarshal([]byte("{}"))
}

func (noCache) Export(context.Context, cache.Marshaler, cache.ExportHints) error { return nil }
