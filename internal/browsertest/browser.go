// Package browsertest loads pages in a real headless Chromium (Debian's chromium package) for
// tests that assert on the DOM a browser actually builds. Outside CI a test without Chromium
// skips, saying why; in CI (CI=true) it fails instead, so a broken CI setup cannot hide behind
// skips. .ci/run installs the package.
//
// The README's screenshots (docs/status-page.png, docs/consent-page.png) are made by the
// browser tests when MDEGATE_SCREENSHOTS is set:
//
//	MDEGATE_SCREENSHOTS=1 go test ./internal/statuspage ./internal/consent -run TestBrowser
package browsertest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// timeout bounds one browser run; it only stops a hung browser, it measures nothing.
const timeout = 2 * time.Minute

// Browser returns the Chromium binary, or skips (fails in CI) when there is none.
func Browser(t testing.TB) string {
	t.Helper()
	p := chromiumPath
	if _, err := os.Stat(p); err != nil {
		lp, lerr := exec.LookPath("chromium")
		if lerr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("no chromium (%v): CI must provide it (.ci/run installs it)", err)
			}
			t.Skipf("no chromium at %s: skipping (apt-get install chromium, or run .ci/run)", p)
		}
		p = lp
	}
	return p
}

// run starts headless Chromium with a fresh profile under t.TempDir(), its background
// networking (updates, sync, extensions) off, and the extra flags, and returns its standard
// output. The pages loaded are the tests' own loopback servers.
func run(t testing.TB, extra ...string) []byte {
	t.Helper()
	bin := Browser(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, errOut.Bytes())
	}
	return out.Bytes()
}

// DOM loads url and returns the serialized DOM after the page loaded (--dump-dom).
func DOM(t testing.TB, url string) string {
	t.Helper()
	return string(run(t, "--dump-dom", url))
}

// Screenshot loads url in a window of width×height CSS pixels and writes a PNG to file.
func Screenshot(t testing.TB, url, file string, width, height int) {
	t.Helper()
	run(t, "--screenshot="+file, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), url)
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Fatalf("chromium wrote no screenshot to %s: %v", file, err)
	}
}
