package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// version and commit are stamped at build time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD)"
//
// Left empty, they come from what the Go toolchain recorded in the binary (buildVersion).
var version, commit string

// build is what this binary says it is: `mdegate version`, mdegate_build_info, /readyz and
// the "mdegate listening" line all show it.
type build struct {
	// Version is -X main.version, else the main module's version when `go install
	// module@version` or a build in a checkout recorded one, else "dev".
	Version string
	// Commit is -X main.commit, else vcs.revision (with "-dirty" when the checkout had
	// changes), else "unknown".
	Commit string
	// Go is the toolchain that built it.
	Go string
}

// buildVersion is this binary's build, worked out once.
var buildVersion = sync.OnceValue(func() build { return resolveBuild(version, commit, debug.ReadBuildInfo) })

// resolveBuild prefers what -ldflags stamped and falls back to the build info the toolchain
// records (read), so a `go install` or a local build says more than "dev".
func resolveBuild(version, commit string, read func() (*debug.BuildInfo, bool)) build {
	b := build{Version: version, Commit: commit, Go: runtime.Version()}
	bi, ok := read()
	if ok && bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	if ok && b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	if ok && b.Commit == "" {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" && modified == "true" {
			rev += "-dirty"
		}
		b.Commit = rev
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// String is the line `mdegate version` prints: mdegate v1.2.3 (commit 0123abc, go1.26.0).
func (b build) String() string {
	return fmt.Sprintf("mdegate %s (commit %s, %s)", b.Version, b.Commit, b.Go)
}

// versionCommand prints the version, the commit and the Go version.
func versionCommand(_ *flag.FlagSet, c cli) func(context.Context) error {
	return func(context.Context) error {
		_, err := fmt.Fprintln(c.stdout, buildVersion())
		return err
	}
}
