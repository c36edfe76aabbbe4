package tokenendpoint

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// serveToken is the client credentials grant, v2.0 (scope) and v1 (resource). Unlike Entra,
// the caller is authenticated before the tenant is looked at, so that only a caller with a key
// can learn whether a tenant is configured (and a caller limited to some tenants never can).
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request) {
	v2 := strings.Contains(r.URL.Path, "/v2.0/")
	seg := r.PathValue("tenant")
	ev := h.log.Info().Str("tenant", clip(seg))
	refuse := func(e *aadError) {
		ev.Int("status", e.status).Str("code", "AADSTS"+strconv.Itoa(e.code)).Msg("token refused")
		h.writeError(w, r, e)
	}
	if r.Method != http.MethodPost {
		refuse(errMethod(r.Method, "POST"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		refuse(errMissing("grant_type"))
		return
	}
	f := r.PostForm
	switch grant := f.Get("grant_type"); grant {
	case "client_credentials":
	case "":
		refuse(errMissing("grant_type"))
		return
	default:
		refuse(errGrant(grant))
		return
	}
	clientID, secret := f.Get("client_id"), f.Get("client_secret")
	basicID, basicSecret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: both are form-urlencoded before Basic encoding; most clients send
		// them raw. Raw is tried first (see authenticate).
		if clientID == "" {
			clientID = unescape(basicID)
		}
	}
	if clientID == "" {
		refuse(errMissing("client_id"))
		return
	}
	ev.Str("client_id", clip(clientID))

	var resource string
	if v2 {
		scope := f.Get("scope")
		if scope == "" {
			refuse(errMissing("scope"))
			return
		}
		for _, s := range strings.Fields(scope) {
			if res, ok := strings.CutSuffix(s, "/.default"); ok && res != "" {
				resource = res
				break
			}
		}
		if resource == "" {
			refuse(errScope(scope))
			return
		}
	} else if resource = f.Get("resource"); resource == "" {
		refuse(errMissing("resource"))
		return
	}

	caller := Caller{Name: Anonymous, Tenants: []string{"*"}}
	if h.auth != nil {
		var ok bool
		switch {
		case secret != "":
			caller, ok = h.auth(secret)
		case basic && basicSecret != "":
			caller, ok = h.auth(basicSecret)
			if u := unescape(basicSecret); !ok && u != basicSecret {
				caller, ok = h.auth(u)
			}
		default:
			refuse(errNoSecret)
			return
		}
		if !ok {
			refuse(errBadSecret(clientID))
			return
		}
	}
	ev.Str("caller", caller.Name)

	if multiTenant[strings.ToLower(seg)] {
		refuse(errNoTenant)
		return
	}
	t, found := h.tenant(seg)
	switch {
	case !caller.anyTenant() && (!found || !caller.mayUse(t.ID)):
		refuse(errNotAllowed(clientID, seg)) // the same whether the tenant exists or not
		return
	case !found:
		refuse(errUnknownTenant(seg))
		return
	}
	ev.Str("tenant_id", t.ID)

	var roles []string
	if h.roles != nil {
		var err error
		roles, err = h.roles(r.Context(), t.ID, resource)
		if errors.Is(err, ErrUnknownResource) {
			refuse(errResource(resource, seg))
			return
		}
		if err != nil {
			var m interface{ Message() string }
			msg := ""
			if errors.As(err, &m) {
				msg = m.Message()
			}
			ev.AnErr("cause", err)
			refuse(errUnavailable(msg))
			return
		}
	}

	now := h.now()
	secs := int64(math.Ceil(h.lifetime.Seconds()))
	iat := now.Unix()
	c := &jwtClaims{
		Aud:   resource,
		Iat:   iat,
		Nbf:   iat,
		Exp:   iat + secs,
		AppID: clientID,
		Azp:   clientID,
		Roles: roles,
		Sub:   caller.Name,
		Tid:   t.ID,
		Jti:   newUUID(),
	}
	if v2 {
		c.Iss, c.Ver = h.base(r)+"/"+t.ID+"/v2.0", "2.0"
	} else {
		c.Iss, c.Ver = h.base(r)+"/"+t.ID+"/", "1.0"
	}
	tok, err := h.key.sign(c)
	if err != nil {
		ev.AnErr("cause", err)
		refuse(errInternal)
		return
	}
	h.log.Info().Str("caller", caller.Name).Str("tenant", t.Alias).Str("tenant_id", t.ID).
		Str("client_id", clip(clientID)).Str("resource", clip(resource)).Str("version", c.Ver).
		Int64("expires_in", secs).Msg("token issued")
	if v2 {
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":     "Bearer",
			"expires_in":     secs,
			"ext_expires_in": secs,
			"access_token":   tok,
		})
		return
	}
	// v1 answers its numbers as strings, as Entra does.
	writeJSON(w, http.StatusOK, map[string]string{
		"token_type":     "Bearer",
		"expires_in":     strconv.FormatInt(secs, 10),
		"ext_expires_in": strconv.FormatInt(secs, 10),
		"expires_on":     strconv.FormatInt(c.Exp, 10),
		"not_before":     strconv.FormatInt(c.Nbf, 10),
		"resource":       resource,
		"access_token":   tok,
	})
}

// unescape undoes the form encoding RFC 6749 asks for in Basic credentials, or returns s.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
