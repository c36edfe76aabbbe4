// Package tokens owns the bearer tokens mdegate injects: one client-credentials token per
// customer tenant and token resource (Defender for Endpoint, Defender XDR, Microsoft Graph)
// for the partner's multi-tenant Entra app, acquired with MSAL Go, kept in memory only.
//
// A Source keeps its own O(1) entry per (tenant, resource) in front of MSAL (MSAL's cache is
// a linear scan over every tenant's token), lets exactly one request per (tenant, resource)
// reach the token endpoint at a time (singleflight), and refreshes a token in the background
// before it expires, so that a warm tenant never makes a caller wait on Entra. One tenant's
// failing or slow token endpoint never delays another tenant.
package tokens
