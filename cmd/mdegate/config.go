package main

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mdegate/mdegate/routing"
)

// Config is mdegate.yaml. Zero values mean "the default" as documented on each field.
//
// A Config is built in four steps: defaultConfig, ${VAR} expansion and unmarshalling over the
// defaults (ParseConfig), resolve (reads the files the config names) and validate (pure checks).
// Every problem found is reported at once in a *ConfigError.
type Config struct {
	// Listen is where the plain-HTTP listener binds: host:port, or unix:/absolute/path (reserved
	// for a Unix socket). When the key is absent it is 127.0.0.1:8080 (loopback only); an empty
	// value is an error.
	Listen string `yaml:"listen"`
	// AdminListen is where /healthz, /readyz and /metrics are served, host:port. Unset: on
	// Listen, ahead of the proxy. Set it when Listen is exposed beyond the host.
	AdminListen string `yaml:"admin_listen"`
	// ShutdownTimeout is how long in-flight calls may run after SIGTERM/SIGINT before they are
	// cancelled. Zero means 30 s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// WatchConfig reloads the configuration when its file changes (as SIGHUP does). Unset:
	// true.
	WatchConfig bool `yaml:"watch_config"`
	// Log selects the log level and format. Unset: info, json.
	Log LogConfig `yaml:"log"`
	// Cloud selects the Microsoft cloud and any endpoint overrides. Unset: the public cloud with
	// its built-in hosts.
	Cloud CloudConfig `yaml:"cloud"`
	// App is the partner's multi-tenant Entra application. Required: a client ID and exactly
	// one credential.
	App AppConfig `yaml:"app"`
	// Routing says how a request names its tenant and which region serves it. Unset: header
	// X-Tenant-ID, region global.
	Routing RoutingConfig `yaml:"routing"`
	// Tenants are the customer tenants the gateway serves. At least one is required; requests
	// for tenants not listed here are refused.
	Tenants []TenantConfig `yaml:"tenants"`
	// Limits bound what the gateway waits for. Unset: the defaults documented on each field.
	Limits LimitsConfig `yaml:"limits"`
	// Clients are the callers allowed to use the gateway (clients.go). Unset: every caller is
	// anonymous, so the listeners must be loopback or a Unix socket unless AllowAnonymous.
	Clients []ClientConfig `yaml:"clients"`
	// AllowAnonymous lets a gateway without clients listen on a non-loopback address. Unset:
	// false, and such a configuration is refused.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// TLS is the HTTPS listener (tls.go). Unset: none, only the plain listener.
	TLS TLSConfig `yaml:"tls"`
	// PublicURL is the gateway's external base URL (http or https, optional path), which
	// links in MDE's answers are rewritten to. Unset: derived from each request's Host and
	// TLS, and X-Forwarded-Proto/Host from TrustedProxies.
	PublicURL string `yaml:"public_url"`
	// TrustedProxies are the CIDR prefixes (or single addresses) of proxies whose
	// X-Forwarded-Proto and X-Forwarded-Host are believed. Unset: nobody's.
	TrustedProxies []string `yaml:"trusted_proxies"`

	path string // file it came from, for messages ("" for a reader)
	file string // the file LoadConfig read, which a reload reads again; "" when not from a file
	// quotaMinute is the quota window in place of a minute (withQuotaMinute, for tests); zero
	// means a minute.
	quotaMinute time.Duration
}

// LogConfig is the log section.
type LogConfig struct {
	// Level is the minimum level logged: debug, info, warn or error. Unset: info.
	Level string `yaml:"level"`
	// Format is json (one object per line) or console (human-readable). Unset: json.
	Format string `yaml:"format"`
}

// CloudConfig picks the Microsoft cloud: the login host tokens come from, the API hosts
// requests go to, and the default scope.
type CloudConfig struct {
	// Name is public, gcc, gcc-high or dod. Unset: public.
	Name string `yaml:"name"`
	// LoginEndpoint overrides the cloud's Entra authority host (for example a local emulator at
	// https://127.0.0.1:9443). It must be an https URL without a path: the tenant is appended.
	// Unset: the cloud's own login host.
	LoginEndpoint string `yaml:"login_endpoint"`
	// CAFile is a PEM file of extra root certificates trusted, in addition to the system roots,
	// for all outbound TLS (token endpoint and API). Relative paths are relative to the working
	// directory. Unset: system roots only.
	CAFile string `yaml:"ca_file"`
	// Regions maps a region name to its API base URL (https). When it has any entry it
	// REPLACES the cloud's built-in region table, and must then contain the entry named
	// "global", the fallback endpoint. Unset or empty: the cloud's built-in table.
	Regions map[string]string `yaml:"regions"`

	caPEM []byte        // resolved: content of CAFile, or set directly by `mdegate demo`
	cloud routing.Cloud // resolved: built-in facts of Name, with LoginEndpoint/Regions overrides applied
}

// AppConfig is the partner's multi-tenant Entra application, used for client-credentials
// tokens in every customer tenant. Exactly one of ClientSecret, ClientSecretFile,
// CertificateFile and FederatedTokenFile must be set; when none is, FederatedTokenFile is
// taken from $AZURE_FEDERATED_TOKEN_FILE (AKS workload identity) if that is set.
type AppConfig struct {
	// ClientID is the application (client) ID, a GUID. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the client secret itself, usually "${SOME_ENV_VAR}". Surrounding
	// whitespace is trimmed. Unset: use ClientSecretFile or CertificateFile.
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretFile is a file holding the client secret; surrounding whitespace (such as the
	// trailing newline) is trimmed and the content is never ${VAR}-expanded. Unset: use
	// ClientSecret or CertificateFile.
	ClientSecretFile string `yaml:"client_secret_file"`
	// CertificateFile is an unencrypted PEM file holding the certificate (chain) registered on
	// the app and its RSA private key. Unset: use ClientSecret or ClientSecretFile.
	CertificateFile string `yaml:"certificate_file"`
	// FederatedTokenFile is a file holding a token from an identity provider the app trusts
	// through a federated credential (AKS workload identity, GitHub, another cloud). It is
	// re-read on every token request, so a rotated file is picked up; its content is sent as
	// the client assertion and never logged. Unset: $AZURE_FEDERATED_TOKEN_FILE when no
	// other credential is set, else no federated credential.
	FederatedTokenFile string `yaml:"federated_token_file"`
	// Scope is the scope tokens are requested for; it must end in /.default. Unset: the
	// cloud's, e.g. https://api.securitycenter.microsoft.com/.default for public.
	Scope string `yaml:"scope"`
	// Roles are the application permissions the app was granted (e.g. Alert.Read.All), that
	// `mdegate token` and `mdegate check` expect in every tenant's token. Unset: nothing is
	// expected, and a token without any role is flagged.
	Roles []string `yaml:"roles"`
	// RedirectURI is a reply URL registered on the app, where Entra sends the customer's
	// admin after consenting; `mdegate consent-url` puts it in the links. Unset: the links
	// have none and Entra uses the app's default reply URL.
	RedirectURI string `yaml:"redirect_uri"`

	secret string              // resolved secret (from ClientSecret or the file)
	certs  []*x509.Certificate // resolved from CertificateFile via confidential.CertFromPEM
	key    crypto.PrivateKey
}

// RoutingConfig says how a request names its tenant and where it is sent.
type RoutingConfig struct {
	// TenantHeader is the request header that carries the tenant name or ID; it must be a
	// valid HTTP header name and not one the proxy owns (Authorization, Host, ...). Unset:
	// X-Tenant-ID.
	TenantHeader string `yaml:"tenant_header"`
	// Region is the region for tenants that name none; it must be in the region table, or
	// "auto" for the nearest healthy one. Unset: global.
	Region string `yaml:"region"`
	// ProbeInterval is the time between two rounds of round-trip probes to every endpoint,
	// used by "auto". Unset: 1 minute.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// HostSuffix, such as ".mdegate.local", makes a request to contoso.mdegate.local name the
	// tenant contoso. Unset: the host names no tenant.
	HostSuffix string `yaml:"host_suffix"`
	// DefaultTenant (a tenant's name or ID) serves requests that name no tenant, for a
	// one-tenant sidecar. Unset: such requests get 400 MissingTenant.
	DefaultTenant string `yaml:"default_tenant"`
}

// TenantConfig is one customer tenant.
type TenantConfig struct {
	// Name is an alias a caller may use instead of the ID: letters, digits, '.', '_' and '-',
	// compared case-insensitively, and not GUID-shaped. Required.
	Name string `yaml:"name"`
	// ID is the customer's Entra tenant ID, a GUID. Required; lowercased after loading.
	ID string `yaml:"id"`
	// Region is a name from the region table, or "auto". Unset: Routing.Region.
	Region string `yaml:"region"`
	// App is the Entra app used for this tenant instead of the top-level app, for partners
	// that use several apps; it has the same keys and rules as the top-level app (nothing is
	// inherited from it). Unset: the top-level app.
	App *AppConfig `yaml:"app"`
}

// LimitsConfig bounds what the gateway waits for.
type LimitsConfig struct {
	// UpstreamTimeout bounds the wait for MDE's response headers. Zero means 5 minutes:
	// advanced hunting queries run up to 200 s before their first byte. An answer that has
	// started streaming is never cut.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// Shape turns quota shaping on: each (tenant, API family) gets MDE's limits, and a request
	// over them waits for its slot. Unset: true.
	Shape *bool `yaml:"shape"`
	// MaxWait bounds the wait for a quota slot, and the Retry-After of an MDE 429 the gateway
	// waits out before replaying. Unset: 10 s.
	MaxWait time.Duration `yaml:"max_wait"`
	// Families overrides the limits of API families by name (alerts, machines,
	// advancedqueries, ...). Unset: MDE's documented limits.
	Families map[string]FamilyConfig `yaml:"families"`
	// MaxBody caps a request body, in bytes; a larger one is answered 413. Zero means 10 MiB
	// (10485760); negative means no cap.
	MaxBody int64 `yaml:"max_body"`
	// Redis shares the quota state between gateway replicas (quota_store.go). Unset: each
	// gateway shapes alone, in memory.
	Redis *RedisConfig `yaml:"redis"`
}

func defaultConfig() Config {
	return Config{
		Listen:  "127.0.0.1:8080",
		Log:     LogConfig{Level: "info", Format: "json"},
		Cloud:   CloudConfig{Name: "public"},
		Routing: RoutingConfig{TenantHeader: "X-Tenant-ID", Region: routing.Global},

		ShutdownTimeout: 30 * time.Second,
		WatchConfig:     true,
	}
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Key is the YAML path, like "tenants[1].id" or "cloud.regions.eu"; "" for the file.
	Key string
	// Line is the 1-based line of Key (or of its nearest parent present in the file); 0 when
	// unknown.
	Line int
	// Msg says what is wrong. It never contains a secret.
	Msg string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	// Messages like `unknown key "app.x"` already name their key.
	if p.Key != "" && !strings.Contains(p.Msg, strconv.Quote(p.Key)) {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ConfigError lists every problem found in a configuration, ordered by line, then key.
type ConfigError struct {
	Path     string // the file, "" when read from elsewhere
	Problems []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	if len(e.Problems) == 1 {
		b.WriteString(": 1 problem:")
	} else {
		fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// LoadConfig reads the configuration file at path. Problems in its content are reported as a
// *ConfigError.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f, path)
	if cfg != nil {
		cfg.file = path
	}
	return cfg, err
}

// ParseConfig reads a configuration from r; path only names it in messages. It applies the
// defaults, expands ${VAR} in string values, unmarshals over the defaults, reads the files the
// configuration names, and validates. Any problem, in the YAML or in the values, is reported
// together with all the others in a *ConfigError.
func ParseConfig(r io.Reader, path string) (*Config, error) {
	cfg := defaultConfig()
	cfg.path = path
	fail := func(ps []Problem) (*Config, error) {
		sortProblems(ps)
		return nil, &ConfigError{Path: path, Problems: ps}
	}

	var doc yaml.Node
	dec := yaml.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return fail([]Problem{yamlProblem(err)})
	}
	var w walker
	if root := documentRoot(&doc); root != nil {
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			w.add("", extra.Line, "only one YAML document is allowed")
		} else if !errors.Is(err, io.EOF) {
			w.problems = append(w.problems, yamlProblem(err))
		}
		if root.Kind != yaml.MappingNode {
			w.add("", root.Line, "the file must be a YAML mapping, got "+kindName(root))
			return fail(w.problems)
		}
		w.walk(root, "", reflect.TypeOf(cfg))
		if w.visits > maxNodes {
			return fail(w.problems)
		}
		if err := root.Decode(&cfg); err != nil {
			w.decodeError(err)
		}
	}

	ps := w.problems
	for _, p := range cfg.check() {
		if !w.isBroken(p.Key) {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		for i := range ps {
			if ps[i].Line == 0 {
				ps[i].Line = w.lineOf(ps[i].Key)
			}
		}
		return fail(ps)
	}
	cfg.normalize()
	return &cfg, nil
}

// check fills empty values with their defaults, resolves the files the config names and
// validates it. It is what ParseConfig does after decoding, for a Config built in code (such
// as by `mdegate demo`); call normalize after it reports nothing.
func (c *Config) check() []Problem {
	c.fillDefaults()
	c.defaultFederated(os.Getenv("AZURE_FEDERATED_TOKEN_FILE"))
	ps := append(c.resolve(), c.resolveTLS()...)
	ps = append(ps, c.validate()...)
	return append(ps, c.validateAccess()...)
}

// fillDefaults replaces empty values with their defaults, so that a Config built in code and
// an explicit `key: ""` mean the same as a missing key. Listen is left alone: empty is an error.
func (c *Config) fillDefaults() {
	d := defaultConfig()
	setIfEmpty := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setIfEmpty(&c.Log.Level, d.Log.Level)
	setIfEmpty(&c.Log.Format, d.Log.Format)
	setIfEmpty(&c.Cloud.Name, d.Cloud.Name)
	setIfEmpty(&c.Routing.TenantHeader, d.Routing.TenantHeader)
	setIfEmpty(&c.Routing.Region, d.Routing.Region)
}

// normalize completes a valid Config: the resolved cloud, the default scope, lowercase IDs.
func (c *Config) normalize() {
	c.Cloud.cloud, _ = c.Cloud.resolvedCloud()
	if c.App.Scope == "" {
		c.App.Scope = c.Cloud.cloud.Scope
	}
	for i := range c.Tenants {
		c.Tenants[i].ID = strings.ToLower(c.Tenants[i].ID)
		if a := c.Tenants[i].App; a != nil && a.Scope == "" {
			a.Scope = c.Cloud.cloud.Scope
		}
	}
}

// resolve reads the files the configuration names (CA roots, secret, certificate) into the
// unexported fields. A problem message names the key and the path, never the content.
func (c *Config) resolve() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if f := c.Cloud.CAFile; f != "" {
		data, err := os.ReadFile(f)
		switch {
		case err != nil:
			add("cloud.ca_file", "cannot read %s: %s", f, fileErr(err))
		case !x509.NewCertPool().AppendCertsFromPEM(data):
			add("cloud.ca_file", "%s holds no PEM certificates", f)
		default:
			c.Cloud.caPEM = data
		}
	}

	ps = append(ps, c.App.resolve("app")...)
	for i, t := range c.Tenants {
		if t.App != nil {
			ps = append(ps, t.App.resolve(fmt.Sprintf("tenants[%d].app", i))...)
		}
	}
	return ps
}

// validate checks the values; it reads no files. Every problem is reported, each naming its
// key (Line is left 0 for the caller to fill). It expects fillDefaults to have run: check does
// both.
func (c *Config) validate() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if msg := checkListen(c.Listen); msg != "" {
		add("listen", "%s", msg)
	}
	if !oneOf(c.Log.Level, logLevels) {
		add("log.level", "%q is not a log level (want %s)", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if !oneOf(c.Log.Format, logFormats) {
		add("log.format", "%q is not a log format (want %s)", c.Log.Format, strings.Join(logFormats, ", "))
	}

	if c.AdminListen != "" {
		if msg := checkListen(c.AdminListen); msg != "" {
			add("admin_listen", "%s", msg)
		} else if c.AdminListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			add("admin_listen", "%q is also listen; leave admin_listen unset to serve both on one listener", c.AdminListen)
		}
	}
	if c.ShutdownTimeout < 0 {
		add("shutdown_timeout", "%v is negative", c.ShutdownTimeout)
	}
	if c.Limits.UpstreamTimeout < 0 {
		add("limits.upstream_timeout", "%v is negative", c.Limits.UpstreamTimeout)
	}
	ps = append(ps, c.validateLimits()...)

	// Cloud.
	cloud, known := c.Cloud.resolvedCloud()
	if !known {
		add("cloud.name", "%q is not a known cloud (known: %s)", c.Cloud.Name, strings.Join(routing.CloudNames(), ", "))
	}
	if c.Cloud.LoginEndpoint != "" {
		if msg := checkHTTPSURL(c.Cloud.LoginEndpoint, false); msg != "" {
			add("cloud.login_endpoint", "%s", msg)
		}
	}
	for _, name := range sortedKeys(c.Cloud.Regions) {
		key := "cloud.regions." + name
		if !namePattern.MatchString(name) {
			add(key, "region name %q is invalid (use letters, digits, '.', '_' and '-')", name)
		}
		if msg := checkHTTPSURL(c.Cloud.Regions[name], true); msg != "" {
			add(key, "%s", msg)
		}
	}
	if len(c.Cloud.Regions) > 0 {
		if _, ok := c.Cloud.Regions[routing.Global]; !ok {
			add("cloud.regions", "has no %q entry; it is required when regions are set (the fallback endpoint)", routing.Global)
		}
	}
	// The region table the names below must come from. With an unknown cloud and no regions
	// of its own there is none, and the cloud.name problem already says why.
	checkRegion := func(key, region string) {}
	if known || len(c.Cloud.Regions) > 0 {
		regions := cloud.Regions
		valid := sortedKeys(regions)
		source := "valid"
		if len(c.Cloud.Regions) > 0 {
			source = "valid, from cloud.regions"
		}
		checkRegion = func(key, region string) {
			if _, ok := regions[region]; ok || region == routing.Global || region == routing.Auto {
				return // a missing global is reported once, at cloud.regions
			}
			add(key, "%q is not a region of cloud %s (%s: %s)", region, c.Cloud.Name, source, strings.Join(valid, ", "))
		}
	}

	// App.
	ps = append(ps, c.App.validate("app")...)

	// Routing.
	if h := c.Routing.TenantHeader; !isToken(h) {
		add("routing.tenant_header", "%q is not a valid HTTP header name", h)
	} else if reservedHeaders[strings.ToLower(h)] {
		add("routing.tenant_header", "%q is a header the proxy itself sets or consumes; pick another", h)
	}
	checkRegion("routing.region", c.Routing.Region)
	ps = append(ps, c.validateExternal()...)

	// Tenants.
	if len(c.Tenants) == 0 {
		add("tenants", "none configured; list at least one tenant")
	}
	names := map[string]int{} // lowercase name -> first index
	ids := map[string]int{}   // lowercase id -> first index
	for i, t := range c.Tenants {
		key := fmt.Sprintf("tenants[%d]", i)
		id := strings.ToLower(t.ID)
		switch {
		case t.ID == "":
			add(key+".id", "is required (the customer's Entra tenant ID, a GUID)")
		case !isGUID(t.ID):
			hint := ""
			if strings.Contains(t.ID, ".") {
				hint = " (use the tenant ID, not a domain name)"
			}
			add(key+".id", "%q is not a GUID%s", t.ID, hint)
		default:
			if j, dup := ids[id]; dup {
				add(key+".id", "%q is also the id of tenants[%d]", t.ID, j)
			} else {
				ids[id] = i
			}
		}
		switch {
		case t.Name == "":
			add(key+".name", "is required (an alias callers may use for the tenant)")
		case isGUID(t.Name):
			add(key+".name", "%q looks like a GUID; names must not, so they cannot be mistaken for tenant IDs%s", t.Name, sameAsID(c.Tenants, t.Name))
		case !namePattern.MatchString(t.Name):
			add(key+".name", "%q is invalid (use letters, digits, '.', '_' and '-')", t.Name)
		default:
			if j, dup := names[strings.ToLower(t.Name)]; dup {
				add(key+".name", "%q is also the name of tenants[%d] (names are case-insensitive)", t.Name, j)
			} else {
				names[strings.ToLower(t.Name)] = i
			}
		}
		if t.Region != "" {
			checkRegion(key+".region", t.Region)
		}
		if t.App != nil {
			ps = append(ps, t.App.validate(key+".app")...)
		}
	}
	return ps
}

// sameAsID says which tenant, if any, has the given name as its ID.
func sameAsID(ts []TenantConfig, name string) string {
	for j, t := range ts {
		if strings.EqualFold(t.ID, name) {
			return fmt.Sprintf(" (it is the id of tenants[%d])", j)
		}
	}
	return ""
}

// resolvedCloud returns the built-in facts of c.Name with the LoginEndpoint and Regions
// overrides applied; known is false when Name is not a known cloud (then only the overrides
// are filled in). Trailing slashes are dropped from the URLs.
func (c *CloudConfig) resolvedCloud() (cloud routing.Cloud, known bool) {
	cloud, known = routing.LookupCloud(c.Name)
	if c.LoginEndpoint != "" {
		cloud.LoginEndpoint = strings.TrimSuffix(c.LoginEndpoint, "/")
	}
	if len(c.Regions) > 0 {
		cloud.Regions = make(map[string]string, len(c.Regions))
		for name, u := range c.Regions {
			cloud.Regions[name] = strings.TrimSuffix(u, "/")
		}
	}
	return cloud, known
}

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "console"}

	namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	guidPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

	// reservedHeaders are request headers the proxy sets, strips or relies on, so a client
	// cannot use them to name its tenant.
	reservedHeaders = map[string]bool{
		"authorization": true, "proxy-authorization": true, "host": true, "connection": true,
		"content-length": true, "content-type": true, "transfer-encoding": true, "te": true,
		"trailer": true, "upgrade": true, "keep-alive": true, "proxy-connection": true,
	}
)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 token, the syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkListen returns what is wrong with a listen address, or "".
func checkListen(s string) string {
	const want = "host:port or unix:/path (e.g. 127.0.0.1:8080)"
	if s == "" {
		return "is empty; want " + want
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if !filepath.IsAbs(p) {
			return fmt.Sprintf("%q: the socket path must be absolute", s)
		}
		return ""
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not %s", s, want)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	return ""
}

// checkHTTPSURL returns what is wrong with an https base URL, or "". Without allowPath only
// "" or "/" is accepted as the path.
func checkHTTPSURL(raw string, allowPath bool) string { return checkBaseURL(raw, false, allowPath) }

// checkBaseURL returns what is wrong with a base URL, or "": https (or http with allowHTTP),
// a host, no user info, query or fragment, and a path only with allowPath. The value is quoted
// with any user info redacted, and an unparsable one is not quoted at all: it may hold a
// password.
func checkBaseURL(raw string, allowHTTP, allowPath bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("is not a valid URL: %v", err)
	}
	shown := strconv.Quote(u.Redacted())
	switch {
	case allowHTTP && u.Scheme != "http" && u.Scheme != "https":
		return shown + " is not an http or https URL"
	case !allowHTTP && u.Scheme != "https":
		return shown + " is not an https URL"
	case u.Host == "":
		return shown + " has no host"
	case u.User != nil:
		return shown + " must not contain user info"
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return shown + " must not have a query or fragment"
	case !allowPath && u.Path != "" && u.Path != "/":
		return shown + " must not have a path (the tenant is appended to it)"
	}
	return ""
}

// fileErr is the short reason a file could not be read, without repeating its path.
func fileErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Key < ps[j].Key
	})
}

// The YAML tree walk.

// maxNodes bounds the walk, which follows aliases, against alias bombs.
const maxNodes = 1_000_000

// walker checks a YAML tree against the Go type it will be decoded into, before decoding. It
// records the line of every key path, reports unknown keys, duplicate keys and values of the
// wrong kind, and expands ${VAR} in scalar values. A value of the wrong kind is replaced by an
// empty one, so decoding keeps the defaults and list indexes still match the file.
type walker struct {
	problems []Problem
	lines    map[string]int // key path -> line of its key (or list item)
	broken   []string       // key paths whose value was unusable; checks on them are moot
	expanded map[*yaml.Node]bool
	active   map[*yaml.Node]bool // alias targets being walked, to stop cycles
	visits   int
}

func (w *walker) add(key string, line int, msg string) {
	w.problems = append(w.problems, Problem{Key: key, Line: line, Msg: msg})
}

func (w *walker) setLine(key string, line int) {
	if w.lines == nil {
		w.lines = map[string]int{}
	}
	if _, ok := w.lines[key]; !ok {
		w.lines[key] = line
	}
}

// lineOf returns the line of key, or of its nearest ancestor present in the file, or 0.
func (w *walker) lineOf(key string) int {
	for key != "" {
		if l, ok := w.lines[key]; ok {
			return l
		}
		if i := strings.LastIndexAny(key, ".["); i >= 0 {
			key = key[:i]
		} else {
			key = ""
		}
	}
	return 0
}

// isBroken reports whether key is, or is under, a key whose value was unusable.
func (w *walker) isBroken(key string) bool {
	for _, b := range w.broken {
		if key == b || strings.HasPrefix(key, b+".") || strings.HasPrefix(key, b+"[") {
			return true
		}
	}
	return false
}

func (w *walker) walk(n *yaml.Node, path string, t reflect.Type) {
	if w.visits++; w.visits > maxNodes {
		if w.visits == maxNodes+1 {
			w.add(path, n.Line, "the document is too large (too many nodes or aliases)")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil || w.active[target] {
			w.add(path, n.Line, "alias refers to itself")
			w.broken = append(w.broken, path)
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
			return
		}
		if w.active == nil {
			w.active = map[*yaml.Node]bool{}
		}
		w.active[target] = true
		defer delete(w.active, target)
		n = target
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}

	switch t.Kind() {
	case reflect.Struct:
		if isNull(n) {
			// A null where a struct goes would make yaml drop a list item and shift the
			// indexes; an empty mapping keeps the defaults just the same.
			*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
			return
		}
		if !w.wantKind(n, path, yaml.MappingNode, "a mapping") {
			return
		}
		fields, names := yamlFields(t)
		w.mapping(n, path, func(key string) (reflect.Type, bool) {
			ft, ok := fields[key]
			return ft, ok
		}, names)
	case reflect.Map:
		if isNull(n) || !w.wantKind(n, path, yaml.MappingNode, "a mapping") {
			return
		}
		w.mapping(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true }, nil)
	case reflect.Slice, reflect.Array:
		if isNull(n) || !w.wantKind(n, path, yaml.SequenceNode, "a list") {
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.setLine(p, item.Line)
			w.walk(item, p, t.Elem())
		}
	case reflect.Interface:
		w.expandAll(n, path)
	default:
		if !w.wantKind(n, path, yaml.ScalarNode, scalarName(t)) {
			return
		}
		w.expand(n, path)
		// Decode the value alone, so that a bad one (`!!int abc`, or text for a number) is
		// reported with its key, and cannot abort decoding the rest of the file. yaml's own
		// message would quote the value, which may be a secret.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			msg := "expected " + scalarName(t)
			if n.Style&yaml.TaggedStyle != 0 {
				msg += ", got a value whose " + n.ShortTag() + " tag does not fit it"
			}
			w.add(path, n.Line, msg)
			w.broken = append(w.broken, path)
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
	}
}

// wantKind reports whether n is of the wanted kind; if not, it reports a problem and empties
// n so decoding neither fails nor shifts list indexes.
func (w *walker) wantKind(n *yaml.Node, path string, kind yaml.Kind, want string) bool {
	if n.Kind == kind {
		return true
	}
	w.add(path, n.Line, fmt.Sprintf("expected %s, got %s", want, kindName(n)))
	w.broken = append(w.broken, path)
	empty := yaml.Node{Kind: kind, Line: n.Line, Column: n.Column}
	switch kind {
	case yaml.MappingNode:
		empty.Tag = "!!map"
	case yaml.SequenceNode:
		empty.Tag = "!!seq"
	default:
		empty.Tag = "!!null" // leaves the default in place
	}
	*n = empty
	return false
}

// mapping walks the entries of a mapping node. field returns the type of a key's value, or
// false for an unknown key; known lists the valid keys for suggestions (nil for a Go map).
func (w *walker) mapping(n *yaml.Node, path string, field func(string) (reflect.Type, bool), known []string) {
	seen := map[string]int{}
	var merges []*yaml.Node
	kept := n.Content[:0] // duplicate keys are dropped, or yaml would drop the whole mapping
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			kept = append(kept, k, v)
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.add(path, k.Line, "mapping keys must be plain strings")
			continue
		}
		p := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.add(p, k.Line, fmt.Sprintf("duplicate key (first at line %d)", first))
			continue
		}
		kept = append(kept, k, v)
		seen[k.Value] = k.Line
		ft, ok := field(k.Value)
		if !ok {
			w.add(p, k.Line, fmt.Sprintf("unknown key %q%s", p, suggest(k.Value, known)))
			continue
		}
		w.setLine(p, k.Line)
		w.walk(v, p, ft)
	}
	n.Content = kept
	// Merged entries (<<: *anchor) come last: the mapping's own keys take precedence.
	for _, m := range merges {
		if m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		switch m.Kind {
		case yaml.MappingNode:
			w.mapping(m, path, field, known)
		case yaml.SequenceNode:
			for _, item := range m.Content {
				if item.Kind == yaml.AliasNode && item.Alias != nil {
					item = item.Alias
				}
				if item.Kind == yaml.MappingNode {
					w.mapping(item, path, field, known)
				}
			}
		}
	}
}

// envRef is the only expansion form: ${NAME}. A lone $ is left alone.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${NAME} in a scalar value with the environment variable's value. When a
// variable is unset, the value is left as written and the key is reported by name only.
func (w *walker) expand(n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || w.expanded[n] || !strings.Contains(n.Value, "${") {
		return
	}
	if w.expanded == nil {
		w.expanded = map[*yaml.Node]bool{}
	}
	w.expanded[n] = true
	var missing []string
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		msg := "environment variable " + missing[0] + " is not set"
		if len(missing) > 1 {
			msg = "environment variables " + joinAnd(missing) + " are not set"
		}
		w.add(path, n.Line, msg)
		w.broken = append(w.broken, path)
		return
	}
	n.Value = out
	n.Tag = "!!str" // an expanded value is a string whatever it looks like
}

// expandAll expands every scalar value under n, for values of no fixed type.
func (w *walker) expandAll(n *yaml.Node, path string) {
	if w.visits++; w.visits > maxNodes {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		w.expand(n, path)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			w.expandAll(item, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.expandAll(n.Content[i+1], joinKey(path, n.Content[i].Value))
		}
	}
}

// yamlLine matches the "line N: " that yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlValue matches the value yaml.v3 quotes in backticks in its messages: it may be (the
// start of) a secret, so it is cut out.
var yamlValue = regexp.MustCompile("\\s?`[^`]*`")

// decodeError turns what Node.Decode reports into problems. Kinds the walk already reported
// on the same line are skipped.
func (w *walker) decodeError(err error) {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	reported := map[int]bool{}
	for _, p := range w.problems {
		reported[p.Line] = true
	}
	for _, m := range msgs {
		m = yamlValue.ReplaceAllString(m, "")
		line := 0
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			m = sm[2]
		}
		if line > 0 && reported[line] {
			continue
		}
		w.add(w.keyAt(line), line, strings.TrimPrefix(m, "yaml: "))
	}
}

// keyAt returns the deepest key path recorded at line, or "".
func (w *walker) keyAt(line int) string {
	best := ""
	for k, l := range w.lines {
		if l == line && (len(k) > len(best) || len(k) == len(best) && k < best) {
			best = k
		}
	}
	return best
}

// yamlProblem turns a YAML syntax error into a problem with its line.
func yamlProblem(err error) Problem {
	m := yamlValue.ReplaceAllString(err.Error(), "")
	if sm := yamlLine.FindStringSubmatch(m); sm != nil {
		line, _ := strconv.Atoi(sm[1])
		return Problem{Line: line, Msg: "invalid YAML: " + sm[2]}
	}
	return Problem{Msg: "invalid YAML: " + strings.TrimPrefix(m, "yaml: ")}
}

// documentRoot returns the top node of a parsed document, or nil for an empty one.
func documentRoot(doc *yaml.Node) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == 0 || isNull(n) {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a single value"
	}
}

func scalarName(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "a duration such as 30s or 5m"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a single value"
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to their value types, as yaml.v3 names them:
// the tag's name, or the lowercased field name; "-" and unexported fields are skipped and
// ",inline" structs contribute their own keys. names is the sorted list of keys.
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, names []string) {
	fields = map[string]reflect.Type{}
	var collect func(t reflect.Type)
	collect = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
				collect(f.Type)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fields[name] = f.Type
		}
	}
	collect(t)
	return fields, sortedKeys(fields)
}

// suggest returns ` (did you mean "x"?)` for the closest known key, or the list of known keys.
func suggest(key string, known []string) string {
	if len(known) == 0 {
		return ""
	}
	best, bestDist := "", 3 // suggest only within an edit distance of 2
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Damerau–Levenshtein (optimal string alignment) distance of a and b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
