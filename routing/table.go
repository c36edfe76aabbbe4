package routing

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Endpoint is one regional API host.
type Endpoint struct {
	// Region is the endpoint's name in the region table ("global", "eu", ...).
	Region string
	// URL is the base URL requests are forwarded to: scheme, host and an optional path prefix.
	URL *url.URL

	health // passive health and the last probe, updated atomically (health.go)
}

// Tenant is a customer tenant the gateway may call.
type Tenant struct {
	// Name is the alias callers use, as configured.
	Name string
	// ID is the Entra tenant ID, a lowercase GUID.
	ID string
	// Endpoint is the endpoint the tenant is pinned to. For an Auto tenant it is the global
	// endpoint, the start-up choice before any probe; requests use Table.Pick, which also
	// knows the fallbacks.
	Endpoint *Endpoint
	// Auto is true when the tenant's region is "auto": the nearest healthy endpoint.
	Auto bool

	pinned []*Endpoint // candidates of a pinned tenant: its endpoint, then global
}

// TenantOptions describe one tenant.
type TenantOptions struct {
	// Name is the tenant's alias. Required.
	Name string
	// ID is the tenant's Entra ID, a GUID. Required.
	ID string
	// Region names an entry of Options.Regions, or Auto; "" means Options.DefaultRegion.
	Region string
}

// Options build a Table.
type Options struct {
	// Regions maps region names to base URLs. It must hold Global.
	Regions map[string]string
	// DefaultRegion is the region of tenants that name none, or Auto. "" means Global.
	DefaultRegion string
	// Tenants are the tenants the table resolves; none means every lookup fails.
	Tenants []TenantOptions
	// CoolDown is the first cool-down of an endpoint marked down; each further consecutive
	// failure doubles it up to MaxCoolDown. Zero means 2 s.
	CoolDown time.Duration
	// MaxCoolDown caps the cool-down. Zero means 2 minutes.
	MaxCoolDown time.Duration
	// Now is the clock of the health state. Nil means time.Now.
	Now func() time.Time
}

// Table resolves tenants. It is immutable and safe for concurrent use.
type Table struct {
	byKey     map[string]*Tenant // lowercase alias and lowercase ID -> tenant
	tenants   []*Tenant
	endpoints map[string]*Endpoint
	global    *Endpoint

	// auto is the preference order of Auto tenants: the nearest endpoint first (with
	// hysteresis), then the others by round trip. Replaced whole by SetProbes; read per request
	// without a lock.
	auto atomic.Pointer[[]*Endpoint]

	coolDown, maxCoolDown time.Duration
	now                   func() time.Time
}

// ErrUnknownTenant is returned by Resolve for a name that is neither a configured alias nor a
// configured tenant ID.
var ErrUnknownTenant = errors.New("unknown tenant")

// New builds a Table. Options are expected to be validated already (the config loader names
// the YAML keys); New still refuses what would make the table ambiguous.
func New(opts Options) (*Table, error) {
	t := &Table{
		byKey:       make(map[string]*Tenant, 2*len(opts.Tenants)),
		tenants:     make([]*Tenant, 0, len(opts.Tenants)),
		endpoints:   make(map[string]*Endpoint, len(opts.Regions)),
		coolDown:    opts.CoolDown,
		maxCoolDown: opts.MaxCoolDown,
		now:         opts.Now,
	}
	if t.coolDown <= 0 {
		t.coolDown = 2 * time.Second
	}
	if t.maxCoolDown <= 0 {
		t.maxCoolDown = 2 * time.Minute
	}
	if t.now == nil {
		t.now = time.Now
	}
	if _, ok := opts.Regions[Global]; !ok {
		return nil, fmt.Errorf("routing: the region table has no %q entry", Global)
	}
	for name, raw := range opts.Regions {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("routing: region %q: %q is not an https URL", name, raw)
		}
		t.endpoints[name] = &Endpoint{Region: name, URL: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimRight(u.Path, "/")}}
	}
	if _, ok := opts.Regions[Auto]; ok {
		return nil, fmt.Errorf("routing: %q is reserved for the nearest region and cannot name an endpoint", Auto)
	}
	t.global = t.endpoints[Global]
	t.auto.Store(initialOrder(t.endpoints))
	def := opts.DefaultRegion
	if def == "" {
		def = Global
	}
	if _, ok := t.endpoints[def]; !ok && def != Auto {
		return nil, fmt.Errorf("routing: default region %q is not in the region table", def)
	}
	for _, to := range opts.Tenants {
		region := to.Region
		if region == "" {
			region = def
		}
		tn := &Tenant{Name: to.Name, ID: strings.ToLower(to.ID), Endpoint: t.global, Auto: region == Auto}
		if !tn.Auto {
			ep, ok := t.endpoints[region]
			if !ok {
				return nil, fmt.Errorf("routing: tenant %q: region %q is not in the region table", to.Name, region)
			}
			tn.Endpoint = ep
			tn.pinned = []*Endpoint{ep}
			if ep != t.global {
				tn.pinned = append(tn.pinned, t.global)
			}
		}
		for _, k := range []string{strings.ToLower(to.Name), tn.ID} {
			if prev, dup := t.byKey[k]; dup && prev != tn {
				return nil, fmt.Errorf("routing: tenant %q: %q is also tenant %q", to.Name, k, prev.Name)
			}
			t.byKey[k] = tn
		}
		t.tenants = append(t.tenants, tn)
	}
	return t, nil
}

// Resolve finds a tenant by alias or GUID, case-insensitively. It allocates only when the key
// has upper-case letters.
func (t *Table) Resolve(key string) (*Tenant, error) {
	if tn, ok := t.byKey[key]; ok {
		return tn, nil
	}
	if lower := strings.ToLower(key); lower != key {
		if tn, ok := t.byKey[lower]; ok {
			return tn, nil
		}
	}
	return nil, ErrUnknownTenant
}

// Names reports whether key names the tenant with this alias and ID the way Resolve matches
// it: either one, case-insensitively. It is for code that has no Table yet, such as the
// configuration's checks, so that both agree.
func Names(alias, id, key string) bool {
	return strings.EqualFold(alias, key) || strings.EqualFold(id, key)
}

// Tenants lists the configured tenants in configuration order.
func (t *Table) Tenants() []*Tenant { return t.tenants }

// Endpoints lists the region table's endpoints, sorted by region name.
func (t *Table) Endpoints() []*Endpoint {
	eps := make([]*Endpoint, 0, len(t.endpoints))
	for _, ep := range t.endpoints {
		eps = append(eps, ep)
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Region < eps[j].Region })
	return eps
}
