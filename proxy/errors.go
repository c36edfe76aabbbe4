package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/mdegate/mdegate/tokens"
)

// apiError is an answer the gateway gives itself. Its Message is what the client sees.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

var (
	errNotAPI          = &apiError{http.StatusNotFound, "NotFound", "mdegate forwards only paths under /api/"}
	errUpstreamTimeout = &apiError{http.StatusGatewayTimeout, "UpstreamTimeout", "Defender for Endpoint did not answer in time"}
	errUpstreamDown    = &apiError{http.StatusBadGateway, "UpstreamUnavailable", "Defender for Endpoint could not be reached"}
	errThrottled       = &apiError{http.StatusTooManyRequests, "TooManyRequests", "this tenant's quota for this API is used up; retry after the time in Retry-After"}
	errUpgrade         = &apiError{http.StatusBadGateway, "UpstreamProtocolError", "Defender for Endpoint answered with a protocol switch, which mdegate does not pass on"}
	errUnauthorized    = &apiError{http.StatusUnauthorized, "Unauthorized", "present your mdegate key as \"Authorization: Bearer <key>\" or \"X-Api-Key: <key>\""}
	errNoResourceToken = &apiError{http.StatusBadGateway, "TokenUnavailable", "this gateway cannot obtain tokens for this API's resource"}
	errBadPath         = &apiError{http.StatusBadRequest, "InvalidPath", "the path holds an encoded '/' or '\\', a '%' after decoding, a backslash or a control character"}
)

func bodyTooLarge(limit int64) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("the request body exceeds %d bytes", limit)}
}

func missingTenant(header string) *apiError {
	return &apiError{http.StatusBadRequest, "MissingTenant", "name the customer tenant (alias or tenant ID) in the " + header +
		" header or as the path prefix /tenants/{tenant}/api/..."}
}

// tenantConflict is two places in one request naming different tenants (see tenant.go).
func tenantConflict(a, b claim, header string) *apiError {
	return &apiError{http.StatusBadRequest, "TenantConflict", "the request names tenant " + quote(clip(a.name)) + " in the " +
		claimPlace(a.where, header) + " and tenant " + quote(clip(b.name)) + " in the " + claimPlace(b.where, header) + "; name one"}
}

func claimPlace(where, header string) string {
	switch where {
	case "path":
		return "path prefix /tenants/"
	case "header":
		return header + " header"
	case "token":
		return "gateway token"
	}
	return "host name"
}

func unknownTenant(name string) *apiError {
	return &apiError{http.StatusNotFound, "UnknownTenant", "tenant " + quote(clip(name)) + " is not configured in this gateway"}
}

// clip shortens what a caller wrote before it is echoed back.
func clip(name string) string {
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return name
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// describe maps any error the handler meets to what the client is told. It is the one place
// where errors become status codes; the cause itself is only ever logged.
func describe(err error) *apiError {
	var ae *apiError
	var te *tokens.Error
	var ne net.Error
	var th *ThrottledError
	var mbe *http.MaxBytesError
	var be *bodyError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &be):
		return be.apiError()
	case errors.As(err, &th):
		return errThrottled
	case errors.As(err, &mbe):
		return bodyTooLarge(mbe.Limit)
	case errors.As(err, &te):
		return &apiError{http.StatusServiceUnavailable, "TokenUnavailable", te.Message()}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errUpstreamTimeout
	default:
		return errUpstreamDown
	}
}

// errorBody is MDE's own error shape, so tools parse the gateway's errors like the API's.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	} `json:"error"`
}

// writeError answers err in MDE's shape with the request ID as target.
func writeError(w http.ResponseWriter, requestID string, ae *apiError) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Target = ae.Code, ae.Message, requestID
	body, _ := json.Marshal(&b)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	switch ae.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="mdegate"`)
	case http.StatusTooManyRequests:
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(ae.Status)
	_, _ = w.Write(append(body, '\n'))
}
