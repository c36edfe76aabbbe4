// Package intercept is mdegate's HTTPS proxy mode: it decides what a CONNECT may reach and
// terminates TLS for the Microsoft hosts the gateway answers itself, so that a tool whose only
// setting is HTTPS_PROXY reaches the gateway unchanged.
//
// A Proxy sorts every CONNECT target into one of three classes (hosts.go):
//   - intercepted (Login or API): the cloud's Entra login hosts and Defender API hosts. The
//     gateway answers 200, completes TLS with a leaf certificate for the dialled name minted
//     from a private CA (ca.go, leaf.go), and serves the requests inside the tunnel with the
//     Login or API handler, HTTP/1.1 or HTTP/2, keep-alive included (tunnel.go). Nothing is
//     dialled.
//   - Passthrough: a plain byte tunnel to the target, only for a caller whose
//     Proxy-Authorization names a known caller when authentication is configured
//     (passthrough.go).
//   - anything else: 403 before any connection is made. mdegate is never an open proxy;
//     absolute-form requests (GET http://host/...) are refused the same way.
//
// The same certificates answer by SNI on the gateway's own TLS listener (sni.go), for partners
// who point the Microsoft names at the gateway in their DNS.
//
// The CA carries X.509 name constraints (critical) limited to the intercepted domains of every
// built-in cloud, so its key cannot mint a certificate the rest of the web would accept.
package intercept
