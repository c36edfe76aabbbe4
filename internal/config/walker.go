package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The YAML tree walk.

// maxNodes bounds the walk, which follows aliases, against alias bombs.
const maxNodes = 1_000_000

// walker checks a YAML tree against the Go type it will be decoded into, before decoding. It
// records the line of every key path, reports unknown keys, duplicate keys and values of the
// wrong kind, and expands ${VAR} in scalar values. A value of the wrong kind is replaced by an
// empty one, so decoding keeps the defaults and list indexes still match the file.
type walker struct {
	problems []Problem
	lines    map[string]int // key path -> line of its key (or list item)
	broken   []string       // key paths whose value was unusable; checks on them are moot
	expanded map[*yaml.Node]bool
	active   map[*yaml.Node]bool // alias targets being walked, to stop cycles
	visits   int
}

func (w *walker) add(key string, line int, msg string) {
	w.problems = append(w.problems, Problem{Key: key, Line: line, Msg: msg})
}

func (w *walker) setLine(key string, line int) {
	if w.lines == nil {
		w.lines = map[string]int{}
	}
	if _, ok := w.lines[key]; !ok {
		w.lines[key] = line
	}
}

// lineOf returns the line of key, or of its nearest ancestor present in the file, or 0.
func (w *walker) lineOf(key string) int {
	for key != "" {
		if l, ok := w.lines[key]; ok {
			return l
		}
		if i := strings.LastIndexAny(key, ".["); i >= 0 {
			key = key[:i]
		} else {
			key = ""
		}
	}
	return 0
}

// isBroken reports whether key is, or is under, a key whose value was unusable.
func (w *walker) isBroken(key string) bool {
	for _, b := range w.broken {
		if key == b || strings.HasPrefix(key, b+".") || strings.HasPrefix(key, b+"[") {
			return true
		}
	}
	return false
}

func (w *walker) walk(n *yaml.Node, path string, t reflect.Type) {
	if w.visits++; w.visits > maxNodes {
		if w.visits == maxNodes+1 {
			w.add(path, n.Line, "the document is too large (too many nodes or aliases)")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil || w.active[target] {
			w.add(path, n.Line, "alias refers to itself")
			w.broken = append(w.broken, path)
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
			return
		}
		if w.active == nil {
			w.active = map[*yaml.Node]bool{}
		}
		w.active[target] = true
		defer delete(w.active, target)
		n = target
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}

	switch t.Kind() {
	case reflect.Struct:
		if isNull(n) {
			// A null where a struct goes would make yaml drop a list item and shift the
			// indexes; an empty mapping keeps the defaults just the same.
			*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
			return
		}
		if !w.wantKind(n, path, yaml.MappingNode, "a mapping") {
			return
		}
		fields, names := yamlFields(t)
		w.mapping(n, path, func(key string) (reflect.Type, bool) {
			ft, ok := fields[key]
			return ft, ok
		}, names)
	case reflect.Map:
		if isNull(n) || !w.wantKind(n, path, yaml.MappingNode, "a mapping") {
			return
		}
		w.mapping(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true }, nil)
	case reflect.Slice, reflect.Array:
		if isNull(n) || !w.wantKind(n, path, yaml.SequenceNode, "a list") {
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.setLine(p, item.Line)
			w.walk(item, p, t.Elem())
		}
	case reflect.Interface:
		w.expandAll(n, path)
	default:
		if !w.wantKind(n, path, yaml.ScalarNode, scalarName(t)) {
			return
		}
		w.expand(n, path)
		// Decode the value alone, so that a bad one (`!!int abc`, or text for a number) is
		// reported with its key, and cannot abort decoding the rest of the file. yaml's own
		// message would quote the value, which may be a secret.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			msg := "expected " + scalarName(t)
			if n.Style&yaml.TaggedStyle != 0 {
				msg += ", got a value whose " + n.ShortTag() + " tag does not fit it"
			}
			w.add(path, n.Line, msg)
			w.broken = append(w.broken, path)
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
	}
}

// wantKind reports whether n is of the wanted kind; if not, it reports a problem and empties
// n so decoding neither fails nor shifts list indexes.
func (w *walker) wantKind(n *yaml.Node, path string, kind yaml.Kind, want string) bool {
	if n.Kind == kind {
		return true
	}
	w.add(path, n.Line, fmt.Sprintf("expected %s, got %s", want, kindName(n)))
	w.broken = append(w.broken, path)
	empty := yaml.Node{Kind: kind, Line: n.Line, Column: n.Column}
	switch kind {
	case yaml.MappingNode:
		empty.Tag = "!!map"
	case yaml.SequenceNode:
		empty.Tag = "!!seq"
	default:
		empty.Tag = "!!null" // leaves the default in place
	}
	*n = empty
	return false
}

// mapping walks the entries of a mapping node. field returns the type of a key's value, or
// false for an unknown key; known lists the valid keys for suggestions (nil for a Go map).
func (w *walker) mapping(n *yaml.Node, path string, field func(string) (reflect.Type, bool), known []string) {
	seen := map[string]int{}
	var merges []*yaml.Node
	kept := n.Content[:0] // duplicate keys are dropped, or yaml would drop the whole mapping
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			kept = append(kept, k, v)
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.add(path, k.Line, "mapping keys must be plain strings")
			continue
		}
		p := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.add(p, k.Line, fmt.Sprintf("duplicate key (first at line %d)", first))
			continue
		}
		kept = append(kept, k, v)
		seen[k.Value] = k.Line
		ft, ok := field(k.Value)
		if !ok {
			if keyLike.MatchString(k.Value) {
				w.add(p, k.Line, fmt.Sprintf("unknown key %q%s", p, suggest(k.Value, known)))
			} else {
				// Not named: what does not look like a key may be a secret pasted a line off.
				w.add(path, k.Line, "an unknown key"+suggest(k.Value, known))
			}
			continue
		}
		w.setLine(p, k.Line)
		w.walk(v, p, ft)
	}
	n.Content = kept
	// Merged entries (<<: *anchor) come last: the mapping's own keys take precedence.
	for _, m := range merges {
		if m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		switch m.Kind {
		case yaml.MappingNode:
			w.mapping(m, path, field, known)
		case yaml.SequenceNode:
			for _, item := range m.Content {
				if item.Kind == yaml.AliasNode && item.Alias != nil {
					item = item.Alias
				}
				if item.Kind == yaml.MappingNode {
					w.mapping(item, path, field, known)
				}
			}
		}
	}
}

// keyLike is what an unknown key must look like to be named in its problem.
var keyLike = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// envRef is the only expansion form: ${NAME}. A lone $ is left alone.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${NAME} in a scalar value with the environment variable's value. When a
// variable is unset, the value is left as written and the key is reported by name only.
func (w *walker) expand(n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || w.expanded[n] || !strings.Contains(n.Value, "${") {
		return
	}
	if w.expanded == nil {
		w.expanded = map[*yaml.Node]bool{}
	}
	w.expanded[n] = true
	var missing []string
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		msg := "environment variable " + missing[0] + " is not set"
		if len(missing) > 1 {
			msg = "environment variables " + joinAnd(missing) + " are not set"
		}
		w.add(path, n.Line, msg)
		w.broken = append(w.broken, path)
		return
	}
	n.Value = out
	n.Tag = "!!str" // an expanded value is a string whatever it looks like
}

// expandAll expands every scalar value under n, for values of no fixed type.
func (w *walker) expandAll(n *yaml.Node, path string) {
	if w.visits++; w.visits > maxNodes {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		w.expand(n, path)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			w.expandAll(item, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.expandAll(n.Content[i+1], joinKey(path, n.Content[i].Value))
		}
	}
}

// yamlLine matches the "line N: " that yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlValue matches the value yaml.v3 quotes in backticks in its messages: it may be (the
// start of) a secret, so it is cut out.
var yamlValue = regexp.MustCompile("\\s?`[^`]*`")

// decodeError turns what Node.Decode reports into problems. Kinds the walk already reported
// on the same line are skipped.
func (w *walker) decodeError(err error) {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	reported := map[int]bool{}
	for _, p := range w.problems {
		reported[p.Line] = true
	}
	for _, m := range msgs {
		m = yamlValue.ReplaceAllString(m, "")
		line := 0
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			line, _ = strconv.Atoi(sm[1])
			m = sm[2]
		}
		if line > 0 && reported[line] {
			continue
		}
		w.add(w.keyAt(line), line, strings.TrimPrefix(m, "yaml: "))
	}
}

// keyAt returns the deepest key path recorded at line, or "".
func (w *walker) keyAt(line int) string {
	best := ""
	for k, l := range w.lines {
		if l == line && (len(k) > len(best) || len(k) == len(best) && k < best) {
			best = k
		}
	}
	return best
}

// yamlProblem turns a YAML syntax error into a problem with its line.
func yamlProblem(err error) Problem {
	m := yamlValue.ReplaceAllString(err.Error(), "")
	if sm := yamlLine.FindStringSubmatch(m); sm != nil {
		line, _ := strconv.Atoi(sm[1])
		return Problem{Line: line, Msg: "invalid YAML: " + sm[2]}
	}
	return Problem{Msg: "invalid YAML: " + strings.TrimPrefix(m, "yaml: ")}
}

// documentRoot returns the top node of a parsed document, or nil for an empty one.
func documentRoot(doc *yaml.Node) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == 0 || isNull(n) {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a single value"
	}
}

func scalarName(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "a duration such as 30s or 5m"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a single value"
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to their value types, as yaml.v3 names them:
// the tag's name, or the lowercased field name; "-" and unexported fields are skipped and
// ",inline" structs contribute their own keys. names is the sorted list of keys.
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, names []string) {
	fields = map[string]reflect.Type{}
	var collect func(t reflect.Type)
	collect = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
				collect(f.Type)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fields[name] = f.Type
		}
	}
	collect(t)
	return fields, sortedKeys(fields)
}

// suggest returns ` (did you mean "x"?)` for the closest known key, or the list of known keys.
func suggest(key string, known []string) string {
	if len(known) == 0 {
		return ""
	}
	best, bestDist := "", 3 // suggest only within an edit distance of 2
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Damerau–Levenshtein (optimal string alignment) distance of a and b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
