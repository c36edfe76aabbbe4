package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mdegate/mdegate/tokens"
)

// The admin endpoints: /healthz (the process answers), /readyz (config loaded, listener up,
// and each tenant's token state) and /metrics (Prometheus). They are served on admin_listen
// when set, else on the main listener ahead of the proxy; they are never forwarded and need
// no tenant header. admin_listen also serves the status page at / (statuspage.go), which the
// caller-facing listeners show an admin caller only.

func (gw *gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", gw.readyz)
	mux.Handle("GET /metrics", gw.metrics.Handler())
	// The status page, open here as the rest; on the caller-facing listeners only an admin
	// caller sees it (gateway.ServeHTTP).
	mux.Handle("GET /{$}", gw.status)
	return mux
}

// callerAdminHandler serves the admin paths on the caller-facing listeners (listen,
// tls.listen) when admin_listen is not set. With clients configured, only an admin caller
// (isAdminCaller) sees /readyz's detail and /metrics: everyone else gets /healthz, a bare
// /readyz status, and a 401 for /metrics. Otherwise the customer list, with each customer's
// tenant ID, region and consent state, would be anyone's (issue 14, finding 1).
func (gw *gateway) callerAdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if gw.isAdminCaller(r) {
			gw.readyz(w, r)
			return
		}
		status, code := gw.readyStatus()
		writeJSON(w, code, map[string]string{"status": status})
	})
	metrics := gw.metrics.Handler()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if gw.isAdminCaller(r) {
			metrics.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="mdegate"`)
		writeJSON(w, http.StatusUnauthorized, adminRefused)
	})
	return mux
}

// adminRefused is /metrics' 401 on a caller-facing listener, in MDE's error shape.
var adminRefused = map[string]map[string]string{"error": {
	"code":    "Unauthorized",
	"message": "/metrics needs the key of a client with admin: true, as \"Authorization: Bearer <key>\" or \"X-Api-Key: <key>\"",
}}

// isAdminCaller reports whether r may see the gateway's admin answers on a caller-facing
// listener: true for a caller identified as a client with admin: true (by key or client
// certificate, as for any call), and for every caller when no clients are configured (the
// gateway then listens only where its operator allowed anonymous callers). It counts and
// logs nothing. The status page at / uses it too.
func (gw *gateway) isAdminCaller(r *http.Request) bool {
	g := gw.acquire()
	if g == nil {
		return false
	}
	defer g.release()
	return g.handler.IsAdminCaller(r)
}

// readyStatus is /readyz's status and HTTP status: "ready" (200), or "not_ready" (no
// configuration or listener) or "shutting_down" (503).
func (gw *gateway) readyStatus() (string, int) {
	g := gw.cur.Load()
	switch {
	case gw.draining.Load():
		return "shutting_down", http.StatusServiceUnavailable
	case g == nil || gw.ls.Load() == nil:
		return "not_ready", http.StatusServiceUnavailable
	}
	return "ready", http.StatusOK
}

// readiness is /readyz's answer.
type readiness struct {
	// Status is "ready", or "not_ready" (no configuration or listener), or "shutting_down".
	Status   string    `json:"status"`
	Version  string    `json:"version"`
	Config   string    `json:"config,omitempty"`
	LoadedAt time.Time `json:"loaded_at,omitzero"`
	Listen   string    `json:"listen,omitempty"`
	// Tokens counts the tenants by token state; a failing tenant does not make the gateway
	// unready, it shows here and in Tenants.
	Tokens  map[tokens.State]int `json:"tokens"`
	Tenants []tenantReadiness    `json:"tenants"`
	// Quota is where quota decisions are taken: off, local, shared (limits.redis) or degraded
	// (Redis unreachable, so local until it is back; still ready).
	Quota string `json:"quota,omitempty"`
}

type tenantReadiness struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Region string `json:"region"`
	// Token is ok, failing, expired or never (not tried yet).
	Token     tokens.State `json:"token"`
	Code      string       `json:"code,omitempty"` // Entra's AADSTS code of the last failure
	Hint      string       `json:"hint,omitempty"`
	Failures  int          `json:"failures,omitempty"`
	ExpiresIn float64      `json:"expires_in_s,omitempty"`
	// Resources are the tenant's tokens per resource (MDE first; XDR and Graph once used);
	// the fields above are the MDE token's.
	Resources []resourceReadiness `json:"resources"`
}

func (gw *gateway) readyz(w http.ResponseWriter, r *http.Request) {
	status, code := gw.readyStatus()
	rd := readiness{Status: status, Version: buildVersion().Version, Tokens: map[tokens.State]int{}, Tenants: []tenantReadiness{}}
	g := gw.acquire()
	ls := gw.ls.Load()
	if g != nil {
		defer g.release()
		rd.Config, rd.LoadedAt = g.cfg.Name, g.loaded.UTC()
		rd.Quota = g.quotaState()
		now := gw.now()
		for _, tn := range g.routes.Tenants() {
			st := g.tokens.Status(tn.ID)
			tr := tenantReadiness{Name: tn.Name, ID: tn.ID, Region: tn.Endpoint.Region, Token: st.State, Failures: st.Failures,
				Resources: resourcesReadiness(g.tokens.Statuses(tn.ID), now)}
			if st.State != tokens.StateOK {
				tr.Code, tr.Hint = st.Code, st.Hint
			}
			if !st.Expires.IsZero() {
				tr.ExpiresIn = st.Expires.Sub(now).Round(time.Second).Seconds()
			}
			rd.Tokens[st.State]++
			rd.Tenants = append(rd.Tenants, tr)
		}
	}
	if ls != nil {
		rd.Listen = ls.main.Addr().String()
	}
	writeJSON(w, code, &rd)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "cannot encode", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
