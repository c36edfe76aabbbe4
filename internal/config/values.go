package config

import (
	"errors"
	"io/fs"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Checks and helpers shared by several sections.

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	guidPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
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

// checkHTTPSURL returns what is wrong with an https base URL, or "". Without allowPath only
// "" or "/" is accepted as the path.
func checkHTTPSURL(raw string, allowPath bool) string { return checkBaseURL(raw, false, allowPath) }

// checkBaseURL returns what is wrong with a base URL, or "": https (or http with allowHTTP),
// a host, no user info, query or fragment, and a path only with allowPath. The message names
// no part of the URL, which may hold a password or a token.
func checkBaseURL(raw string, allowHTTP, allowPath bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL" // url.Error quotes the URL
	}
	switch {
	case allowHTTP && u.Scheme != "http" && u.Scheme != "https":
		return "is not an http or https URL"
	case !allowHTTP && u.Scheme != "https":
		return "is not an https URL"
	case u.Host == "":
		return "has no host"
	case u.User != nil:
		return "must not contain user info"
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "must not have a query or fragment"
	case !allowPath && u.Path != "" && u.Path != "/":
		return "must not have a path (the tenant is appended to it)"
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
