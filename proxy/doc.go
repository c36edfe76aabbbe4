// Package proxy owns the forwarding of one caller's request to Microsoft's security APIs
// (Defender for Endpoint, Defender XDR and Graph security; apis.go): it identifies the caller
// by key, certificate or gateway token (auth.go, gatewaytoken.go), finds the customer tenant
// the caller names, classifies the call into an API with its quota and timeout, injects that
// tenant's bearer token for the API's resource, passes on only the request headers those APIs
// read (caller.go), sends the answer back (a small one read whole first, so it keeps its
// length and can still be retried elsewhere; a larger or unsized one streamed as it comes, see
// smallanswer.go), answers the gateway's own failures in MDE's error shape, and logs every
// call as one JSON line (optionally traced, trace.go).
//
// A caller names its tenant by a path prefix, a header, a host name or a default (tenant.go),
// and the links Microsoft puts in its answers are pointed back at the gateway (links.go,
// baseurl.go), so tools that only take a base URL and follow @odata.nextLink work unchanged.
package proxy
