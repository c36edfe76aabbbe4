package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Key is the YAML path, like "tenants[1].id" or "cloud.regions.eu"; "" for the file.
	Key string
	// Line is the 1-based line of Key (or of its nearest parent present in the file); 0 when
	// unknown.
	Line int
	// Msg says what is wrong. It never contains a secret.
	Msg string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	// Messages like `unknown key "app.x"` already name their key.
	if p.Key != "" && !strings.Contains(p.Msg, strconv.Quote(p.Key)) {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in a configuration: ordered by line, then key, when it was
// parsed; in the order found for a Config built in code (Check), which has no lines.
type Error struct {
	Path     string    // the name given to Parse (the file for Load), "" when none
	Problems []Problem // never empty
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	if len(e.Problems) == 1 {
		b.WriteString(": 1 problem:")
	} else {
		fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems is the one list every section's validate and resolve writes into.
type problems []Problem

// add records a problem at key; the line is filled in later from the YAML walk.
func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Key < ps[j].Key
	})
}
