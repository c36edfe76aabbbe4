package config

import (
	"crypto/x509"
	"errors"
	"os"
	"strings"

	"github.com/mdegate/mdegate/routing"
)

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
	// Graph overrides the cloud's Microsoft Graph host, where /v1.0/security/... and
	// /beta/security/... are forwarded (an https URL, as for cloud.regions; for an emulator). Unset:
	// the cloud's own (graph.microsoft.com; graph.microsoft.us, dod-graph.microsoft.us).
	Graph string `yaml:"graph"`
}

// resolved returns the built-in facts of c.Name with the LoginEndpoint and Regions
// overrides applied; known is false when Name is not a known cloud (then only the overrides
// are filled in). Trailing slashes are dropped from the URLs.
func (c *CloudConfig) resolved() (cloud routing.Cloud, known bool) {
	cloud, known = routing.LookupCloud(c.Name)
	if c.LoginEndpoint != "" {
		cloud.LoginEndpoint = strings.TrimSuffix(c.LoginEndpoint, "/")
	}
	if c.Graph != "" {
		cloud.Graph = strings.TrimSuffix(c.Graph, "/")
	}
	if len(c.Regions) > 0 {
		cloud.Regions = make(map[string]string, len(c.Regions))
		for name, u := range c.Regions {
			cloud.Regions[name] = strings.TrimSuffix(u, "/")
		}
	}
	return cloud, known
}

// readCA reads cloud.ca_file; nil when unset or unusable.
func (c *CloudConfig) readCA(ps *problems) []byte {
	f := c.CAFile
	if f == "" {
		return nil
	}
	data, err := os.ReadFile(f)
	switch {
	case err != nil:
		ps.add("cloud.ca_file", "cannot read %s: %s", f, fileErr(err))
	case !x509.NewCertPool().AppendCertsFromPEM(data):
		ps.add("cloud.ca_file", "%s holds no PEM certificates", f)
	default:
		return data
	}
	return nil
}

// validate checks the cloud section.
func (c *CloudConfig) validate(ps *problems) {
	if _, known := c.resolved(); !known {
		ps.add("cloud.name", "%q is not a known cloud (known: %s)", c.Name, strings.Join(routing.CloudNames(), ", "))
	}
	if c.LoginEndpoint != "" {
		if msg := checkHTTPSURL(c.LoginEndpoint, false); msg != "" {
			ps.add("cloud.login_endpoint", "%s", msg)
		}
	}
	if c.Graph != "" {
		if msg := checkHTTPSURL(c.Graph, true); msg != "" {
			ps.add("cloud.graph", "%s", msg)
		}
	}
	for _, name := range sortedKeys(c.Regions) {
		key := "cloud.regions." + name
		if !namePattern.MatchString(name) {
			// Not named, nor its URL checked under its key: it may be a secret pasted a line off
			// (issue 14, item 9).
			ps.add("cloud.regions", "has an invalid region name (use letters, digits, '.', '_' and '-')")
			continue
		}
		if msg := checkHTTPSURL(c.Regions[name], true); msg != "" {
			ps.add(key, "%s", msg)
		}
	}
	if len(c.Regions) > 0 {
		if _, ok := c.Regions[routing.Global]; !ok {
			ps.add("cloud.regions", "has no %q entry; it is required when regions are set (the fallback endpoint)", routing.Global)
		}
	}
	if _, ok := c.Regions[routing.Auto]; ok {
		ps.add("cloud.regions."+routing.Auto, "%q is reserved: it means the nearest healthy region", routing.Auto)
	}
}

// regionCheck returns the check of a region name against the region table (the cloud's, or
// cloud.regions). With an unknown cloud and no regions of its own there is no table, and the
// cloud.name problem already says why: then it checks nothing.
func (c *CloudConfig) regionCheck(ps *problems) func(key, region string) {
	cloud, known := c.resolved()
	if !known && len(c.Regions) == 0 {
		return func(key, region string) {}
	}
	regions := cloud.Regions
	valid := sortedKeys(regions)
	source := "valid"
	if len(c.Regions) > 0 {
		source = "valid, from cloud.regions"
	}
	return func(key, region string) {
		if _, ok := regions[region]; ok || region == routing.Global || region == routing.Auto {
			return // a missing global is reported once, at cloud.regions
		}
		ps.add(key, "%q is not a region of cloud %s (%s: %s)", region, c.Name, source, strings.Join(valid, ", "))
	}
}

// Roots are the system roots plus cloud.ca_file's certificates (Resolved.CAPEM).
func (c *Config) Roots() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if pem := c.Resolved.CAPEM; len(pem) > 0 && !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("cloud.ca_file: no PEM certificates")
	}
	return pool, nil
}
