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

// testGateway is the real CLI (run "serve") in front of the demo's emulator.
type testGateway struct {
	URL    string // http://127.0.0.1:PORT
	emu    *emulator.Emulator
	logs   *syncBuffer
	secret string
	config string // path of the config file
	// secrets are more values that must never reach the log (federated assertions...),
	// checked at cleanup with the secret and the tokens.
	secrets []string
}

// startGateway starts the demo emulator (tweaked by opts) and `mdegate serve` against it with
// extra YAML appended to the config. At cleanup it stops both and checks that no secret or
// token reached the gateway's log.
func startGateway(t *testing.T, extra string, opts ...func(*emulator.Options)) *testGateway {
	t.Helper()
	secret := "test-secret~" + strings.Repeat("s3", 8)
	emu := startEmulator(t, secret, opts...)
	return serveGateway(t, emu, secret, func(ca string) string {
		return demoYAML(emu, "127.0.0.1:0", secret, ca, extra)
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

// serveGateway runs `mdegate serve` with the config that config(caFile) returns, caFile being
// the emulator's CA written to a file. At cleanup it stops the gateway and checks that no
// secret or token reached its log.
func serveGateway(t *testing.T, emu *emulator.Emulator, secret string, config func(caFile string) string) *testGateway {
	t.Helper()
	cfgPath := writeConfig(t, emu, config)
	g := &testGateway{emu: emu, logs: &syncBuffer{}, secret: secret, config: cfgPath}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "-config", cfgPath}, g.logs, g.logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
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
		}
		time.Sleep(5 * time.Millisecond)
	}
	return g
}

// writeConfig writes the emulator's CA and the config that config(caFile) returns into a
// temporary directory and returns the config's path.
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
	logs := g.logs.String()
	needles := append([]string{g.secret, "Bearer ", "eyJ"}, g.secrets...)
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

// get sends a request to the gateway with the given tenant header ("" for none).
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
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
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
