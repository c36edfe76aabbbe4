package intercept

import (
	"encoding/json"
	"net/http"
)

// refusal is an answer the proxy gives itself, in MDE's error shape. Message is what the client
// sees; it never holds a credential or a Go error string.
type refusal struct {
	status  int
	code    string
	message string
}

var (
	errForbidden = &refusal{http.StatusForbidden, "ProxyForbidden",
		"mdegate is not an open proxy: it intercepts the Microsoft login and Defender API hosts and tunnels only its configured passthrough hosts"}
	errAbsoluteForm = &refusal{http.StatusForbidden, "ProxyForbidden",
		"mdegate does not forward plain-HTTP proxy requests; use https:// URLs (the proxy answers CONNECT)"}
	errProxyAuth = &refusal{http.StatusProxyAuthRequired, "ProxyAuthenticationRequired",
		"this host is tunnelled only for known callers: set the proxy URL to http://NAME:KEY@gateway:port with your mdegate key"}
	errBadTarget = &refusal{http.StatusBadRequest, "InvalidProxyTarget",
		"CONNECT needs a target of the form host:port"}
	errDial = &refusal{http.StatusBadGateway, "UpstreamUnavailable",
		"the passthrough host could not be reached"}
	errNoHijack = &refusal{http.StatusHTTPVersionNotSupported, "ProxyProtocolNotSupported",
		"send CONNECT over HTTP/1.1"}
	errClosed = &refusal{http.StatusServiceUnavailable, "ShuttingDown",
		"the gateway is shutting down"}
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// write sends the refusal. It is the one place a proxy refusal becomes a status and a body.
func (e *refusal) write(w http.ResponseWriter) {
	var b errorBody
	b.Error.Code, b.Error.Message = e.code, e.message
	body, _ := json.Marshal(b)
	h := w.Header()
	if e.status == http.StatusProxyAuthRequired {
		h.Set("Proxy-Authenticate", `Basic realm="mdegate"`)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Connection", "close")
	w.WriteHeader(e.status)
	w.Write(body)
}

var errMint = &refusal{http.StatusInternalServerError, "CertificateUnavailable",
	"the gateway could not make a certificate for this host"}
