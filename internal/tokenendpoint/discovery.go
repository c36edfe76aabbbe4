package tokenendpoint

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// multiTenant are the path segments that name no single tenant.
var multiTenant = map[string]bool{"common": true, "organizations": true, "consumers": true}

// validSegment reports whether a tenant path segment is a plausible tenant alias, domain or ID.
func validSegment(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// serveOpenID answers the v2.0 and v1 OpenID discovery documents. The tenant segment is kept as
// sent, for any plausible segment (see the package comment).
func (h *Handler) serveOpenID(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeError(w, r, errMethod(r.Method, "GET"))
		return
	}
	seg := r.PathValue("tenant")
	if !validSegment(seg) {
		h.writeError(w, r, &aadError{http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '" + clip(seg) + "' not found."})
		return
	}
	base := h.base(r) + "/" + seg
	doc := map[string]any{
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{h.key.method.Alg()},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"grant_types_supported":                 []string{"client_credentials"},
		"request_uri_parameter_supported":       false,
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "appid", "azp", "roles"},
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	}
	if strings.Contains(r.URL.Path, "/v2.0/") {
		doc["issuer"] = base + "/v2.0"
		doc["token_endpoint"] = base + "/oauth2/v2.0/token"
		doc["authorization_endpoint"] = base + "/oauth2/v2.0/authorize"
		doc["device_authorization_endpoint"] = base + "/oauth2/v2.0/devicecode"
		doc["end_session_endpoint"] = base + "/oauth2/v2.0/logout"
		doc["jwks_uri"] = base + "/discovery/v2.0/keys"
	} else {
		doc["issuer"] = base + "/"
		doc["token_endpoint"] = base + "/oauth2/token"
		doc["authorization_endpoint"] = base + "/oauth2/authorize"
		doc["end_session_endpoint"] = base + "/oauth2/logout"
		doc["jwks_uri"] = base + "/discovery/keys"
	}
	writeJSON(w, http.StatusOK, doc)
}

// serveKeys answers the JWKS with the signing key.
func (h *Handler) serveKeys(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeError(w, r, errMethod(r.Method, "GET"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{h.key.jwk}})
}

// cloud is one entry of Entra's instance discovery metadata.
type cloud struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

// entraClouds are Entra's own answers for its login hosts (public, US Government, China).
var entraClouds = []cloud{
	{"login.microsoftonline.com", "login.windows.net", []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
	{"login.microsoftonline.us", "login.microsoftonline.us", []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
	{"login-us.microsoftonline.com", "login-us.microsoftonline.com", []string{"login-us.microsoftonline.com"}},
	{"login.partner.microsoftonline.cn", "login.partner.microsoftonline.cn", []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
}

// serveInstance answers instance discovery as login.microsoftonline.com does
// (GET /common/discovery/instance?api-version=1.1&authorization_endpoint=https://HOST/TENANT/oauth2/v2.0/authorize):
//
//   - tenant_discovery_endpoint is the OpenID document of the tenant in authorization_endpoint,
//     on the host this request was addressed to: MSAL Python and Go fetch it next, verbatim;
//   - the one metadata entry has the request's host as preferred_network and preferred_cache
//     (Entra's own entry when the request came for an Entra login host) and lists the
//     authorization_endpoint's host among its aliases: msal-node and MSAL Go look up their
//     authority's host:port there.
//
// An authorization_endpoint on a host that is neither the request's host, an Entra login host
// nor one of Options.Hosts gets Entra's 400 invalid_instance. MSAL Python (1.21) drops the port
// from authorization_endpoint, so a host without a port matches any port of the same name.
func (h *Handler) serveInstance(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeError(w, r, errMethod(r.Method, "GET"))
		return
	}
	reqHost := normHost(r.Host)
	entry := cloud{reqHost, reqHost, []string{reqHost}}
	for _, c := range entraClouds {
		if slices.Contains(c.Aliases, reqHost) {
			entry = c
			entry.Aliases = slices.Clone(c.Aliases)
			break
		}
	}
	tenant, v2, authzHost := "common", true, reqHost
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		if err != nil || u.Host == "" {
			h.writeError(w, r, errInstance)
			return
		}
		authzHost = normHost(u.Host)
		if seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); seg != "" {
			tenant = seg
		}
		v2 = strings.Contains(u.Path, "/v2.0/")
	}
	if !validSegment(tenant) {
		h.writeError(w, r, errInstance)
		return
	}
	known := append(append([]string{reqHost}, entry.Aliases...), h.hosts...)
	for _, c := range entraClouds {
		known = append(known, c.Aliases...)
	}
	if !hostIn(authzHost, known) {
		h.writeError(w, r, errInstance)
		return
	}
	if !slices.Contains(entry.Aliases, authzHost) {
		entry.Aliases = append(entry.Aliases, authzHost)
	}
	doc := h.base(r) + "/" + tenant
	if v2 {
		doc += "/v2.0"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": doc + "/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []cloud{entry},
	})
}

// normHost lower-cases a host[:port] and drops a ":443", which clients send or not.
func normHost(hp string) string {
	hp = strings.ToLower(hp)
	if h, port, err := net.SplitHostPort(hp); err == nil && port == "443" {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return hp
}

// hostIn reports whether host (host or host:port) is one of known; a host without a port
// matches a known name with any port.
func hostIn(host string, known []string) bool {
	for _, k := range known {
		if host == normHost(k) {
			return true
		}
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return false
	}
	name := strings.Trim(host, "[]")
	for _, k := range known {
		if kh, _, err := net.SplitHostPort(normHost(k)); err == nil && kh == name {
			return true
		}
	}
	return false
}
