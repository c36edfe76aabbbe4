package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// Issue 18: every command had one flag set (serve -h listed -raw and -url, `key -raw -tenant x`
// ran), -h exited 1, usage errors exited 1 and stray arguments were ignored.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		for _, args := range [][]string{{cmd.name, "-h"}, {cmd.name, "--help"}, {"help", cmd.name}} {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), args, &stdout, &stderr); err != nil || exitCode(err, &stderr) != 0 {
				t.Errorf("%v: %v, want success", args, err)
			}
			out := stdout.String()
			if !strings.HasPrefix(out, "usage: mdegate "+cmd.name) || !strings.Contains(out, cmd.summary) || stderr.Len() != 0 {
				t.Errorf("%v printed stdout %q stderr %q, want the command's usage on stdout", args, out, stderr.String())
			}
		}
	}
	// Each command lists its own flags and no other's.
	out, _, _ := runCmd(t, "serve", "-h")
	for _, other := range []string{"-raw", "-url", "-tenant", "-listen", "-o "} {
		if strings.Contains(out, other) {
			t.Errorf("serve -h lists %s:\n%s", other, out)
		}
	}
	if !strings.Contains(out, "-config") {
		t.Errorf("serve -h does not list -config:\n%s", out)
	}
	out, _, _ = runCmd(t, "help", "token")
	for _, want := range []string{"-config", "-tenant", "-raw"} {
		if !strings.Contains(out, want) {
			t.Errorf("help token does not list %s:\n%s", want, out)
		}
	}
	// The command list.
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		out, _, err := runCmd(t, args...)
		if err != nil || !strings.Contains(out, "healthcheck") || !strings.Contains(out, "consent-url") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "mdegate.yaml")
	for _, tt := range []struct {
		args      []string
		stderr    string // what was wrong
		usageOf   string // whose usage follows
		errOutput bool
	}{
		{[]string{}, "", "mdegate <command>", false},
		{[]string{"nope"}, `unknown command "nope"`, "mdegate <command>", false},
		{[]string{"help", "nope"}, `no command "nope"`, "mdegate <command>", false},
		{[]string{"key", "-raw"}, "mdegate key: flag provided but not defined: -raw", "mdegate key", false},
		{[]string{"key", "-raw", "-tenant", "x", "-listen", "y"}, "flag provided but not defined: -raw", "mdegate key", false},
		{[]string{"serve", "-url", "http://x"}, "flag provided but not defined: -url", "mdegate serve", false},
		{[]string{"token", "-config"}, "mdegate token: flag needs an argument: -config", "mdegate token", false},
		{[]string{"token", "-config", cfg}, "mdegate token: -tenant NAME is required", "mdegate token", false},
		{[]string{"check", "-config", cfg, "stray"}, `mdegate check: unexpected argument "stray"`, "mdegate check", false},
		{[]string{"check", "stray", "-config", cfg}, `unexpected argument "stray"`, "mdegate check", false},
		{[]string{"check", "-o", "yaml", "-config", cfg}, `mdegate check: -o "yaml": want table or json`, "mdegate check", false},
		{[]string{"version", "extra"}, `unexpected argument "extra"`, "mdegate version", false},
		{[]string{"demo", "-listen"}, "flag needs an argument: -listen", "mdegate demo", false},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, err := runCmd(t, tt.args...)
			var ue *usageError
			if !errors.As(err, &ue) || exitCode(err, &bytes.Buffer{}) != 2 {
				t.Errorf("err = %v, want a usage error (exit 2)", err)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tt.stderr) || !strings.Contains(stderr, "usage: "+tt.usageOf) {
				t.Errorf("stderr %q, want %q and the usage of %s", stderr, tt.stderr, tt.usageOf)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err    error
		want   int
		stderr string
	}{
		{nil, 0, ""},
		{errReported, 1, ""},
		{fmt.Errorf("check: %w", errReported), 1, ""},
		{errors.New("config: open mdegate.yaml: no such file"), 1, "mdegate: config: open mdegate.yaml: no such file\n"},
		{usagef("-tenant NAME is required"), 2, ""},
		{fmt.Errorf("wrapped: %w", usagef("x")), 2, ""},
	} {
		var stderr bytes.Buffer
		if got := exitCode(tt.err, &stderr); got != tt.want || stderr.String() != tt.stderr {
			t.Errorf("exitCode(%v) = %d, printed %q; want %d, %q", tt.err, got, stderr.String(), tt.want, tt.stderr)
		}
	}
}

// MDEGATE_CONFIG is the default of every command's -config. Not parallel: it sets the
// environment.
func TestConfigFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "from-env.yaml", []byte(minimal))
	t.Setenv("MDEGATE_CONFIG", cfg)
	out, stderr, err := runCmd(t, "check-config")
	if err != nil || !strings.HasPrefix(out, cfg+": ok") {
		t.Errorf("check-config with $MDEGATE_CONFIG: %v\n%s%s", err, out, stderr)
	}
	// -config still wins.
	other := writeFile(t, dir, "other.yaml", []byte(minimal))
	if out, _, err := runCmd(t, "check-config", "-config", other); err != nil || !strings.HasPrefix(out, other+": ok") {
		t.Errorf("-config over $MDEGATE_CONFIG: %v\n%s", err, out)
	}
	// Every command that reads a config has its default from the environment.
	for _, cmd := range commands {
		var stdout bytes.Buffer
		fs, _ := cmd.flagSet(cli{stdout: &stdout, stderr: &stdout})
		if f := fs.Lookup("config"); f != nil && f.DefValue != cfg {
			t.Errorf("%s -config defaults to %q, want $MDEGATE_CONFIG %q", cmd.name, f.DefValue, cfg)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	info := func(version string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/mdegate/mdegate", Version: version}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tt := range []struct {
		name            string
		version, commit string
		read            func() (*debug.BuildInfo, bool)
		want            string
	}{
		{"ldflags", "v1.2.3", "abc123", info("(devel)", "vcs.revision", "fff"), "mdegate v1.2.3 (commit abc123, go1.99.1)"},
		{"go install module@version", "", "", info("v1.4.0"), "mdegate v1.4.0 (commit unknown, go1.99.1)"},
		{"build in a checkout", "", "", info("(devel)", "vcs.revision", "0123abcd", "vcs.modified", "false"), "mdegate dev (commit 0123abcd, go1.99.1)"},
		{"dirty checkout", "", "", info("v0.0.0-20260101000000-0123abcd0000+dirty", "vcs.revision", "0123abcd", "vcs.modified", "true"),
			"mdegate v0.0.0-20260101000000-0123abcd0000+dirty (commit 0123abcd-dirty, go1.99.1)"},
		{"version stamped only", "v2.0.0", "", info("(devel)", "vcs.revision", "beef"), "mdegate v2.0.0 (commit beef, go1.99.1)"},
		{"no build info", "", "", none, "mdegate dev (commit unknown, " + runtime.Version() + ")"},
	} {
		if got := resolveBuild(tt.version, tt.commit, tt.read).String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, arg := range []string{"version", "--version", "-version"} {
		out, _, err := runCmd(t, arg)
		if err != nil || out != buildVersion().String()+"\n" {
			t.Errorf("%s: %q, %v", arg, out, err)
		}
	}
}
