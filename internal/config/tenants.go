package config

import (
	"fmt"
	"strings"

	"github.com/mdegate/mdegate/routing"
)

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

// TenantIndex returns the index in Tenants of the tenant that key (a name or ID) names, as
// routing.Table.Resolve matches it, or -1. Every lookup of a configured tenant goes through
// it.
func (c *Config) TenantIndex(key string) int {
	for i, t := range c.Tenants {
		if routing.Names(t.Name, t.ID, key) {
			return i
		}
	}
	return -1
}

// RoutingOptions is the routing table's view of the configuration. Call only on a valid
// Config.
func (c *Config) RoutingOptions() routing.Options {
	o := routing.Options{Regions: c.Resolved.Cloud.Regions, DefaultRegion: c.Routing.Region}
	for _, t := range c.Tenants {
		o.Tenants = append(o.Tenants, routing.TenantOptions{Name: t.Name, ID: t.ID, Region: t.Region})
	}
	return o
}

// validateTenants checks the tenants list.
func (c *Config) validateTenants(ps *problems) {
	if len(c.Tenants) == 0 {
		ps.add("tenants", "none configured; list at least one tenant")
	}
	checkRegion := c.Cloud.regionCheck(ps)
	names := map[string]int{} // lowercase name -> first index
	ids := map[string]int{}   // lowercase id -> first index
	for i, t := range c.Tenants {
		key := fmt.Sprintf("tenants[%d]", i)
		id := strings.ToLower(t.ID)
		switch {
		case t.ID == "":
			ps.add(key+".id", "is required (the customer's Entra tenant ID, a GUID)")
		case !isGUID(t.ID):
			hint := ""
			if strings.Contains(t.ID, ".") {
				hint = " (use the tenant ID, not a domain name)"
			}
			ps.add(key+".id", "is not a GUID%s", hint)
		default:
			if j, dup := ids[id]; dup {
				ps.add(key+".id", "is also the id of tenants[%d]", j)
			} else {
				ids[id] = i
			}
		}
		switch {
		case t.Name == "":
			ps.add(key+".name", "is required (an alias callers may use for the tenant)")
		case isGUID(t.Name):
			ps.add(key+".name", "looks like a GUID; names must not, so they cannot be mistaken for tenant IDs%s", sameAsID(c.Tenants, t.Name))
		case !namePattern.MatchString(t.Name):
			ps.add(key+".name", "is invalid (use letters, digits, '.', '_' and '-')")
		default:
			if j, dup := names[strings.ToLower(t.Name)]; dup {
				ps.add(key+".name", "is also the name of tenants[%d] (names are case-insensitive)", j)
			} else {
				names[strings.ToLower(t.Name)] = i
			}
		}
		if t.Region != "" {
			checkRegion(key+".region", t.Region)
		}
		if t.App != nil {
			t.App.validate(key+".app", ps)
		}
	}
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
