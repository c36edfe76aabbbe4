// Package redistest gives tests a real Redis: the shared one CI starts (MDEGATE_TEST_REDIS),
// or a redis-server of their own they can kill and restart. Outside CI a test without Redis
// skips, saying why; in CI (CI=true) it fails instead, so a broken CI setup cannot hide
// behind skips.
package redistest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvURL names the variable holding the shared test Redis's URL (redis://127.0.0.1:6390/0).
const EnvURL = "MDEGATE_TEST_REDIS"

// unavailable skips the test outside CI and fails it in CI.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: CI must provide Redis (.ci/run starts one)", why)
	}
	t.Skipf("%s: skipping (run .ci/run, or set %s=redis://127.0.0.1:6379/0)", why, EnvURL)
}

// URL returns the shared test Redis's URL, or skips (fails in CI) when it is not set.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		unavailable(t, EnvURL+" is not set")
	}
	return u
}

// Prefix returns a key prefix no other test uses, so tests may share one Redis.
func Prefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "mdegate-test-" + hex.EncodeToString(b[:]) + ":"
}

// Server is a redis-server process of the test's own, on a loopback port, without
// persistence, its files under t.TempDir(), and with a random password (in URL), so tests
// can check it never reaches a log. It is killed at cleanup.
type Server struct {
	// Password is the server's requirepass.
	Password string

	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a redis-server, or skips (fails in CI) when the binary is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, dir: t.TempDir(), port: port, Password: "redis-pw-" + Prefix(t)[len("mdegate-test-"):len("mdegate-test-")+12]}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", s.Password, s.port) }

// Kill kills the server (SIGKILL, as a crash) and waits for it. Killing a dead server is a
// no-op.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same port (empty: nothing was persisted) and waits
// until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--requirepass", s.Password, "--dir", s.dir, "--logfile", "redis.log")
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for !ping(s.port) {
		select {
		case <-done:
			log, _ := os.ReadFile(s.dir + "/redis.log")
			s.t.Fatalf("redis-server exited:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatal("redis-server did not answer PING within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ping(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (line == "+PONG\r\n" || strings.HasPrefix(line, "-NOAUTH")) // up, with a password
}
