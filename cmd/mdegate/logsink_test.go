package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.uber.org/zap"

	"github.com/mdegate/mdegate/internal/config"
)

// Issue 18 item 3: a line below log.level is never built (Debug returns nil, so nothing is
// encoded), and the level still follows a reload.
func TestLogSinkFiltersBeforeEncoding(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	s := newLogSink(&out, config.LogConfig{Level: "info"})
	log := s.logger()
	if ev := log.Debug(); ev != nil {
		t.Fatal("Debug() built an event at level info")
	}
	s.set(config.LogConfig{Level: "debug"})
	log.Debug().Msg("now on")
	if !strings.Contains(out.String(), `"now on"`) {
		t.Errorf("got %q, want the debug line after the level changed", out.String())
	}
}

// Issue 18 item 3: timestamps carry milliseconds; an unset format is json when the log is not
// a terminal.
func TestLogSinkMillisecondsAndJSONOffTerminal(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	s := newLogSink(&out, config.LogConfig{})
	log := s.logger()
	log.Info().Msg("hello")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("not json: %q", out.String())
	}
	ts, _ := line["time"].(string)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
		t.Errorf("time %q, want RFC 3339 UTC with milliseconds", ts)
	}
	out.Reset()
	s.set(config.LogConfig{Format: "console"})
	log.Info().Msg("hello")
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} INF hello`).MatchString(out.String()) {
		t.Errorf("console line %q, want the time of day with milliseconds first", out.String())
	}
}

// Issue 18 item 3: certmagic's zap logging goes through the sink: its schema, its level.
func TestCertmagicLogsThroughSink(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	s := newLogSink(&out, config.LogConfig{Level: "warn"})
	zl := newZapLogger(s.logger().With().Str("component", "certmagic").Logger()).Named("acme")
	zl.Info("obtaining certificate", zap.String("identifier", "gw.example"))
	if out.Len() != 0 {
		t.Fatalf("info line passed level warn: %q", out.String())
	}
	if ce := zl.Check(zap.InfoLevel, "x"); ce != nil {
		t.Error("zap Check passed info at level warn")
	}
	zl.With(zap.Int("attempt", 2)).Error("could not get certificate", zap.String("identifier", "gw.example"))
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("not one json line: %q", out.String())
	}
	for k, want := range map[string]any{"level": "error", "component": "certmagic", "logger": "acme",
		"message": "could not get certificate", "identifier": "gw.example", "attempt": float64(2)} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, line[k], want, out.String())
		}
	}
	if _, ok := line["time"]; !ok {
		t.Errorf("no time in %s", out.String())
	}
}

// Issue 18 item 3: an unset log.format is console on a terminal (the demo in a shell), json
// on anything else, a character device that is not a terminal included; an explicit format
// always wins.
func TestLogFormatDefaultFollowsTerminal(t *testing.T) {
	t.Parallel()
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer pty.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, c := range []struct {
		name    string
		out     *os.File
		format  string
		console bool
	}{
		{"terminal", pty, "", true},
		{"terminal, json asked", pty, "json", false},
		{"not a terminal", null, "", false},
		{"not a terminal, console asked", null, "console", true},
	} {
		s := newLogSink(c.out, config.LogConfig{Format: c.format})
		_, console := s.active.Load().w.(zerolog.ConsoleWriter)
		if console != c.console {
			t.Errorf("%s: console %v, want %v", c.name, console, c.console)
		}
	}
}
