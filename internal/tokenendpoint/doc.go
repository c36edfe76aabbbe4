// Package tokenendpoint is the gateway's Entra facade: the endpoints that MSAL (Go, Python,
// .NET, Node), azure-identity and plain-HTTP samples call on login.microsoftonline.com, answered
// by the gateway, and the gateway's own access tokens (JWTs) that it hands out there and checks
// again when a tool calls the API with one.
//
// A Handler answers, for {tenant} = any tenant segment:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID discovery, v2.0
//	GET  /{tenant}/.well-known/openid-configuration        OpenID discovery, v1
//	GET  /{tenant}/discovery/instance                      instance discovery (MSAL asks /common/...)
//	GET  /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys   the signing key (JWKS)
//	POST /{tenant}/oauth2/v2.0/token                       client credentials, scope=<resource>/.default
//	POST /{tenant}/oauth2/token                            client credentials, resource=<resource> (v1)
//
// Every URL in its documents is built from the Host the request was addressed to (and its
// scheme), so a tool that reached the gateway directly stays on the gateway, and one that reached
// it inside an intercepted tunnel to login.microsoftonline.com stays in the tunnel.
//
// The discovery documents and the keys answer for any tenant segment, with the segment as sent,
// so that nobody can learn without a key which customers the gateway serves (Entra names the
// tenant ID instead; no MSAL version reads it back). Tenants are judged by the token endpoint, after the
// caller is authenticated.
//
// Token endpoint errors have Entra's body (error, error_description beginning with the AADSTS
// code, error_codes, timestamp, trace_id, correlation_id, error_uri) and status:
//
//	401 invalid_client          AADSTS7000215  the secret is not a caller key
//	401 invalid_client          AADSTS7000216  no client_secret (form or HTTP Basic)
//	400 invalid_request         AADSTS90002    the tenant is not configured (caller may use any tenant)
//	400 unauthorized_client     AADSTS700016   the caller may not use this tenant; a caller limited to
//	                                           some tenants gets this for every tenant outside its
//	                                           list, configured or not
//	400 invalid_request         AADSTS50059    common/organizations/consumers: no tenant named
//	400 invalid_request         AADSTS900144   a required parameter is missing
//	400 unsupported_grant_type  AADSTS70003    a grant other than client_credentials
//	400 invalid_scope           AADSTS1002012  no <resource>/.default in scope (v2)
//	400 invalid_resource        AADSTS500011   Options.Roles refused the resource (ErrUnknownResource)
//	503 temporarily_unavailable AADSTS90033    Options.Roles failed: the gateway has no token of its own
//	400 invalid_request         AADSTS900561   a method the endpoint does not take
//
// Instance discovery answers 400 invalid_instance AADSTS50049, as Entra does, for an
// authorization_endpoint whose host is neither the request's Host, one of Entra's login hosts,
// nor one of Options.Hosts.
package tokenendpoint
