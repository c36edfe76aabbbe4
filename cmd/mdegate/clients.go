package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
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
	// Tenants the caller may use, by name or ID, or ["*"] for all. Required.
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
}

// validateAccess checks clients, the tls section, and the secure default: without clients
// the gateway only listens where nobody else can reach it, unless allow_anonymous says so.
func (c *Config) validateAccess() []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	tenants := map[string]bool{}
	for _, t := range c.Tenants {
		tenants[strings.ToLower(t.Name)] = true
		tenants[strings.ToLower(t.ID)] = true
	}
	names := map[string]int{}
	keys := map[string]int{}
	subjects := map[string]int{}
	for i, cl := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		switch {
		case cl.Name == "":
			add(key+".name", "is required (it names the caller in logs and answers)")
		case !namePattern.MatchString(cl.Name):
			add(key+".name", "%q is invalid (use letters, digits, '.', '_' and '-')", cl.Name)
		default:
			if j, dup := names[cl.Name]; dup {
				add(key+".name", "%q is also the name of clients[%d]", cl.Name, j)
			}
			names[cl.Name] = i
		}
		if cl.KeySHA256 == "" && cl.CertSubject == "" {
			add(key, "has neither key_sha256 nor cert_subject: nothing could identify it")
		}
		if h := cl.KeySHA256; h != "" {
			if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
				// Not quoted: someone may have pasted the key itself here.
				add(key+".key_sha256", "is not 64 hex digits (the SHA-256 of the key, as `mdegate key` prints it; never the key itself)")
			} else if j, dup := keys[strings.ToLower(h)]; dup {
				add(key+".key_sha256", "is also the key of clients[%d]", j)
			} else {
				keys[strings.ToLower(h)] = i
			}
		}
		if s := cl.CertSubject; s != "" {
			if c.TLS.ClientCAFile == "" {
				add(key+".cert_subject", "needs tls.client_ca_file: only a verified client certificate can identify a caller")
			}
			if j, dup := subjects[s]; dup {
				add(key+".cert_subject", "%q is also the cert_subject of clients[%d]", s, j)
			}
			subjects[s] = i
		}
		if len(cl.Tenants) == 0 {
			add(key+".tenants", "is required: the tenants it may use, or [\"*\"]")
		}
		for j, t := range cl.Tenants {
			if t != "*" && !tenants[strings.ToLower(t)] {
				add(fmt.Sprintf("%s.tenants[%d]", key, j), "%q is not the name or id of a configured tenant", t)
			}
		}
		if d := cl.DefaultTenant; d != "" {
			if !tenants[strings.ToLower(d)] {
				add(key+".default_tenant", "%q is not the name or id of a configured tenant", d)
			} else if !slices.Contains(cl.Tenants, "*") && !slices.ContainsFunc(cl.Tenants, func(t string) bool { return c.sameTenant(t, d) }) {
				add(key+".default_tenant", "%q is not among the client's tenants", d)
			}
		}
		if cl.Allow != nil && len(cl.Allow) == 0 {
			add(key+".allow", "is empty: the client could call nothing (leave it out for read-only)")
		}
		for j, a := range cl.Allow {
			if err := proxy.CheckAllow(a); err != nil {
				add(fmt.Sprintf("%s.allow[%d]", key, j), "%v", err)
			}
		}
	}
	if c.Limits.MaxBody < 0 && c.Limits.MaxBody != -1 {
		add("limits.max_body", "%d: use a size in bytes, or -1 for no cap", c.Limits.MaxBody)
	}
	ps = append(ps, c.validateTLS()...)

	if len(c.Clients) == 0 && !c.AllowAnonymous {
		const why = "is not loopback and no clients are configured: anyone who can reach it could act on every customer's machines. " +
			"Add a clients section, listen on 127.0.0.1, ::1 or unix:/path, or set allow_anonymous: true"
		if checkListen(c.Listen) == "" && !isPrivateListen(c.Listen) {
			add("listen", "%q %s", c.Listen, why)
		}
		if c.TLS.Listen != "" && checkListen(c.TLS.Listen) == "" && !isPrivateListen(c.TLS.Listen) {
			add("tls.listen", "%q %s", c.TLS.Listen, why)
		}
	}
	return ps
}

// isPrivateListen reports whether a listen address is reachable only from this host: a Unix
// socket, a loopback IP, or localhost. ":8080" and "0.0.0.0:8080" are every interface.
func isPrivateListen(s string) bool {
	if strings.HasPrefix(s, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// proxyClients is the proxy's view of the clients section.
func (c *Config) proxyClients() []proxy.Client {
	var out []proxy.Client
	for _, cl := range c.Clients {
		pc := proxy.Client{Name: cl.Name, CertSubject: cl.CertSubject, Tenants: cl.Tenants,
			Allow: cl.Allow, MaxConcurrent: cl.MaxConcurrent, DefaultTenant: cl.DefaultTenant}
		if cl.KeySHA256 != "" {
			b, _ := hex.DecodeString(cl.KeySHA256)
			copy(pc.KeySHA256[:], b)
		}
		out = append(out, pc)
	}
	return out
}

// sameTenant reports whether a and b (names or IDs) name the same configured tenant.
func (c *Config) sameTenant(a, b string) bool {
	for _, t := range c.Tenants {
		isA := strings.EqualFold(a, t.Name) || strings.EqualFold(a, t.ID)
		isB := strings.EqualFold(b, t.Name) || strings.EqualFold(b, t.ID)
		if isA || isB {
			return isA && isB
		}
	}
	return false
}

// newKey prints a new random caller key and the key_sha256 line for its clients entry.
func newKey(w io.Writer) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	key := "mdg_" + hex.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(key))
	fmt.Fprintf(w, "key: %s\n", key)
	fmt.Fprintf(w, "key_sha256: %s\n", hex.EncodeToString(sum[:]))
	return nil
}
