package config

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mdegate/mdegate/internal/intercept"
	"github.com/mdegate/mdegate/internal/tokenendpoint"
	"github.com/mdegate/mdegate/routing"
)

// DefaultShutdownTimeout is shutdown_timeout when unset: how long in-flight calls may run
// after SIGTERM/SIGINT.
const DefaultShutdownTimeout = 30 * time.Second

// Config is mdegate.yaml. Zero values mean "the default" as documented on each field.
//
// A Config is built in four steps: defaults, ${VAR} expansion and unmarshalling over the
// defaults (Parse), resolve (reads the files the config names into Resolved) and validate
// (pure checks). Every problem found is reported at once in an *Error.
type Config struct {
	// Listen is where the plain-HTTP listener binds: host:port, or unix:/absolute/path (reserved
	// for a Unix socket). When the key is absent it is 127.0.0.1:8080 (loopback only); an empty
	// value is an error.
	Listen string `yaml:"listen"`
	// AdminListen is where /healthz, /readyz and /metrics are served, host:port. Unset: on
	// Listen, ahead of the proxy. Set it when Listen is exposed beyond the host.
	AdminListen string `yaml:"admin_listen"`
	// ShutdownTimeout is how long in-flight calls may run after SIGTERM/SIGINT before they are
	// cancelled. Zero means DefaultShutdownTimeout (30 s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// WatchConfig reloads the configuration when its file changes (as SIGHUP does). Unset:
	// true.
	WatchConfig bool `yaml:"watch_config"`
	// Log selects the log level and format. Unset: info; console on a terminal, else json.
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
	// Tracing exports OpenTelemetry spans of each call (tracing.go). Unset: off.
	Tracing TracingConfig `yaml:"tracing"`
	// TokenEndpoint is the gateway's Entra-compatible token endpoint (token_endpoint.go).
	// Unset: off.
	TokenEndpoint TokenEndpointConfig `yaml:"token_endpoint"`
	// Intercept is the HTTPS proxy mode (intercept.go). Unset: off; CONNECT is refused.
	Intercept InterceptConfig `yaml:"intercept"`
	// Consent is the consent landing page's state key (consent.go). Unset: a key made at start.
	Consent ConsentConfig `yaml:"consent"`

	// Name is what messages call the configuration: the name given to Parse (the path for
	// Load). Not a YAML key.
	Name string `yaml:"-"`
	// File is the file Load read, which a reload reads again; "" when the configuration did
	// not come from a file (Parse, or a Config built in code). Not a YAML key.
	File string `yaml:"-"`
	// Sum is the SHA-256 of the content Parse read, by which a reload tells whether the file
	// changed. Not a YAML key.
	Sum [32]byte `yaml:"-"`
	// Resolved holds what the configuration's names and files resolve to, filled by Parse
	// and Check once every problem is ruled out. Not a YAML key.
	Resolved Resolved `yaml:"-"`
}

// Resolved is what a valid configuration's names and files resolve to.
type Resolved struct {
	// Cloud is the built-in facts of cloud.name with cloud.login_endpoint and cloud.regions
	// applied, without trailing slashes.
	Cloud routing.Cloud
	// CAPEM is the content of cloud.ca_file; nil when unset. A Config built in code may set it
	// before Check (as `mdegate demo` hands over its emulator's CA) and it is kept when
	// cloud.ca_file is unset.
	CAPEM []byte
	// App is the top-level app's credential.
	App Credential
	// TenantApps are the credentials of the tenants with an app of their own, by index in
	// Tenants.
	TenantApps map[int]Credential
	// ClientCAs is tls.client_ca_file's pool; nil when unset.
	ClientCAs *x509.CertPool
	// ACMERoots is tls.acme.ca_root_file's pool; nil when unset (the system roots).
	ACMERoots *x509.CertPool
	// SigningKey is token_endpoint.signing_key_file's key; nil when unset.
	SigningKey *tokenendpoint.SigningKey
	// InterceptCA is the CA of intercept.ca_cert_file and ca_key_file; nil when unset.
	InterceptCA *intercept.CA
	// ConsentKey is consent.state_key (or its file) decoded; nil when unset.
	ConsentKey []byte
}

func defaults() Config {
	return Config{
		Listen:  "127.0.0.1:8080",
		Log:     LogConfig{Level: "info"}, // Format "": console on a terminal, else json
		Cloud:   CloudConfig{Name: "public"},
		Routing: RoutingConfig{TenantHeader: "X-Tenant-ID", Region: routing.Global},

		ShutdownTimeout: DefaultShutdownTimeout,
		WatchConfig:     true,
	}
}

// Load reads the configuration file at path and returns it with the SHA-256 of the file's
// content, by which a reload tells whether the file changed. Problems in its content are
// reported as an *Error; the hash is returned whenever the file could be read.
func Load(path string) (*Config, [32]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("config: %w", err)
	}
	sum := sha256.Sum256(data)
	cfg, err := Parse(bytes.NewReader(data), path)
	if cfg != nil {
		cfg.File = path
	}
	return cfg, sum, err
}

// Parse reads a configuration from r; name only names it in messages. It applies the
// defaults, expands ${VAR} in string values, unmarshals over the defaults, reads the files the
// configuration names, and validates. Any problem, in the YAML or in the values, is reported
// together with all the others in an *Error.
func Parse(r io.Reader, name string) (*Config, error) {
	cfg := defaults()
	cfg.Name = name
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg.Sum = sha256.Sum256(data)
	fail := func(ps []Problem) (*Config, error) {
		sortProblems(ps)
		return nil, &Error{Path: name, Problems: ps}
	}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
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
	res, found := cfg.complete()
	for _, p := range found {
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
	cfg.Resolved = res
	cfg.normalize()
	return &cfg, nil
}

// Check completes and checks a Config built in code (as tests and tools do) the way Parse
// does after decoding: empty values take their defaults, the files it names are read into
// Resolved, and every problem is reported in an *Error.
func (c *Config) Check() error {
	res, ps := c.complete()
	if len(ps) > 0 {
		return &Error{Path: c.Name, Problems: ps} // no lines to order by: in the order found
	}
	c.Resolved = res
	c.normalize()
	return nil
}

// complete fills empty values with their defaults, resolves the files the config names and
// validates it, returning what it resolved and every problem found.
func (c *Config) complete() (Resolved, []Problem) {
	c.fillDefaults()
	c.defaultFederated(os.Getenv("AZURE_FEDERATED_TOKEN_FILE"))
	var ps problems
	res := c.resolve(&ps)
	c.validate(&ps)
	return res, ps
}

// fillDefaults replaces empty values with their defaults, so that a Config built in code and
// an explicit `key: ""` mean the same as a missing key. Listen is left alone: empty is an error.
func (c *Config) fillDefaults() {
	d := defaults()
	setIfEmpty := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setIfEmpty(&c.Log.Level, d.Log.Level)
	setIfEmpty(&c.Cloud.Name, d.Cloud.Name)
	setIfEmpty(&c.Routing.TenantHeader, d.Routing.TenantHeader)
	setIfEmpty(&c.Routing.Region, d.Routing.Region)
}

// resolve reads the files the configuration names (CA roots, secrets, certificates). A
// problem message names the key and the path, never the content.
func (c *Config) resolve(ps *problems) Resolved {
	res := Resolved{CAPEM: c.Resolved.CAPEM}
	res.Cloud, _ = c.Cloud.resolved()
	if pem := c.Cloud.readCA(ps); pem != nil {
		res.CAPEM = pem
	}
	res.App = c.App.resolve("app", ps)
	for i, t := range c.Tenants {
		if t.App != nil {
			if res.TenantApps == nil {
				res.TenantApps = map[int]Credential{}
			}
			res.TenantApps[i] = t.App.resolve(fmt.Sprintf("tenants[%d].app", i), ps)
		}
	}
	res.ClientCAs, res.ACMERoots = c.TLS.resolve(ps)
	res.SigningKey = c.TokenEndpoint.resolve(ps)
	res.InterceptCA = c.Intercept.resolve(ps)
	res.ConsentKey = c.Consent.resolve(ps)
	return res
}

// validate checks the values, section by section; it reads no files. Every problem is
// reported, each naming its key (Line is left 0 for the caller to fill). It expects
// fillDefaults to have run.
func (c *Config) validate(ps *problems) {
	c.validateListen(ps)
	c.Cloud.validate(ps)
	c.App.validate("app", ps)
	c.validateRouting(ps)
	c.validateTenants(ps)
	c.validateLimits(ps)
	c.validateClients(ps)
	c.TLS.validate(ps)
	c.validateAnonymous(ps)
	c.validateExternal(ps)
	c.Tracing.validate(ps)
	c.TokenEndpoint.validate(ps)
	c.validateIntercept(ps)
}

// normalize completes a valid Config: the default scope, lowercase IDs.
func (c *Config) normalize() {
	scope := c.Resolved.Cloud.Scope
	if c.App.Scope == "" {
		c.App.Scope = scope
	}
	for i := range c.Tenants {
		c.Tenants[i].ID = strings.ToLower(c.Tenants[i].ID)
		if a := c.Tenants[i].App; a != nil && a.Scope == "" {
			a.Scope = scope
		}
	}
}
