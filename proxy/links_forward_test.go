package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// fixedTokens hands every tenant the same token: these tests are about answers, not tokens.
type fixedTokens struct{}

func (fixedTokens) Token(context.Context, string) (tokens.Token, error) {
	return tokens.Token{Bearer: "Bearer test"}, nil
}

// TokenFor serves every surface (MDE, XDR, Graph) the same token.
func (fixedTokens) TokenFor(context.Context, string, string) (tokens.Token, error) {
	return tokens.Token{Bearer: "Bearer test"}, nil
}

// newHandler is proxy.New for options that must be valid.
func newHandler(tb testing.TB, opts proxy.Options) *proxy.Handler {
	tb.Helper()
	h, err := proxy.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// What the gateway does to the headers and bodies of answers, between a real upstream and a
// real gateway on loopback: Location and JSON links rewritten, everything else as it was.
func TestAnswerRewriting(t *testing.T) {
	const sas = "https://mdeexport.blob.core.windows.net/x/f.gz?sig=S"
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/machines/m1/isolate":
			w.Header().Set("Location", "https://api-us3.securitycenter.microsoft.com/api/machineactions/7")
			w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"@odata.context":"https://api.security.microsoft.com/api/$metadata#MachineActions/$entity","id":"7"}`)
		case "/api/indicators/5":
			w.Header().Set("Location", "/api/indicators/5")
			w.WriteHeader(http.StatusNoContent)
		case "/api/files/x/download":
			w.Header().Set("Location", sas)
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", "41")
			_, _ = io.WriteString(w, `{"@odata.context":"https://api.security.m`)
		}
	}))
	defer upstream.Close()
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: upstream.URL},
		Tenants: []routing.TenantOptions{{Name: "contoso", ID: "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"}}})
	if err != nil {
		t.Fatal(err)
	}
	pool := upstream.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	gw := httptest.NewServer(newHandler(t, proxy.Options{Routes: routes, Tokens: fixedTokens{}, Transport: proxy.NewTransport(pool, 0)}))
	defer gw.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		method, path, wantLocation, wantBody string
		wantLength                           int64
	}{
		{"POST", "/tenants/contoso/api/machines/m1/isolate", gw.URL + "/tenants/contoso/api/machineactions/7",
			`{"@odata.context":"` + gw.URL + `/tenants/contoso/api/$metadata#MachineActions/$entity","id":"7"}`, -1},
		{"DELETE", "/tenants/contoso/api/indicators/5", gw.URL + "/tenants/contoso/api/indicators/5", "", 0},
		{"GET", "/tenants/contoso/api/files/x/download", sas, `{"@odata.context":"https://api.security.m`, 41},
	}
	// A small answer keeps a length: it is rewritten whole (smallanswer.go).
	tests[0].wantLength = int64(len(tests[0].wantBody))
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, gw.URL+tt.path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body %s, want %s", body, tt.wantBody)
			}
			if resp.ContentLength != tt.wantLength {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, tt.wantLength)
			}
			if strings.Contains(resp.Header.Get("Location"), "securitycenter") {
				t.Error("a Location still points at MDE")
			}
		})
	}
}
