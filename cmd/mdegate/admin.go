package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mdegate/mdegate/internal/statuspage"
	"github.com/mdegate/mdegate/tokens"
)

// The admin endpoints: /healthz (the process answers), /readyz (config loaded, listener up,
// and each tenant's token state) and /metrics (Prometheus). They are served on admin_listen
// when set, else on the main listener ahead of the proxy; they are never forwarded and need
// no tenant header. admin_listen also serves the status page at / (statuspage.go).

func (gw *gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", gw.readyz)
	mux.Handle("GET /metrics", gw.metrics.Handler())
	// The status page only here: / is never an admin path of the main listener (isAdminPath).
	mux.Handle("GET /{$}", statuspage.New(statuspage.Options{Snapshot: gw.statusSnapshot, Now: gw.now}))
	return mux
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
	rd := readiness{Status: "ready", Version: buildVersion().Version, Tokens: map[tokens.State]int{}, Tenants: []tenantReadiness{}}
	g := gw.acquire()
	ls := gw.ls.Load()
	switch {
	case gw.draining.Load():
		rd.Status = "shutting_down"
	case g == nil || ls == nil:
		rd.Status = "not_ready"
	}
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
	code := http.StatusOK
	if rd.Status != "ready" {
		code = http.StatusServiceUnavailable
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
