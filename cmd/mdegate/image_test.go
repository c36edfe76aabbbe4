package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Dockerfile's final stage cannot be built here (no image registry), so this test checks
// what it relies on: the binary built as the Dockerfile builds it (static, -trimpath, version
// stamped) runs as the image's non-root user (65532, when the test runs as root), from a
// working directory it cannot write, without HOME, and with nothing but its own file, the
// config and the CA roots it is given.

const imageUID = 65532 // the Dockerfile's USER, distroless's nonroot

// imageCommit is what the Dockerfile's COMMIT build argument stamps in the test's binary.
const imageCommit = "0123456789abcdef0123456789abcdef01234567"

// buildImageBinary builds cmd/mdegate as the Dockerfile does into a directory the image's
// user can read.
func buildImageBinary(t *testing.T, version string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain on PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mdegate")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version+" -X main.commit="+imageCommit, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	openUp(t, dir)
	return bin
}

// openUp makes dir and its parent (both made by t.TempDir, mode 0700) traversable by the
// image's user.
func openUp(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// imageCommand runs the binary the way the image does: as 65532 when possible, in an
// unwritable working directory, with only the given environment (no HOME).
func imageCommand(t *testing.T, ctx context.Context, bin string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	wd := t.TempDir()
	openUp(t, wd)
	if err := os.Chmod(wd, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(wd, 0o755) })
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = wd
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: imageUID, Gid: imageUID}}
	} else {
		t.Logf("not root: running as uid %d, not %d", os.Geteuid(), imageUID)
	}
	return cmd
}

func TestImageBinary(t *testing.T) {
	t.Parallel()
	bin := buildImageBinary(t, "v9.8.7-image")
	// Nothing but what a container has: no HOME, no USER, a minimal PATH.
	baseEnv := []string{"PATH=/usr/local/bin"}

	for _, arg := range []string{"version", "--version"} {
		t.Run(arg, func(t *testing.T) {
			out, err := imageCommand(t, context.Background(), bin, baseEnv, arg).CombinedOutput()
			want := "mdegate v9.8.7-image (commit " + imageCommit + ", " + runtime.Version() + ")"
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("%s: %q, %v; want %q", arg, out, err, want)
			}
		})
	}

	// The exit status, which only main sets: 0, 1 when the command failed, 2 for a wrong
	// command line (issue 18: usage errors exited 1, serve -h exited 1).
	t.Run("exit status", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want int
		}{
			{[]string{"serve", "-h"}, 0},
			{[]string{"help", "check"}, 0},
			{[]string{"check-config", "-config", "/nonexistent/mdegate.yaml"}, 1},
			{[]string{}, 2},
			{[]string{"nope"}, 2},
			{[]string{"key", "-raw"}, 2},
			{[]string{"check", "stray"}, 2},
			{[]string{"token", "-config"}, 2},
		} {
			err := imageCommand(t, context.Background(), bin, baseEnv, tt.args...).Run()
			got := 0
			if ee, ok := err.(*exec.ExitError); ok {
				got = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("mdegate %v exited %d, want %d", tt.args, got, tt.want)
			}
		}
	})

	t.Run("static", func(t *testing.T) {
		// A cgo binary would name its dynamic loader; distroless/static has none.
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "/lib64/ld-linux") || strings.Contains(string(b), "/lib/ld-musl") {
			t.Error("the binary is dynamically linked")
		}
	})

	t.Run("demo", func(t *testing.T) {
		cmd := imageCommand(t, context.Background(), bin, baseEnv, "demo", "-listen", "127.0.0.1:0")
		listen := startAndWaitListening(t, cmd)
		resp, err := http.Get("http://" + listen + "/api/alerts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest { // MissingTenant: the gateway answered
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		stopAndWait(t, cmd)
	})

	t.Run("serve", func(t *testing.T) {
		secret := "image-secret~" + strings.Repeat("x", 12)
		emu := startEmulator(t, secret)
		cfgPath := writeConfig(t, emu, func(ca string) string {
			return demoYAML(emu, "127.0.0.1:0", "${MDEGATE_CLIENT_SECRET}", ca, "")
		})
		cfgDir := filepath.Dir(cfgPath)
		openUp(t, cfgDir)
		for _, f := range []string{cfgPath, filepath.Join(cfgDir, "ca.pem")} {
			if err := os.Chmod(f, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		env := append(baseEnv, "MDEGATE_CLIENT_SECRET="+secret)
		cmd := imageCommand(t, context.Background(), bin, env, "serve", "-config", cfgPath)
		listen := startAndWaitListening(t, cmd)
		req, _ := http.NewRequest("GET", "http://"+listen+"/api/machines", nil)
		req.Header.Set("X-Tenant-ID", "contoso")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("forwarded call: %d %s", resp.StatusCode, body)
		}
		stopAndWait(t, cmd)
	})
}

// startAndWaitListening starts cmd and waits for its "mdegate listening" log line; it
// returns the address. The rest of the output is drained until the process ends.
func startAndWaitListening(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			var m struct{ Message, Listen string }
			if !sent && json.Unmarshal(sc.Bytes(), &m) == nil && m.Message == "mdegate listening" {
				found <- m.Listen
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("the process ended before listening: %v", cmd.ProcessState)
		}
		return addr
	case <-time.After(20 * time.Second):
		t.Fatal("no \"mdegate listening\" line in 20 s")
	}
	return ""
}

// stopAndWait sends SIGTERM, as a container runtime does, and expects exit 0.
func stopAndWait(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0", fmt.Sprint(err))
	}
}
