package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/emulator"
)

// syncBuffer collects what the gateway writes, from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the JSON log lines whose "message" is msg.
func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitLines waits until the log has n lines with message msg: a call's line is written as
// its handler returns, which may be just after the client has read the answer.
func (s *syncBuffer) waitLines(t *testing.T, msg string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := s.lines(t, msg)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor waits until cond holds, checking every few milliseconds, and fails t after 10 s:
// the wait ends on the event itself, not on a guess of how long it takes on this machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reached counts the requests for path that reached MDE, answered or not. (Seen.TenantID
// is known only once the emulator has served the call, after any latency it injects.)
func reached(emu *emulator.Emulator, path string) int {
	n := 0
	for _, s := range emu.Requests() {
		if s.Path == path {
			n++
		}
	}
	return n
}

// testGateway is the real CLI (run "serve") in front of the demo's emulator.
type testGateway struct {
	URL    string // http://127.0.0.1:PORT
	Admin  string // http://127.0.0.1:PORT of admin_listen; "" when it is not set
	TLSURL string // https://127.0.0.1:PORT when a tls section is configured
	emu    *emulator.Emulator
	logs   *syncBuffer
	secret string
	config string       // path of the config file
	ca     string       // path of the emulator's CA file
	keys   []string     // callers' keys, which must not reach the log either
	client *http.Client // nil: http.DefaultClient
	// secrets are more values that must never reach the log (federated assertions, a second
	// app's secret...), checked at cleanup with the secret and the tokens.
	secrets []string

	reloads     chan struct{} // a send reloads, as SIGHUP does
	cancel      context.CancelFunc
	done        chan error
	stopped     bool
	runErr      error
	adminBodies syncBuffer // what /readyz and /metrics answered, checked like the log
}

// startGateway starts the demo emulator (tweaked by opts) and `mdegate serve` against it with
// extra YAML appended to the config. At cleanup it stops both and checks that no secret or
// token reached the gateway's log.
func startGateway(t *testing.T, extra string, opts ...func(*emulator.Options)) *testGateway {
	t.Helper()
	return startGatewayAt(t, "127.0.0.1:0", extra, opts...)
}

// startGatewayAt is startGateway with the plain listener at listen (host:port or unix:/path).
func startGatewayAt(t *testing.T, listen, extra string, opts ...func(*emulator.Options)) *testGateway {
	t.Helper()
	secret := "test-secret~" + strings.Repeat("s3", 8)
	emu := startEmulator(t, secret, opts...)
	return serveGateway(t, emu, secret, func(ca string) string {
		return demoYAML(emu, listen, secret, ca, extra)
	})
}

// startEmulator starts the demo emulator with the app secret, tweaked by opts, and closes it
// at cleanup (after any gateway started later has stopped).
func startEmulator(t *testing.T, secret string, opts ...func(*emulator.Options)) *emulator.Emulator {
	t.Helper()
	eo := demoOptions(secret)
	for _, o := range opts {
		o(&eo)
	}
	emu, err := emulator.Start(eo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu
}

// serveGateway runs `mdegate serve` with the config that yamlFor(caFile) returns, caFile being
// the emulator's CA written to a file. At cleanup it stops the gateway and checks that no
// secret or token reached its log.
func serveGateway(t *testing.T, emu *emulator.Emulator, secret string, yamlFor func(caFile string) string) *testGateway {
	t.Helper()
	return serveGatewayQuota(t, emu, secret, yamlFor, 0)
}

// serveGatewayQuota is serveGateway with the quota window shortened to quotaMinute when it is
// not zero. The gateway gets g.reloads as its reload trigger.
func serveGatewayQuota(t *testing.T, emu *emulator.Emulator, secret string, yamlFor func(caFile string) string, quotaMinute time.Duration) *testGateway {
	t.Helper()
	cfgPath := writeConfig(t, emu, yamlFor)
	g := &testGateway{emu: emu, logs: &syncBuffer{}, secret: secret, config: cfgPath,
		ca: filepath.Join(filepath.Dir(cfgPath), "ca.pem"), reloads: make(chan struct{}), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	opts := gatewayOptions{Reload: g.reloads, QuotaMinute: quotaMinute}
	done := g.done
	// What `mdegate serve -config cfgPath` runs, with the test's options.
	go func() {
		cfg, _, err := config.Load(cfgPath)
		if err == nil {
			err = serve(ctx, cfg, g.logs, opts)
		}
		done <- err
	}()
	t.Cleanup(func() {
		if err := g.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
		checkNoSecrets(t, g)
	})
	deadline := time.Now().Add(10 * time.Second)
	for g.URL == "" {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, g.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not start:\n%s", g.logs)
		}
		for _, l := range g.logs.lines(t, "mdegate listening") {
			g.URL = "http://" + l["listen"].(string)
			if tl, ok := l["tls_listen"].(string); ok {
				g.TLSURL = "https://" + tl
			}
			if a, ok := l["admin_listen"].(string); ok {
				g.Admin = "http://" + a
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return g
}

// writeConfig writes the emulator's CA (as ca.pem) and the config that config(caFile) returns
// into a temporary directory and returns the config's path.
func writeConfig(t *testing.T, emu *emulator.Emulator, config func(caFile string) string) string {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, emu.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "mdegate.yaml")
	if err := os.WriteFile(cfgPath, []byte(config(ca)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// checkNoSecrets greps the whole log of a gateway run for the client secret, every token the
// emulator saw, and anything shaped like a bearer header or a JWT.
func checkNoSecrets(t *testing.T, g *testGateway) {
	t.Helper()
	logs := g.logs.String() + g.adminBodies.String()
	needles := append([]string{g.secret, "Bearer ", "eyJ"}, g.keys...)
	needles = append(needles, g.secrets...)
	for _, s := range g.emu.Requests() {
		if _, tok, ok := strings.Cut(s.Header.Get("Authorization"), " "); ok && tok != "" {
			needles = append(needles, tok)
		}
	}
	for _, n := range needles {
		if n != "" && strings.Contains(logs, n) {
			t.Errorf("the gateway's log holds a secret or token (%.12s...)", n)
		}
	}
}

// do sends a request to the gateway with the given tenant header ("" for none) and extra
// header pairs ("Host" sets the Host header).
func (g *testGateway) do(t *testing.T, method, path, tenant string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if tenant != "" {
		req.Header.Set("X-Tenant-ID", tenant)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1] // the connection still goes to the gateway on loopback
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	client := g.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	return resp, b
}

// mdeError decodes an error in MDE's shape.
func mdeError(t *testing.T, body []byte) (code, message, target string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, Target string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an MDE error body: %q", body)
	}
	return e.Error.Code, e.Error.Message, e.Error.Target
}

// getAll sends GET url for tenant with client (nil: http.DefaultClient) and reads the whole
// answer. It returns the status, or 0 and the error when the call or the read failed. It
// does not touch a testing.T, so load goroutines can call it.
func getAll(client *http.Client, url, tenant string) (int, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Tenant-ID", tenant)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// checkMessage fails t unless msg contains every string of has and none of hasNot (what it
// must not leak).
func checkMessage(t *testing.T, msg string, has, hasNot []string) {
	t.Helper()
	for _, s := range has {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q lacks %q", msg, s)
		}
	}
	for _, s := range hasNot {
		if strings.Contains(msg, s) {
			t.Errorf("message %q leaks %q", msg, s)
		}
	}
}

// stop ends `mdegate serve` as SIGTERM does and returns what run returned. Later calls
// return the same.
func (g *testGateway) stop() error {
	if !g.stopped {
		g.stopped = true
		g.cancel()
		g.runErr = <-g.done
	}
	return g.runErr
}

// writeConfig replaces the config file the way editors do (a new file renamed over it) with
// the demo config for listen, with extra appended and then edit applied.
func (g *testGateway) writeConfig(t *testing.T, listen, extra string, edit ...func(string) string) {
	t.Helper()
	y := demoYAML(g.emu, listen, g.secret, g.ca, extra)
	for _, e := range edit {
		y = e(y)
	}
	tmp := g.config + ".tmp"
	if err := os.WriteFile(tmp, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, g.config); err != nil {
		t.Fatal(err)
	}
}

// reload triggers a reload and waits for its outcome; it reports whether it was applied.
func (g *testGateway) reload(t *testing.T) bool {
	t.Helper()
	ok, refused := len(g.logs.lines(t, "config reloaded")), len(g.logs.lines(t, "config reload refused"))
	select {
	case g.reloads <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway did not take the reload")
	}
	return g.waitReload(t, ok, refused)
}

// waitReload waits until the log has one more reload outcome than ok and refused say.
func (g *testGateway) waitReload(t *testing.T, ok, refused int) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(g.logs.lines(t, "config reloaded")) > ok {
			return true
		}
		if len(g.logs.lines(t, "config reload refused")) > refused {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no reload outcome logged:\n%s", g.logs)
	return false
}
