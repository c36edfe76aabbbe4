package proxy

import (
	"errors"
	"net/url"
	"path"
	"strings"
)

// cleanPath decides which path a request is about, so that the policy and MDE see the same
// one. It takes the decoded path and the raw path the server parsed, and returns the path to
// forward (dot segments resolved, doubled slashes collapsed, ";params" dropped from every
// segment, case kept) and its lower-cased form, which the policy matches on. A path whose
// meaning depends on who decodes it is refused (ok false): an encoded '/' or '\', a '%' left
// after decoding (double encoding), a backslash, or a control character.
//
// An already clean lower-case path, the usual case, is returned as is without allocating.
func cleanPath(u *url.URL) (fwd, lower string, ok bool) {
	p := u.Path
	if u.RawPath != "" && hasEncodedSeparator(u.RawPath) {
		return "", "", false
	}
	dirty, upper := false, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f || c == '\\' || c == '%':
			return "", "", false
		case c == ';', c == '/' && i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.'):
			dirty = true
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	if p == "" || p[0] != '/' || len(p) > 1 && p[len(p)-1] == '/' {
		dirty = true
	}
	if dirty {
		p = path.Clean("/" + stripParams(p))
	}
	if !upper {
		return p, p, true
	}
	return p, strings.ToLower(p), true
}

// hasEncodedSeparator reports whether raw holds %2F or %5C (an encoded '/' or '\').
func hasEncodedSeparator(raw string) bool {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] == '%' && (raw[i+1] == '2' && (raw[i+2] == 'f' || raw[i+2] == 'F') ||
			raw[i+1] == '5' && (raw[i+2] == 'c' || raw[i+2] == 'C')) {
			return true
		}
	}
	return false
}

// stripParams drops ";params" from every segment: /api/machines;x=1/y → /api/machines/y.
func stripParams(p string) string {
	if !strings.Contains(p, ";") {
		return p
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(p, ';')
		if i < 0 {
			b.WriteString(p)
			return b.String()
		}
		b.WriteString(p[:i])
		p = p[i:]
		j := strings.IndexByte(p, '/')
		if j < 0 {
			return b.String()
		}
		p = p[j:]
	}
}

// rule is one compiled allow pattern: "METHOD /path" or "*".
type rule struct {
	text   string // as configured, for messages
	method string // upper case; "" matches any method
	path   string // lower case glob; "" matches any path
}

// parseRule compiles an allow pattern. The method is a method name or "*"; the path starts
// with "/" and may hold '*': at the end it matches anything (so "/api/alerts*" covers
// "/api/alerts/x/domains"), elsewhere any run of characters within one segment
// ("/api/machines/*/isolate"). "*" alone allows everything.
func parseRule(s string) (rule, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return rule{text: s}, nil
	}
	m, p, ok := strings.Cut(s, " ")
	p = strings.TrimSpace(p)
	if !ok || m == "" || p == "" {
		return rule{}, errors.New(`is not "METHOD /path" or "*"`)
	}
	if m != "*" && !isMethod(m) {
		return rule{}, errors.New("does not start with an HTTP method")
	}
	if p != "*" && !strings.HasPrefix(p, "/") {
		return rule{}, errors.New("the path must start with /")
	}
	if base := strings.TrimRight(p, "*"); p != "*" && base != path.Clean(base) && base != path.Clean(base)+"/" {
		return rule{}, errors.New("the path must be clean (no //, . or .. segments)")
	}
	r := rule{text: s, method: strings.ToUpper(m), path: strings.ToLower(p)}
	if r.method == "*" {
		r.method = ""
	}
	if r.path == "*" {
		r.path = ""
	}
	return r, nil
}

// readOnly is the rule set of a client that names none: every GET and HEAD.
var readOnly = []rule{{text: "GET *", method: "GET"}, {text: "HEAD *", method: "HEAD"}}

func isMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if c := m[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return m != ""
}

// allows reports whether the rule admits method on the lower-case clean path p. A GET rule
// also admits HEAD, which is a GET without the body.
func (r *rule) allows(method, p string) bool {
	if r.method != "" && r.method != method && !(r.method == "GET" && method == "HEAD") {
		return false
	}
	return r.path == "" || glob(r.path, p)
}

// glob matches p against pattern: a trailing '*' matches the rest, another '*' any run of
// characters other than '/'.
func glob(pattern, p string) bool {
	for len(pattern) > 0 {
		if pattern[0] != '*' {
			if len(p) == 0 || p[0] != pattern[0] {
				return false
			}
			pattern, p = pattern[1:], p[1:]
			continue
		}
		pattern = pattern[1:]
		if len(pattern) == 0 {
			return true
		}
		for i := 0; i <= len(p); i++ {
			if glob(pattern, p[i:]) {
				return true
			}
			if i < len(p) && p[i] == '/' {
				return false
			}
		}
		return false
	}
	return len(p) == 0
}
