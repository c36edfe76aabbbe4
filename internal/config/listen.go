package config

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The top-level keys about the process: listen, admin_listen, shutdown_timeout and log.

// LogConfig is the log section.
type LogConfig struct {
	// Level is the minimum level logged: debug, info, warn or error. Unset: info.
	Level string `yaml:"level"`
	// Format is json (one object per line) or console (human-readable). Unset: console when
	// the log goes to a terminal, json otherwise (a file, a pipe, a container's log).
	Format string `yaml:"format"`
}

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "console"}
)

// validateListen checks listen, admin_listen, shutdown_timeout and log.
func (c *Config) validateListen(ps *problems) {
	if msg := checkListen(c.Listen); msg != "" {
		ps.add("listen", "%s", msg)
	}
	if !oneOf(c.Log.Level, logLevels) {
		ps.add("log.level", "%q is not a log level (want %s)", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if c.Log.Format != "" && !oneOf(c.Log.Format, logFormats) {
		ps.add("log.format", "%q is not a log format (want %s)", c.Log.Format, strings.Join(logFormats, ", "))
	}
	if c.AdminListen != "" {
		if msg := checkListen(c.AdminListen); msg != "" {
			ps.add("admin_listen", "%s", msg)
		} else if c.AdminListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			ps.add("admin_listen", "is also listen; leave admin_listen unset to serve both on one listener")
		}
	}
	if c.ShutdownTimeout < 0 {
		ps.add("shutdown_timeout", "%v is negative", c.ShutdownTimeout)
	}
}

// ShutdownGrace is shutdown_timeout, or DefaultShutdownTimeout when it is zero.
func (c *Config) ShutdownGrace() time.Duration {
	if c.ShutdownTimeout > 0 {
		return c.ShutdownTimeout
	}
	return DefaultShutdownTimeout
}

// checkListen returns what is wrong with a listen address, or "".
func checkListen(s string) string {
	const want = "host:port or unix:/path (e.g. 127.0.0.1:8080)"
	if s == "" {
		return "is empty; want " + want
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if !filepath.IsAbs(p) {
			return "the socket path must be absolute"
		}
		return ""
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "is not " + want
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "the port is not a number from 0 to 65535"
	}
	return ""
}

// isPrivateListen reports whether a listen address is reachable only from this host: a Unix
// socket, a loopback IP, or localhost. ":8080" and "0.0.0.0:8080" are every interface.
func isPrivateListen(s string) bool {
	if strings.HasPrefix(s, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
