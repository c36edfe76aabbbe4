// Package proxy owns the forwarding of one caller's request to Defender for Endpoint: it finds
// the customer tenant the caller names, injects that tenant's bearer token, removes the caller's
// own credentials, streams the answer back unbuffered, answers the gateway's own failures in
// MDE's error shape, and logs every call as one JSON line.
package proxy
