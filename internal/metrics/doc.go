// Package metrics exposes the gateway's Prometheus metrics: calls by tenant, region, method,
// API family and status class; latency; in-flight calls; token fetches, failures, state and
// time to expiry per tenant; region health; config reloads; the build (mdegate_build_info).
// It owns its registry (nothing is registered globally) and keeps label cardinality bounded:
// API families, not paths; status classes, not codes.
package metrics
