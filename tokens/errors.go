package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// Error is a failure to get a token for a tenant. Its Error text is safe to log: it never holds
// the token endpoint's raw body, a secret or an assertion. Clients are shown Message.
type Error struct {
	// TenantID is the tenant the token was for.
	TenantID string
	// Code is Entra's error code, such as "AADSTS700016", or "" when Entra did not answer.
	Code string
	// Status is the token endpoint's HTTP status, or 0 when it did not answer.
	Status int
	// err is the cause, kept for errors.Is/As; never shown to a client.
	err error
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("tenant %s: token request failed: %s (%s)", e.TenantID, e.Code, e.Hint())
	}
	if e.Status != 0 {
		return fmt.Sprintf("tenant %s: token request failed: HTTP %d", e.TenantID, e.Status)
	}
	return fmt.Sprintf("tenant %s: token request failed: %s", e.TenantID, e.Hint())
}

func (e *Error) Unwrap() error { return e.err }

// Message is the one-line explanation a client may see: the tenant, Entra's code and a hint.
func (e *Error) Message() string {
	if e.Code != "" {
		return fmt.Sprintf("no token for tenant %s: %s: %s", e.TenantID, e.Code, e.Hint())
	}
	return fmt.Sprintf("no token for tenant %s: %s", e.TenantID, e.Hint())
}

// hints explains the Entra codes a partner meets when getting client-credentials tokens for
// customer tenants.
var hints = map[string]string{
	"AADSTS700016":  "the app is not consented in this tenant (or the client ID is wrong): ask the customer's admin to grant consent",
	"AADSTS7000229": "the app has no service principal in this tenant: ask the customer's admin to grant consent",
	"AADSTS7000215": "the client secret is wrong",
	"AADSTS7000222": "the client secret has expired: create a new one",
	"AADSTS700027":  "the certificate assertion was rejected: is the certificate registered on the app?",
	"AADSTS500011":  "the tenant has no Defender for Endpoint resource",
	"AADSTS90002":   "the tenant does not exist",
	"AADSTS700024":  "the federated assertion has expired or is not yet valid",
	"AADSTS70021":   "no federated credential on the app matches the assertion",
}

// Hint is a one-line suggestion for the operator.
func (e *Error) Hint() string {
	if h, ok := hints[e.Code]; ok {
		return h
	}
	switch {
	case e.Code != "":
		return "Entra refused the token request"
	case e.Status >= 500:
		return "the token endpoint failed; it will be retried"
	case e.Status != 0:
		return "the token endpoint refused the request"
	case errors.Is(e.err, errTimeout):
		return "the token endpoint did not answer in time"
	case errors.Is(e.err, errAssertion):
		return "the client assertion could not be read: is the federated token file there and readable?"
	default:
		return "the token endpoint is unreachable"
	}
}

var (
	errTimeout   = errors.New("token request timed out")
	errAssertion = errors.New("client assertion unavailable")
)

// classify turns an MSAL error into an *Error without keeping any of the response body.
func classify(tenantID string, err error) *Error {
	te := &Error{TenantID: tenantID, err: err}
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		te.Status = ce.Resp.StatusCode
		te.err = fmt.Errorf("token endpoint answered HTTP %d", te.Status) // drop the body-bearing error
		if ce.Resp.Body != nil {
			var body struct {
				ErrorCodes []int `json:"error_codes"`
			}
			b, _ := io.ReadAll(io.LimitReader(ce.Resp.Body, 64<<10))
			if json.Unmarshal(b, &body) == nil && len(body.ErrorCodes) > 0 {
				te.Code = "AADSTS" + strconv.Itoa(body.ErrorCodes[0])
			}
		}
	}
	return te
}
