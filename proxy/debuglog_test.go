package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/tokens"
)

// rotatingTokens hands out sekrit-1 until it is invalidated, then sekrit-2.
type rotatingTokens struct{ gen atomic.Int32 }

func (r *rotatingTokens) Token(context.Context, string) (tokens.Token, error) {
	if r.gen.Load() == 0 {
		return tokens.Token{Bearer: "Bearer sekrit-1"}, nil
	}
	return tokens.Token{Bearer: "Bearer sekrit-2"}, nil
}

func (r *rotatingTokens) Invalidate(string, tokens.Token) { r.gen.Store(1) }

// Issue 18 item 3: log.level debug says what an operator needs to follow a call (the region
// chosen, each token fetch with its duration, quota waits and replays), and no debug line
// holds a token or a key; at info none of them is built.
func TestDebugLinesFollowACall(t *testing.T) {
	t.Parallel()
	for _, level := range []zerolog.Level{zerolog.DebugLevel, zerolog.InfoLevel} {
		t.Run(level.String(), func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			var mu sync.Mutex
			var n atomic.Int32
			env := startHostile(t, proxy.Options{
				Tokens:  &rotatingTokens{},
				Logger:  zerolog.New(lockedWriter{&mu, &logs}).Level(level),
				Clients: []proxy.Client{{Name: "soc", KeySHA256: keyHash("s3cret-key"), Tenants: []string{"contoso"}}},
			}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Header.Get("Authorization") == "Bearer sekrit-1":
					w.WriteHeader(http.StatusUnauthorized)
				case n.Add(1) == 1:
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusTooManyRequests)
				default:
					_, _ = io.WriteString(w, `{"value":[]}`)
				}
			}))
			req, _ := http.NewRequest("GET", env.gw.URL+"/api/machines", nil)
			req.Header.Set("X-Tenant-ID", "contoso")
			req.Header.Set("Authorization", "Bearer s3cret-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			env.gw.Close()
			mu.Lock()
			out := logs.String()
			mu.Unlock()
			if strings.Contains(out, "sekrit") || strings.Contains(out, "s3cret") {
				t.Errorf("a log line holds a secret:\n%s", out)
			}
			got := map[string][]map[string]any{}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("not json: %q", l)
				}
				msg, _ := m["message"].(string)
				got[msg] = append(got[msg], m)
			}
			if level != zerolog.DebugLevel {
				if len(got) != 1 || len(got["request"]) != 1 {
					t.Errorf("at info got lines %v, want the request line alone", keys(got))
				}
				return
			}
			if r := got["region chosen"]; len(r) != 1 || r[0]["region"] != "global" || r[0]["tenant"] != "contoso" {
				t.Errorf("region chosen lines %v", r)
			}
			tok := got["token"]
			if len(tok) != 2 || tok[0]["reason"] != "call" || tok[1]["reason"] != "401" {
				t.Fatalf("token lines %v, want the call's and the 401 replay's", tok)
			}
			if _, ok := tok[0]["duration_ms"].(float64); !ok {
				t.Errorf("token line without duration_ms: %v", tok[0])
			}
			if len(got["replay after 401 with a fresh token"]) != 1 {
				t.Errorf("no 401 replay line in %v", keys(got))
			}
			if q := got["quota wait"]; len(q) != 1 || q[0]["reason"] != "retry_after" {
				t.Errorf("quota wait lines %v, want one for the 429's Retry-After", q)
			}
			id := got["request"][0]["request_id"]
			for msg, ls := range got {
				for _, l := range ls {
					if l["request_id"] != id {
						t.Errorf("%q line has request_id %v, want the call's %v", msg, l["request_id"], id)
					}
				}
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
