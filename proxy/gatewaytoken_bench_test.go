package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/internal/tokenendpoint"
)

// BenchmarkGatewayToken is what a gateway token costs a call: a signature check (the first
// call with a token) against the cache's lookup (every later call).
func BenchmarkGatewayToken(b *testing.B) {
	h, err := tokenendpoint.New(tokenendpoint.Options{
		Tenant: func(string) (tokenendpoint.Tenant, bool) { return tokenendpoint.Tenant{ID: "t1"}, true },
	})
	if err != nil {
		b.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"},
		"scope": {"https://api.securitycenter.microsoft.com/.default"}}
	req := httptest.NewRequest("POST", "http://gw/t1/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || rec.Code != http.StatusOK {
		b.Fatal(rec.Body.String())
	}
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.Verify(tok.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		v := newVerifiedTokens(h)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.verify(tok.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
}
