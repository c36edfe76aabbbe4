package routing

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Endpoint is one regional API host.
type Endpoint struct {
	// Region is the endpoint's name in the region table ("global", "eu", ...).
	Region string
	// URL is the base URL requests are forwarded to: scheme, host and an optional path prefix.
	URL *url.URL
}

// Tenant is a customer tenant the gateway may call.
type Tenant struct {
	// Name is the alias callers use, as configured.
	Name string
	// ID is the Entra tenant ID, a lowercase GUID.
	ID string
	// Endpoint is where this tenant's calls go.
	Endpoint *Endpoint
}

// TenantOptions describe one tenant.
type TenantOptions struct {
	Name string
	ID   string
	// Region names an entry of Options.Regions; "" means Options.DefaultRegion.
	Region string
}

// Options build a Table.
type Options struct {
	// Regions maps region names to base URLs. It must hold Global.
	Regions map[string]string
	// DefaultRegion is the region of tenants that name none. "" means Global.
	DefaultRegion string
	Tenants       []TenantOptions
}

// Table resolves tenants. It is immutable and safe for concurrent use.
type Table struct {
	byKey     map[string]*Tenant // lowercase alias and lowercase ID -> tenant
	tenants   []*Tenant
	endpoints map[string]*Endpoint
}

// ErrUnknownTenant is returned by Resolve for a name that is neither a configured alias nor a
// configured tenant ID.
var ErrUnknownTenant = errors.New("unknown tenant")

// New builds a Table. Options are expected to be validated already (the config loader names
// the YAML keys); New still refuses what would make the table ambiguous.
func New(opts Options) (*Table, error) {
	t := &Table{
		byKey:     make(map[string]*Tenant, 2*len(opts.Tenants)),
		tenants:   make([]*Tenant, 0, len(opts.Tenants)),
		endpoints: make(map[string]*Endpoint, len(opts.Regions)),
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
	def := opts.DefaultRegion
	if def == "" {
		def = Global
	}
	if _, ok := t.endpoints[def]; !ok {
		return nil, fmt.Errorf("routing: default region %q is not in the region table", def)
	}
	for _, to := range opts.Tenants {
		region := to.Region
		if region == "" {
			region = def
		}
		ep, ok := t.endpoints[region]
		if !ok {
			return nil, fmt.Errorf("routing: tenant %q: region %q is not in the region table", to.Name, region)
		}
		tn := &Tenant{Name: to.Name, ID: strings.ToLower(to.ID), Endpoint: ep}
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
