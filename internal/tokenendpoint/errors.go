package tokenendpoint

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// aadError is an answer in Entra's error shape: status, OAuth error name, AADSTS code and text.
type aadError struct {
	status int
	name   string
	code   int
	text   string
}

// Entra's texts, shortened; client-supplied values go through clip.

func errBadSecret(clientID string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
		"Invalid client secret provided for app '%s'. This gateway takes the caller's mdegate key as the client secret.", clip(clientID))}
}

var errNoSecret = &aadError{http.StatusUnauthorized, "invalid_client", 7000216,
	"'client_secret' is required for the 'client_credentials' grant type: this gateway takes the caller's mdegate key as the client secret (in the form or with HTTP Basic)."}

func errUnknownTenant(seg string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf(
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID: it is not configured in this gateway.", clip(seg))}
}

// errNotAllowed is the same for a tenant outside the caller's list whether or not it exists.
func errNotAllowed(clientID, seg string) *aadError {
	return &aadError{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
		"Application with identifier '%s' was not found in the directory '%s': the caller may not use this tenant.", clip(clientID), clip(seg))}
}

var errNoTenant = &aadError{http.StatusBadRequest, "invalid_request", 50059,
	"No tenant-identifying information found in either the request or implied by any provided credentials: name the tenant in the path."}

func errMissing(param string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf(
		"The request body must contain the following parameter: '%s'.", param)}
}

func errGrant(grant string) *aadError {
	return &aadError{http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf(
		"The app requested an unsupported grant type '%s': this gateway issues client_credentials tokens only.", clip(grant))}
}

func errScope(scope string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf(
		"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", clip(scope))}
}

func errResource(resource, seg string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf(
		"The resource principal named %s was not found in the tenant named %s.", clip(resource), clip(seg))}
}

func errMethod(method, want string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 900561, fmt.Sprintf(
		"The endpoint only accepts %s, OPTIONS requests. Received a %s request.", want, clip(method))}
}

var errInstance = &aadError{http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance."}

func errUnavailable(msg string) *aadError {
	text := "A transient error has occurred: the gateway has no token of its own for this tenant. Please try again."
	if msg != "" {
		text += " (" + clip(msg) + ")"
	}
	return &aadError{http.StatusServiceUnavailable, "temporarily_unavailable", 90033, text}
}

var errInternal = &aadError{http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again."}

// errorBody is Entra's error body.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// writeError answers e in Entra's shape. The correlation ID echoes the request's
// client-request-id when it is a UUID (MSAL sends one), as Entra does.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, e *aadError) {
	trace := newUUID()
	corr := r.Header.Get("Client-Request-Id")
	if !isUUID(corr) {
		corr = newUUID()
	}
	ts := h.now().UTC().Format("2006-01-02 15:04:05Z")
	w.Header().Set("X-Ms-Request-Id", trace)
	writeJSON(w, e.status, errorBody{
		Error:            e.name,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.code, e.text, trace, corr, ts),
		ErrorCodes:       []int{e.code},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
		ErrorURI:         h.base(r) + "/error?code=" + strconv.Itoa(e.code),
	})
}

// writeJSON writes v as an uncacheable application/json answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own maps and structs of strings and numbers reach here
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Cache-Control", "no-store, no-cache")
	hd.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(b) // a failed write means the client is gone
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// isUUID reports whether s has the 8-4-4-4-12 hex shape.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
