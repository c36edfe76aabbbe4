package config

// Warnings are what is valid but deserves a second look; check-config prints them and serve
// logs them at start. None quotes a value.
func (c *Config) Warnings() []string {
	var ws []string
	if len(c.Clients) > 0 && c.AdminListen == "" && (!isPrivateListen(c.Listen) || c.TLS.Listen != "" && !isPrivateListen(c.TLS.Listen)) {
		// Issue 14, finding 1: the admin answers are guarded on a caller-facing listener, but
		// Prometheus and the probes then need an admin key; a private admin_listen is simpler.
		ws = append(ws, "admin_listen: not set while clients are configured and listen or tls.listen is reachable "+
			"from other hosts: /metrics and /readyz's per-tenant detail there answer only callers with admin: true "+
			"(everyone else gets /healthz and a bare /readyz status); set admin_listen to a private address for "+
			"Prometheus and probes")
	}
	return ws
}
