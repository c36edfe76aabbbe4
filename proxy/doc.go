// Package proxy owns the forwarding of one caller's request to Defender for Endpoint: it finds
// the customer tenant the caller names, injects that tenant's bearer token, removes the caller's
// own credentials, sends the answer back (a small one read whole first, so it keeps its length
// and can still be retried elsewhere; a larger or unsized one streamed as it comes, see
// smallanswer.go), answers the gateway's own failures in MDE's error shape, and logs every
// call as one JSON line.
//
// A caller names its tenant by a path prefix, a header, a host name or a default (tenant.go),
// and the links MDE puts in its answers are pointed back at the gateway (links.go, baseurl.go),
// so tools that only take a base URL and follow @odata.nextLink work unchanged.
package proxy
