package intercept

import (
	"fmt"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Class is what a Proxy does with a CONNECT target.
type Class int

const (
	// Refused targets get 403 and no connection.
	Refused Class = iota
	// Login targets are Entra login hosts, intercepted and served by Options.Login.
	Login
	// API targets are Defender API hosts, intercepted and served by Options.API.
	API
	// Passthrough targets are tunnelled as plain bytes to the real host.
	Passthrough
)

// String names the class as logged: refused, login, api or passthrough.
func (c Class) String() string {
	switch c {
	case Login:
		return "login"
	case API:
		return "api"
	case Passthrough:
		return "passthrough"
	}
	return "refused"
}

// Hosts lists the host patterns a Proxy intercepts. A pattern is a host name, lower case, in
// which a "*" matches any run of characters inside one label ("api-*.securitycenter.microsoft.com",
// "*.blob.core.windows.net"); it never matches a dot. Intercepted hosts are served on port
// 443 only.
type Hosts struct {
	// Login are the Entra login hosts, answered by Options.Login. Nil intercepts none.
	Login []string
	// API are the Defender (and Graph security) API hosts, answered by Options.API. Nil
	// intercepts none.
	API []string
}

// cloudHosts are the intercepted hosts of each built-in cloud, by the cloud names the config
// uses (routing.LookupCloud). The CA's name constraints are derived from all of them
// (PermittedDomains), so a host added here needs a new CA (`mdegate ca`) to be served.
var cloudHosts = map[string]Hosts{
	"public": {
		Login: []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com"},
		API: []string{
			"api.security.microsoft.com",
			"us.api.security.microsoft.com", "eu.api.security.microsoft.com", "uk.api.security.microsoft.com",
			"au.api.security.microsoft.com", "swa.api.security.microsoft.com", "ina.api.security.microsoft.com",
			"aea.api.security.microsoft.com",
			"api-us.security.microsoft.com", "api-eu.security.microsoft.com", "api-uk.security.microsoft.com",
			"api.securitycenter.microsoft.com", "api-*.securitycenter.microsoft.com",
			"api.securitycenter.windows.com", "api-*.securitycenter.windows.com",
			"graph.microsoft.com",
		},
	},
	"gcc": {
		Login: []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com"},
		API: []string{
			"api-gcc.securitycenter.microsoft.us", "api-gcc.security.microsoft.us",
			"api-gcc.securitycenter.windows.us",
			"graph.microsoft.com",
		},
	},
	"gcc-high": {
		Login: []string{"login.microsoftonline.us"},
		API: []string{
			"api-gov.securitycenter.microsoft.us", "api-gov.security.microsoft.us",
			"api-gov.securitycenter.windows.us",
			"graph.microsoft.us",
		},
	},
	"dod": {
		Login: []string{"login.microsoftonline.us"},
		API: []string{
			"api-gov.securitycenter.microsoft.us", "api-gov.security.microsoft.us",
			"api-gov.securitycenter.windows.us",
			"dod-graph.microsoft.us",
		},
	},
}

// CloudHosts returns the intercepted hosts of the named clouds (public, gcc, gcc-high, dod),
// merged without duplicates: a gateway whose tenants live in several clouds intercepts the
// hosts of each. No names means public. An unknown name is an error naming it.
func CloudHosts(clouds ...string) (Hosts, error) {
	if len(clouds) == 0 {
		clouds = []string{"public"}
	}
	var h Hosts
	seen := map[string]bool{}
	for _, name := range clouds {
		c, ok := cloudHosts[name]
		if !ok {
			return Hosts{}, fmt.Errorf("unknown cloud %q (known: %s)", name, strings.Join(cloudNames(), ", "))
		}
		for _, p := range c.Login {
			if !seen["l"+p] {
				seen["l"+p] = true
				h.Login = append(h.Login, p)
			}
		}
		for _, p := range c.API {
			if !seen["a"+p] {
				seen["a"+p] = true
				h.API = append(h.API, p)
			}
		}
	}
	return h, nil
}

func cloudNames() []string {
	names := make([]string, 0, len(cloudHosts))
	for n := range cloudHosts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PermittedDomains is the name constraint a CA made by NewCA carries: the smallest set of DNS
// domains that covers every intercepted host of every built-in cloud. An exact host stands for
// itself (and, by X.509 rules, its subdomains); a pattern with "*" in its first label stands
// for its parent domain.
func PermittedDomains() []string {
	var all []string
	for _, name := range cloudNames() {
		h := cloudHosts[name]
		all = append(all, h.Login...)
		all = append(all, h.API...)
	}
	return domainsFor(all)
}

func domainsFor(patterns []string) []string {
	set := map[string]bool{}
	for _, p := range patterns {
		labels := strings.Split(p, ".")
		for len(labels) > 2 && strings.Contains(labels[0], "*") {
			labels = labels[1:]
		}
		set[strings.Join(labels, ".")] = true
	}
	var out []string
	for d := range set {
		covered := false
		for parent := range set {
			if parent != d && strings.HasSuffix(d, "."+parent) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// matchHost reports whether host (lower case, no trailing dot) matches pattern.
func matchHost(pattern, host string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == host
	}
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, _ := path.Match(pl[i], hl[i]); !ok || hl[i] == "" {
			return false
		}
	}
	return true
}

func matchAny(patterns []string, host string) bool {
	for _, p := range patterns {
		if matchHost(p, host) {
			return true
		}
	}
	return false
}

// target is a parsed passthrough pattern: a host pattern and a port ("" means any).
type target struct{ host, port string }

// parsePassthrough reads "host", "host:port", "*.domain" or "[v6]:port" patterns.
func parsePassthrough(patterns []string) ([]target, error) {
	out := make([]target, 0, len(patterns))
	for _, p := range patterns {
		t := target{host: p}
		if h, port, err := net.SplitHostPort(p); err == nil {
			t = target{host: h, port: port}
		}
		t.host = normalizeHost(t.host)
		port, err := strconv.Atoi(t.port)
		badPort := t.port != "" && (err != nil || port < 1 || port > 65535)
		if t.host == "" || badPort || strings.ContainsAny(t.host, "/ ?[]@") || strings.Contains(t.host, ":") && !strings.Contains(p, "[") {
			return nil, fmt.Errorf("passthrough pattern %q is not a host or host:port", p)
		}
		out = append(out, t)
	}
	return out, nil
}

func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
