package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/mdegate/mdegate/proxy"
)

// ClientConfig is one caller allowed to use the gateway: clients[i].
type ClientConfig struct {
	// Name identifies the caller in logs and 403 answers: letters, digits, '.', '_' and '-'.
	// Required, unique.
	Name string `yaml:"name"`
	// KeySHA256 is the SHA-256 of the caller's key, 64 hex digits (`mdegate key` makes a key
	// and this line); the key itself is never stored. Unset: the caller must be identified by
	// CertSubject.
	KeySHA256 string `yaml:"key_sha256"`
	// CertSubject identifies the caller by its client certificate (tls.client_ca_file must be
	// set): the subject common name or a DNS, e-mail or URI SAN. Unset: by key only.
	CertSubject string `yaml:"cert_subject"`
	// Tenants the caller may use, by name or ID, or ["*"] for all. Required, except for an
	// admin client (then unset means none: a Prometheus key that reads no customer's data).
	Tenants []string `yaml:"tenants"`
	// Allow lists "METHOD /path" patterns the caller may call, or ["*"]. Unset: read-only,
	// every GET and HEAD.
	Allow []string `yaml:"allow"`
	// MaxConcurrent caps the caller's requests in flight (more get 429). Zero means 64;
	// negative means no cap.
	MaxConcurrent int `yaml:"max_concurrent"`
	// DefaultTenant (a name or ID from its tenants) serves the caller's requests that name no
	// tenant. Unset: routing.default_tenant, if any.
	DefaultTenant string `yaml:"default_tenant"`
	// Admin lets the caller read the gateway's admin answers on listen and tls.listen:
	// /metrics (Prometheus sends the key as a bearer token) and /readyz's per-tenant detail.
	// It grants nothing on Microsoft's APIs. Unset: false; such a caller, like one without a
	// key, sees only /healthz and /readyz's bare status. admin_listen is open to all.
	Admin bool `yaml:"admin"`
}

// validateClients checks the clients list.
func (c *Config) validateClients(ps *problems) {
	names := map[string]int{}
	keys := map[string]int{}
	subjects := map[string]int{}
	for i, cl := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		switch {
		case cl.Name == "":
			ps.add(key+".name", "is required (it names the caller in logs and answers)")
		case !namePattern.MatchString(cl.Name):
			ps.add(key+".name", "is invalid (use letters, digits, '.', '_' and '-')")
		default:
			if j, dup := names[cl.Name]; dup {
				ps.add(key+".name", "is also the name of clients[%d]", j)
			}
			names[cl.Name] = i
		}
		if cl.KeySHA256 == "" && cl.CertSubject == "" {
			ps.add(key, "has neither key_sha256 nor cert_subject: nothing could identify it")
		}
		if h := cl.KeySHA256; h != "" {
			if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
				// Not quoted: someone may have pasted the key itself here.
				ps.add(key+".key_sha256", "is not 64 hex digits (the SHA-256 of the key, as `mdegate key` prints it; never the key itself)")
			} else if j, dup := keys[strings.ToLower(h)]; dup {
				ps.add(key+".key_sha256", "is also the key of clients[%d]", j)
			} else {
				keys[strings.ToLower(h)] = i
			}
		}
		if s := cl.CertSubject; s != "" {
			if c.TLS.ClientCAFile == "" {
				ps.add(key+".cert_subject", "needs tls.client_ca_file: only a verified client certificate can identify a caller")
			}
			if j, dup := subjects[s]; dup {
				ps.add(key+".cert_subject", "is also the cert_subject of clients[%d]", j)
			}
			subjects[s] = i
		}
		if len(cl.Tenants) == 0 && !cl.Admin {
			ps.add(key+".tenants", "is required: the tenants it may use, or [\"*\"]")
		}
		for j, t := range cl.Tenants {
			if t != "*" && c.TenantIndex(t) < 0 {
				ps.add(fmt.Sprintf("%s.tenants[%d]", key, j), "is not the name or id of a configured tenant")
			}
		}
		if d := cl.DefaultTenant; d != "" {
			switch di := c.TenantIndex(d); {
			case di < 0:
				ps.add(key+".default_tenant", "is not the name or id of a configured tenant")
			case !slices.Contains(cl.Tenants, "*") && !slices.ContainsFunc(cl.Tenants, func(t string) bool { return c.TenantIndex(t) == di }):
				ps.add(key+".default_tenant", "is not among the client's tenants")
			}
		}
		if cl.Allow != nil && len(cl.Allow) == 0 {
			ps.add(key+".allow", "is empty: the client could call nothing (leave it out for read-only)")
		}
		for j, a := range cl.Allow {
			if err := proxy.CheckAllow(a); err != nil {
				ps.add(fmt.Sprintf("%s.allow[%d]", key, j), "%v", err)
			}
		}
	}
}

// validateAnonymous checks the secure default: without clients the gateway only listens where
// nobody else can reach it, unless allow_anonymous says so.
func (c *Config) validateAnonymous(ps *problems) {
	if len(c.Clients) > 0 || c.AllowAnonymous {
		return
	}
	const why = "is not loopback and no clients are configured: anyone who can reach it could act on every customer's machines. " +
		"Add a clients section, listen on 127.0.0.1, ::1 or unix:/path, or set allow_anonymous: true"
	if checkListen(c.Listen) == "" && !isPrivateListen(c.Listen) {
		ps.add("listen", "%s", why)
	}
	if c.TLS.Listen != "" && checkListen(c.TLS.Listen) == "" && !isPrivateListen(c.TLS.Listen) {
		ps.add("tls.listen", "%s", why)
	}
}

// ProxyClients is the proxy's view of the clients section. Call only on a valid Config.
func (c *Config) ProxyClients() []proxy.Client {
	var out []proxy.Client
	for _, cl := range c.Clients {
		pc := proxy.Client{Name: cl.Name, CertSubject: cl.CertSubject, Tenants: cl.Tenants,
			Allow: cl.Allow, MaxConcurrent: cl.MaxConcurrent, DefaultTenant: cl.DefaultTenant, Admin: cl.Admin}
		if cl.KeySHA256 != "" {
			b, _ := hex.DecodeString(cl.KeySHA256)
			copy(pc.KeySHA256[:], b)
		}
		out = append(out, pc)
	}
	return out
}
