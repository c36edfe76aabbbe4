// Package emulator runs a local stand-in for Microsoft Entra ID (the token authority), the
// Microsoft Defender for Endpoint (MDE) REST API, the Defender XDR APIs on the same hosts, and
// the Microsoft Graph security API, close enough to the real services that MSAL Go and the
// gateway cannot tell the difference. Tests of the whole project and `mdegate demo` use it
// instead of the network.
//
// One table (routes.go) lists every API served: method and path, surface (MDE, XDR, Graph)
// and so the token audience it accepts, roles, and Microsoft's documented per-API limits.
// Tokens are issued per resource (ResourceMDE or ResourceMDEAlt, ResourceXDR,
// ResourceGraph); a valid token for another resource gets 403 from MDE and XDR (401 from
// Graph), as the real services answer. Collections evaluate OData $filter, $top, $skip and
// $select or refuse them with 400; request bodies are read case-sensitively; machine actions
// progress by the injected clock (see Clock).
//
// An Emulator owns: one HTTPS listener for Entra (discovery documents, the token endpoint,
// signing keys), one HTTPS listener per MDE region, one for Graph, the self-signed CA that
// they present, the RSA key that signs access tokens, per-tenant data (machines, alerts,
// indicators, actions), and knobs that inject faults while it serves: latency, region
// outages, regions answering an error status, paused streams, refused consent, token
// failures, revocation, quotas and one-shot throttling. It listens on loopback only and keeps
// a record of every API request (with the token's audience and the API it reached) so tests
// can assert on what the upstream actually received.
//
// Start it, point MSAL at LoginURL()+"/"+tenantID, the gateway at RegionURL(name) and its
// Graph host at GraphURL(), trust CAPEM(), and Close it when done.
package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRoles are the application roles put in tokens of a tenant whose Tenant.Roles is nil:
// every role the emulated API checks.
var DefaultRoles = []string{
	"Alert.Read.All",
	"Alert.ReadWrite.All",
	"Machine.Read.All",
	"Machine.ReadWrite.All",
	"Machine.Isolate",
	"Ti.ReadWrite.All",
	"AdvancedQuery.Read.All",
	"Software.Read.All",
	"Vulnerability.Read.All",
	"SecurityRecommendation.Read.All",
	"File.Read.All",
	"Ip.Read.All",
	"URL.Read.All",
	"User.Read.All",
	"Machine.Scan",
	"Machine.CollectForensics",
	"Machine.LiveResponse",
	"Machine.RestrictExecution",
	"Machine.StopAndQuarantine",
}

// ExportFileURL is the SAS URL that GET /api/machines/SoftwareInventoryExport hands out. It
// lives on another host and carries a secret signature, so a gateway must pass it through
// untouched and must never send a bearer token to it.
const ExportFileURL = "https://mdeexport.blob.core.windows.net/x/file1.json.gz?sv=2020&sig=SECRETSAS"

// App is an application registration that may ask the emulated Entra for tokens.
type App struct {
	// ClientID is the application (client) ID. Required; compared case-insensitively.
	ClientID string
	// Secret is the client_secret the token endpoint accepts. Empty means the app has no
	// secret: every client_secret is refused with AADSTS7000215.
	Secret string
	// Cert is the public certificate whose RSA key must sign client assertions (PS256, or
	// RS256), named by the assertion's x5t#S256 (or x5t) header. Nil means the app has no
	// certificate: every assertion is refused with AADSTS700027.
	Cert *x509.Certificate
	// Federated are the app's federated identity credentials: external identity providers
	// whose tokens the token endpoint accepts as client_assertion (workload identity). Nil
	// means none: an assertion not signed by the app's own certificate is refused.
	Federated []FederatedCredential
}

// Tenant is a customer directory known to the emulated Entra and MDE.
type Tenant struct {
	// ID is the tenant (directory) GUID. Required; stored lowercase. The token endpoint also
	// accepts "<Name>.onmicrosoft.com" in its place.
	ID string
	// Name tells tenants apart in their data: machine ids are "<Name>-m01"..., DNS names
	// "<Name>-pc01.<Name>.example", alert ids "<Name>-a01"... Empty means "tenant1",
	// "tenant2"... by position in Options.Tenants.
	Name string
	// Consented says whether the tenant's admin consented to the apps. False makes the token
	// endpoint answer 400 unauthorized_client AADSTS700016, as Entra does for an app with no
	// service principal in the tenant. Change it later with SetConsent.
	Consented bool
	// NoMDE makes the tenant have no Defender for Endpoint service principal: a token for the
	// MDE resource is refused with 400 invalid_resource AADSTS500011. False (default) means
	// the tenant has MDE.
	NoMDE bool
	// Roles are the application roles put in the tenant's MDE tokens. Nil means DefaultRoles;
	// an empty non-nil slice means tokens with no roles claim at all (every API call gets
	// 403). Change it later with SetRoles.
	Roles []string
	// XDRRoles are the roles put in the tenant's tokens for ResourceXDR. Nil means
	// DefaultXDRRoles; empty non-nil means no roles claim.
	XDRRoles []string
	// GraphRoles are the roles put in the tenant's tokens for ResourceGraph. Nil means
	// DefaultGraphRoles; empty non-nil means no roles claim.
	GraphRoles []string
	// Machines is the number of machines in the tenant's data (and of alerts, one per
	// machine). Zero means 7.
	Machines int
}

// Options configure Start. The zero value is usable but has no apps and no tenants, so every
// token request fails.
type Options struct {
	// Apps are the application registrations. Nil means none.
	Apps []App
	// Tenants are the customer tenants. Nil means none.
	Tenants []Tenant
	// Regions names the MDE regional listeners; each gets its own HTTPS port, latency knob
	// and outage switch. Nil or empty means []string{"global"}.
	Regions []string
	// Host is the address every listener binds; it must be a loopback address (127.0.0.1,
	// ::1, or "localhost", which means 127.0.0.1). Empty means "127.0.0.1".
	Host string
	// TokenLifetime is the expires_in of issued tokens; the JWT's exp is iat + lifetime +
	// 300 s, as real Entra does. Zero means 3599 s. Change it later with SetTokenLifetime.
	TokenLifetime time.Duration
	// PageSize is the number of items per page of the paged collections (machines, alerts,
	// incidents, TVM lists, Graph) without $top. Zero means 3.
	PageSize int
	// Audience is one more resource whose tokens the MDE surface accepts (and Entra issues),
	// besides ResourceMDE, ResourceMDEAlt and the WindowsDefenderATP app ID. Empty means
	// ResourceMDE.
	Audience string
	// InventoryRecords is how many software-inventory records each tenant has, which decides
	// when GET /api/machines/SoftwareInventoryByMachine stops giving an @odata.nextLink. Zero
	// means 1,000,000 (about 500 MB).
	InventoryRecords int
	// EnforceLimits makes the API enforce MDE's documented per-API limits (see APIs), per
	// app, tenant and API, in minute and hour windows. False (the default) enforces none;
	// change it later with SetEnforceLimits.
	EnforceLimits bool
	// ActionStep is how long a machine action stays in each of Pending and InProgress
	// before it is Succeeded, by the Now clock. Zero means 2 s.
	ActionStep time.Duration
	// Now is the clock used for token issue and expiry, revocation and quota windows. Nil
	// means time.Now. (MSAL reads the real clock regardless.)
	Now func() time.Time
	// Logf receives one line per notable event. Nil means silent. Tokens, secrets and
	// assertions are never logged.
	Logf func(format string, args ...any)
}

// Seen is one request received by an MDE region listener or the Graph listener.
type Seen struct {
	Region   string      // name of the region listener that received it; "graph" for the Graph listener
	Method   string      // HTTP method
	Path     string      // URL path as received (unescaped)
	RawQuery string      // raw query string
	Host     string      // Host header
	Header   http.Header // request headers (a copy)
	Body     []byte      // request body, for methods other than GET, HEAD and DELETE; nil otherwise
	TenantID string      // tid of the verified bearer token; "" if none or invalid
	AppID    string      // appid of the verified bearer token; "" if none or invalid
	Audience string      // aud of the verified bearer token (even one for another API); "" if none or invalid
	API      string      // name of the API in the emulator's table (see APIs); "" if no route matched
	Surface  string      // "mde", "xdr" or "graph": the API's surface; "" if no route matched
	Status   int         // status answered; 0 while no header is written yet
	At       time.Time   // when it arrived
}

// Emulator is a running Entra + MDE emulator. Its methods are safe for concurrent use while
// it serves. Create one with Start; stop it with Close.
type Emulator struct {
	now              func() time.Time
	logTo            func(format string, args ...any) // Options.Logf; call through logf
	silenced         atomic.Bool                      // set by Close: nothing logs afterwards
	host             string
	audience         string
	pageSize         int
	actionStep       time.Duration
	exportPage       int // default page of the TVM JSON exports: 50,000 (tests lower it)
	inventoryRecords int

	caPEM   []byte
	pool    *x509.CertPool
	tlsConf *tls.Config
	client  *http.Client

	signKey *rsa.PrivateKey
	kid     string

	apps    map[string]*App    // by lowercased client ID
	tenants map[string]*tenant // by tenant ID and by "<name>.onmicrosoft.com"

	loginURL string
	entra    *http.Server

	gzPool sync.Pool // *gzip.Writer at BestSpeed

	done      chan struct{} // closed by Close: interrupts latency waits
	closeOnce sync.Once
	serving   sync.WaitGroup // Serve goroutines

	// mu guards everything below and the mutable fields of every tenant.
	mu            sync.Mutex
	closing       bool
	inflight      int           // handlers running
	idle          chan struct{} // closed when inflight drops to 0 after closing
	regions       map[string]*region
	regionOrder   []string
	graph         *region // the Graph listener; not in regions
	graphLinkBase string  // SetGraphLinkBase
	tokenLifetime time.Duration
	tokenLatency  time.Duration
	failAll       tokenFailure // FailTokens("", ...)
	tokenCounts   map[string]int
	discCounts    map[string]int
	issued        map[string]time.Time // jti → issue time, for revocation finer than iat's second
	sweepAt       int                  // size of issued that triggers forgetting old entries
	quotaN        int
	quotaWindow   time.Duration
	windows       map[quotaKey]*quotaWindow
	enforceLimits bool                       // SetEnforceLimits
	limitState    map[limitKey]*limitWindows // per-API windows
	limitOverride map[string]limits          // SetAPILimit, by lowercased API name
	nextLinkBase  string
	gzip          bool
	seen          []*Seen
	throttled     int
	pauseStream   time.Duration // SetStreamPause
}

// region is one MDE regional listener. Its fields other than name and addr are guarded by
// Emulator.mu.
type region struct {
	name    string
	addr    string // host:port, fixed at the first listen so StartRegion reuses the port
	url     string
	srv     *http.Server  // nil while stopped
	stopped chan struct{} // closed by StopRegion: interrupts this region's latency waits
	latency time.Duration
	fail    int // FailRegion's status; 0 = serve normally
}

// Start validates opts, generates the CA, TLS and signing keys, and starts the Entra
// listener and one listener per region on opts.Host with random ports.
func Start(opts Options) (*Emulator, error) {
	e := &Emulator{
		now:              opts.Now,
		logTo:            opts.Logf,
		host:             opts.Host,
		audience:         opts.Audience,
		pageSize:         opts.PageSize,
		actionStep:       opts.ActionStep,
		exportPage:       50_000,
		inventoryRecords: opts.InventoryRecords,
		tokenLifetime:    opts.TokenLifetime,
		apps:             make(map[string]*App),
		tenants:          make(map[string]*tenant),
		done:             make(chan struct{}),
		idle:             make(chan struct{}),
		regions:          make(map[string]*region),
		tokenCounts:      make(map[string]int),
		discCounts:       make(map[string]int),
		issued:           make(map[string]time.Time),
		sweepAt:          4096,
		windows:          make(map[quotaKey]*quotaWindow),
		limitState:       make(map[limitKey]*limitWindows),
		limitOverride:    make(map[string]limits),
		enforceLimits:    opts.EnforceLimits,
		gzip:             true,
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.host == "" || e.host == "localhost" {
		e.host = "127.0.0.1"
	}
	if ip := net.ParseIP(e.host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("emulator: host %q is not a loopback address", opts.Host)
	}
	if e.audience == "" {
		e.audience = "https://api.securitycenter.microsoft.com"
	}
	e.audience = strings.TrimSuffix(e.audience, "/")
	if e.pageSize <= 0 {
		e.pageSize = 3
	}
	if e.actionStep <= 0 {
		e.actionStep = 2 * time.Second
	}
	if e.inventoryRecords <= 0 {
		e.inventoryRecords = 1_000_000
	}
	if e.tokenLifetime <= 0 {
		e.tokenLifetime = 3599 * time.Second
	}

	for i := range opts.Apps {
		a := opts.Apps[i]
		key := strings.ToLower(a.ClientID)
		switch {
		case a.ClientID == "":
			return nil, fmt.Errorf("emulator: apps[%d].client_id is empty", i)
		case e.apps[key] != nil:
			return nil, fmt.Errorf("emulator: apps[%d].client_id %q is a duplicate", i, a.ClientID)
		}
		if a.Cert != nil {
			if _, ok := a.Cert.PublicKey.(*rsa.PublicKey); !ok {
				return nil, fmt.Errorf("emulator: apps[%d].cert: public key is %T, want RSA", i, a.Cert.PublicKey)
			}
		}
		e.apps[key] = &a
	}
	for i, t := range opts.Tenants {
		nt, err := newTenant(i, t)
		if err != nil {
			return nil, fmt.Errorf("emulator: tenants[%d]: %w", i, err)
		}
		alias := strings.ToLower(nt.name) + ".onmicrosoft.com"
		if e.tenants[nt.id] != nil {
			return nil, fmt.Errorf("emulator: tenants[%d].id %q is a duplicate", i, t.ID)
		}
		if e.tenants[alias] != nil {
			return nil, fmt.Errorf("emulator: tenants[%d].name %q is a duplicate", i, nt.name)
		}
		e.tenants[nt.id] = nt
		e.tenants[alias] = nt
	}
	names := opts.Regions
	if len(names) == 0 {
		names = []string{"global"}
	}
	for i, n := range names {
		switch {
		case n == "":
			return nil, fmt.Errorf("emulator: regions[%d] is empty", i)
		case e.regions[n] != nil:
			return nil, fmt.Errorf("emulator: regions[%d] %q is a duplicate", i, n)
		}
		e.regions[n] = &region{name: n}
		e.regionOrder = append(e.regionOrder, n)
	}

	if err := e.initCrypto(); err != nil {
		return nil, err
	}
	if err := e.listen(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// signingKey is the RSA-2048 key that signs access tokens. Generating one takes 20-150 ms,
// more than the rest of Start together, and test binaries start many emulators; so it is
// made once per process and shared. Emulators still cannot accept each other's tokens: each
// has its own key id, which is inside the signed header and checked by the API.
var signingKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

// initCrypto makes the CA, the TLS leaf and the key id, and takes the token signing key.
func (e *Emulator) initCrypto() error {
	ca, err := newCA(e.host)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.caPEM = ca.pem
	e.pool = x509.NewCertPool()
	e.pool.AddCert(ca.cert)
	e.tlsConf = &tls.Config{
		Certificates: []tls.Certificate{ca.leaf},
		MinVersion:   tls.VersionTLS12,
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: e.pool, MinVersion: tls.VersionTLS12}
	e.client = &http.Client{Transport: tr}

	e.signKey, err = signingKey()
	if err != nil {
		return fmt.Errorf("emulator: generate signing key: %w", err)
	}
	kid := make([]byte, 20)
	if _, err := rand.Read(kid); err != nil {
		return fmt.Errorf("emulator: generate key id: %w", err)
	}
	e.kid = b64url(kid)
	return nil
}

// listen binds the Entra listener and every region listener, and starts serving.
func (e *Emulator) listen() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(e.host, "0"))
	if err != nil {
		return fmt.Errorf("emulator: listen for entra: %w", err)
	}
	e.loginURL = "https://" + ln.Addr().String()
	e.entra = e.newServer(e.entraHandler())
	e.serve(e.entra, ln)

	e.graph = &region{name: "graph"}
	for _, r := range append(e.regionList(), e.graph) {
		ln, err := net.Listen("tcp", net.JoinHostPort(e.host, "0"))
		if err != nil {
			return fmt.Errorf("emulator: listen for region %q: %w", r.name, err)
		}
		r.addr = ln.Addr().String()
		r.url = "https://" + r.addr
		e.mu.Lock()
		e.startRegionLocked(r, ln)
		e.mu.Unlock()
	}
	return nil
}

// regionList returns the MDE regions in Options.Regions order.
func (e *Emulator) regionList() []*region {
	out := make([]*region, len(e.regionOrder))
	for i, n := range e.regionOrder {
		out[i] = e.regions[n]
	}
	return out
}

// newServer builds the http.Server every listener uses.
func (e *Emulator) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// A clone per server: ServeTLS configures HTTP/2 by writing into it.
		TLSConfig: e.tlsConf.Clone(),
		// Slow-header protection only: answers may stream for a long time (no WriteTimeout),
		// and latency knobs hold requests on purpose (no ReadTimeout).
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// TLS handshake failures from clients that do not trust the CA land here.
		ErrorLog: log.New(logWriter(e.logf), "emulator: ", 0),
	}
}

// serve runs srv on ln in a goroutine owned by e (Close waits for it).
func (e *Emulator) serve(srv *http.Server, ln net.Listener) {
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			e.logf("emulator: serve %s: %v", ln.Addr(), err)
		}
	}()
}

// startRegionLocked serves r on ln. e.mu must be held.
func (e *Emulator) startRegionLocked(r *region, ln net.Listener) {
	r.srv = e.newServer(e.regionHandler(r))
	r.stopped = make(chan struct{})
	e.serve(r.srv, ln)
}

// Close stops every listener, drops open connections, interrupts latency waits, and waits
// for every handler and server goroutine to return. It is safe to call more than once.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closing = true
		busy := e.inflight > 0
		var servers []*http.Server
		if e.entra != nil {
			servers = append(servers, e.entra)
		}
		for _, r := range append(e.regionList(), e.graph) {
			if r != nil && r.srv != nil {
				servers = append(servers, r.srv)
				close(r.stopped)
				r.srv = nil
			}
		}
		e.mu.Unlock()

		close(e.done)
		for _, s := range servers {
			_ = s.Close() // the only error is the listener's close error: nothing to do
		}
		if busy {
			<-e.idle
		}
		e.serving.Wait()
		if e.client != nil {
			e.client.CloseIdleConnections()
		}
		// net/http's connection goroutines may still report a handshake cut short by
		// Close; a test's t.Logf would panic if called after the test.
		e.silenced.Store(true)
	})
}

// logf logs through Options.Logf, until Close returns.
func (e *Emulator) logf(format string, args ...any) {
	if e.logTo != nil && !e.silenced.Load() {
		e.logTo(format, args...)
	}
}

// enter registers a running handler; false means the emulator is closing.
func (e *Emulator) enter() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return false
	}
	e.inflight++
	return true
}

// leave unregisters a handler registered by enter.
func (e *Emulator) leave() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inflight--
	if e.inflight == 0 && e.closing {
		close(e.idle)
	}
}

// sleep waits d, or less if ctx ends, the emulator closes, or stop (may be nil) is closed.
// It reports whether the full delay elapsed.
func (e *Emulator) sleep(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-e.done:
	case <-stop:
	}
	return false
}

// CAPEM returns the PEM of the emulator's self-signed CA (ECDSA P-256), which signed the
// certificate every listener presents (SANs 127.0.0.1, ::1, localhost).
func (e *Emulator) CAPEM() []byte { return append([]byte(nil), e.caPEM...) }

// CertPool returns a new pool holding only the emulator's CA.
func (e *Emulator) CertPool() *x509.CertPool { return e.pool.Clone() }

// Client returns an HTTP client that trusts the emulator's CA (and no other), with no
// timeout. The same client is returned on every call; Close closes its idle connections.
func (e *Emulator) Client() *http.Client { return e.client }

// Authority returns the MSAL authority of a tenant: LoginURL()+"/"+tenantID.
func (e *Emulator) Authority(tenantID string) string { return e.loginURL + "/" + tenantID }

// LoginURL returns the Entra listener's base URL, "https://127.0.0.1:PORT". A tenant's
// authority is LoginURL()+"/"+tenantID.
func (e *Emulator) LoginURL() string { return e.loginURL }

// RegionURL returns the base URL "https://127.0.0.1:PORT" of the named region listener, or
// "" for an unknown region. The URL stays the same across StopRegion and StartRegion.
func (e *Emulator) RegionURL(name string) string {
	if r := e.regions[name]; r != nil {
		return r.url
	}
	return ""
}

// RegionURLs returns every region's base URL by name (a new map).
func (e *Emulator) RegionURLs() map[string]string {
	m := make(map[string]string, len(e.regions))
	for n, r := range e.regions {
		m[n] = r.url
	}
	return m
}

// SetTokenLifetime sets expires_in of tokens issued from now on; d <= 0 restores 3599 s.
func (e *Emulator) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = 3599 * time.Second
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokenLifetime = d
}

// SetTokenLatency delays every token endpoint answer by d (the wait ends early if the
// client gives up). Zero, the default, means no delay.
func (e *Emulator) SetTokenLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokenLatency = d
}

// FailTokens makes every following token request for tenantID fail with HTTP status and
// AADSTS code aadsts, in Entra's error shape, until called again with status 0. aadsts 0
// picks a code that fits the status (90033 temporarily_unavailable for 5xx). tenantID ""
// applies to every tenant. Requests still count in TokenRequests.
func (e *Emulator) FailTokens(tenantID string, status int, aadsts int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := tokenFailure{status: status, code: aadsts}
	if tenantID == "" {
		e.failAll = f
		return
	}
	if t := e.tenants[strings.ToLower(tenantID)]; t != nil {
		t.fail = f
	}
}

// SetConsent sets whether the tenant consented to the apps; see Tenant.Consented. Unknown
// tenants are ignored.
func (e *Emulator) SetConsent(tenantID string, consented bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tenants[strings.ToLower(tenantID)]; t != nil {
		t.consented = consented
	}
}

// SetRegionLatency delays every answer of the named region by d (the wait ends early if the
// client gives up or the region stops). Zero, the default, means no delay. Unknown regions
// are ignored.
func (e *Emulator) SetRegionLatency(name string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.regions[name]; r != nil {
		r.latency = d
	}
}

// StopRegion closes the named region's listener and every open connection to it, including
// requests in flight and answers being streamed, to simulate an outage. Unknown or already
// stopped regions are ignored.
func (e *Emulator) StopRegion(name string) {
	e.mu.Lock()
	r := e.regions[name]
	if r == nil || r.srv == nil {
		e.mu.Unlock()
		return
	}
	srv, stopped := r.srv, r.stopped
	r.srv = nil
	e.mu.Unlock()
	_ = srv.Close() // the only error is the listener's close error: nothing to do
	close(stopped)
	e.logf("emulator: region %s stopped", name)
}

// StartRegion listens again for the named region on the same port it had. Starting a
// running region does nothing.
func (e *Emulator) StartRegion(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.regions[name]
	switch {
	case r == nil:
		return fmt.Errorf("emulator: start region %q: unknown region", name)
	case e.closing:
		return fmt.Errorf("emulator: start region %q: emulator closed", name)
	case r.srv != nil:
		return nil
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return fmt.Errorf("emulator: start region %q: %w", name, err)
	}
	e.startRegionLocked(r, ln)
	e.logf("emulator: region %s started", name)
	return nil
}

// RevokeTokens makes every token issued for tenantID until now answer 401 on the API;
// tokens issued afterwards work. Unknown tenants are ignored.
func (e *Emulator) RevokeTokens(tenantID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tenants[strings.ToLower(tenantID)]; t != nil {
		t.revokedAt = e.now()
	}
}

// SetQuota limits every (tenant, API family) pair to perWindow API requests per fixed window;
// beyond it the API answers 429 with Retry-After until the window ends. The family is the
// first path segment after /api/ (alerts, machines, indicators, advancedqueries...).
// perWindow <= 0 turns quotas off (the default). Every call starts fresh windows. This is a
// coarser knob than MDE's own per-API limits, which SetEnforceLimits turns on; both apply.
func (e *Emulator) SetQuota(perWindow int, window time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if window <= 0 {
		window = time.Minute
	}
	e.quotaN = perWindow
	e.quotaWindow = window
	e.windows = make(map[quotaKey]*quotaWindow)
}

// Throttle makes the next authenticated API request of tenantID answer 429 with
// Retry-After = retryAfter rounded up to seconds, once. Unknown tenants are ignored.
func (e *Emulator) Throttle(tenantID string, retryAfter time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tenants[strings.ToLower(tenantID)]; t != nil {
		t.throttle = &retryAfter
	}
}

// SetNextLinkBase sets the base URL put in @odata.nextLink and @odata.context, e.g.
// "https://api-us3.securitycenter.microsoft.com" to test link rewriting. "" (the default)
// means the URL of the region that served the request.
func (e *Emulator) SetNextLinkBase(base string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextLinkBase = strings.TrimSuffix(base, "/")
}

// SetGzip turns gzip compression of API answers on or off. When on (the default) answers
// with a body are sent with Content-Encoding: gzip if the request's Accept-Encoding allows
// gzip.
func (e *Emulator) SetGzip(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gzip = on
}

// TokenRequests returns how many requests reached the token endpoint for tenantID (an ID,
// "<name>.onmicrosoft.com", or any other path segment), successful or not.
func (e *Emulator) TokenRequests(tenantID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tokenCounts[e.tenantKeyLocked(tenantID)]
}

// DiscoveryRequests returns how many OpenID configuration documents were requested for
// tenantID, successful or not.
func (e *Emulator) DiscoveryRequests(tenantID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.discCounts[e.tenantKeyLocked(tenantID)]
}

// tenantKeyLocked maps a tenant path segment to the key of the request counters: the tenant
// ID when the segment names a known tenant, else the lowercased segment.
func (e *Emulator) tenantKeyLocked(seg string) string {
	seg = strings.ToLower(seg)
	if t := e.tenants[seg]; t != nil {
		return t.id
	}
	return seg
}

// Requests returns a copy of every API request received so far by the region listeners, in
// arrival order.
func (e *Emulator) Requests() []Seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Seen, len(e.seen))
	for i, s := range e.seen {
		out[i] = *s
		out[i].Header = s.Header.Clone()
		out[i].Body = bytes.Clone(s.Body)
	}
	return out
}

// ResetRequests forgets the requests recorded so far.
func (e *Emulator) ResetRequests() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = nil
}

// Isolations returns how many POST /api/machines/{id}/isolate succeeded for tenantID.
func (e *Emulator) Isolations(tenantID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tenants[strings.ToLower(tenantID)]; t != nil {
		return t.isolations
	}
	return 0
}

// Throttled returns how many 429 answers the API has given.
func (e *Emulator) Throttled() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.throttled
}

// logWriter adapts Logf to the io.Writer an http.Server's ErrorLog needs.
type logWriter func(format string, args ...any)

func (l logWriter) Write(p []byte) (int, error) {
	l("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = logWriter(nil)

// GraphURL returns the base URL "https://127.0.0.1:PORT" of the Graph listener, which serves
// /v1.0/security/... and /beta/security/... (and nothing else of Graph); a gateway's Graph
// host points here.
func (e *Emulator) GraphURL() string { return e.graph.url }

// SetGraphLinkBase sets the base URL put in Graph answers' @odata.nextLink and
// @odata.context, e.g. "https://graph.microsoft.com" to test link rewriting. "" (the default)
// means GraphURL().
func (e *Emulator) SetGraphLinkBase(base string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.graphLinkBase = strings.TrimSuffix(base, "/")
}

// baseURL returns the base URL for links in answers served by region r.
func (e *Emulator) baseURL(r *region) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r == e.graph {
		if e.graphLinkBase != "" {
			return e.graphLinkBase
		}
		return r.url
	}
	if e.nextLinkBase != "" {
		return e.nextLinkBase
	}
	return r.url
}
