package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OData query options on collections: $filter (eq, ne, gt, ge, lt, le joined by and, on the
// properties each collection declares), $top, $skip, $select, and paging with an absolute
// @odata.nextLink. What the emulator cannot evaluate is a 400 ODataError, never ignored: a
// tool whose filter MDE would refuse must not get the first page of everything.

// fieldKind is how a filterable property compares.
type fieldKind int

const (
	kindString fieldKind = iota // eq, ne with 'quoted' values, case-insensitive
	kindTime                    // every operator, with 2024-05-01T08:00:00Z or 2024-05-01Z
	kindNumber                  // every operator, with a number
)

// listing describes a collection answer.
type listing struct {
	context   string               // @odata.context after the base URL, e.g. "/api/$metadata#Machines"
	path      string               // path of the collection after the base URL, for nextLink
	n         int                  // items in the collection
	item      func(i int) any      // the i-th item (a JSON object)
	fields    map[string]fieldKind // filterable properties, by their JSON name
	pageSize  int                  // items per page without $top; 0 = all
	odataType string               // Graph: the @odata.type of each item
	expand    string               // the one $expand value accepted ("evidence" on alerts); "" = none
	maxTop    int                  // largest $top accepted; 0 = MDE's 10,000
}

// cond is one comparison of a $filter.
type cond struct {
	field string
	kind  fieldKind
	op    string
	str   *string // nil for null
	num   float64
	at    time.Time
}

// serveList answers c with the collection l after applying the query options.
func (e *Emulator) serveList(c *call, l listing) {
	q := c.r.URL.Query()
	for k := range q {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		switch strings.ToLower(k) {
		case "$filter", "$top", "$skip", "$select":
		case "$expand":
			if l.expand == "" || !strings.EqualFold(q.Get(k), l.expand) {
				c.fail(http.StatusBadRequest, "ODataError", fmt.Sprintf("The query specified in the URI is not valid. $expand=%s is not supported here.", safeText(q.Get(k))))
				return
			}
		default:
			c.fail(http.StatusBadRequest, "ODataError", fmt.Sprintf("The query parameter '%s' is not supported.", safeText(k)))
			return
		}
	}
	top, skip, ok := window(c)
	if !ok {
		return
	}
	if l.maxTop > 0 && top > l.maxTop {
		c.fail(http.StatusBadRequest, "ODataError", fmt.Sprintf("The limit of '%d' for Top query has been exceeded. The value from the incoming request is '%d'.", l.maxTop, top))
		return
	}
	conds, msg := parseFilter(queryGet(q, "$filter"), l.fields)
	if msg != "" {
		c.fail(http.StatusBadRequest, "ODataError", "Invalid filter clause: "+msg)
		return
	}
	sel, msg := parseSelect(queryGet(q, "$select"), l.item)
	if msg != "" {
		c.fail(http.StatusBadRequest, "ODataError", msg)
		return
	}

	size := l.pageSize
	if top >= 0 {
		size = top
	}
	var matched []int
	var objs []map[string]any
	for i := 0; i < l.n; i++ {
		var obj map[string]any
		if conds != nil || sel != nil {
			obj = asMap(l.item(i))
			if !evalAll(conds, obj) {
				continue
			}
		}
		matched = append(matched, i)
		objs = append(objs, obj)
	}
	end := len(matched)
	if size > 0 {
		end = min(end, skip+size)
	}
	start := min(skip, len(matched))
	value := make([]json.RawMessage, 0, max(end-start, 0))
	for j := start; j < end; j++ {
		var raw []byte
		if sel != nil {
			raw = project(objs[j], sel)
		} else {
			raw = mustJSON(l.item(matched[j]))
		}
		if l.odataType != "" {
			raw = withType(raw, l.odataType)
		}
		value = append(value, raw)
	}
	out := collection{Context: c.base + l.context, Value: value}
	// MDE gives a nextLink only without $top; Graph pages by $top too.
	if end < len(matched) && size > 0 && (top < 0 || c.graph) {
		out.NextLink = nextLink(c.base+l.path, q, end)
	}
	writeCollection(c.w, out)
}

// nextLink is base with the request's query and $skip set to skip, "$" kept literal as MDE
// writes it.
func nextLink(base string, q url.Values, skip int) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if !strings.EqualFold(k, "$skip") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(base)
	b.WriteByte('?')
	for _, k := range keys {
		for _, v := range q[k] {
			b.WriteString(strings.ReplaceAll(url.QueryEscape(k), "%24", "$"))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
			b.WriteByte('&')
		}
	}
	b.WriteString("$skip=" + strconv.Itoa(skip))
	return b.String()
}

func asMap(v any) map[string]any {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(mustJSON(v)))
	d.UseNumber()
	_ = d.Decode(&m) // mustJSON of an object always decodes
	return m
}

// withType puts "@odata.type" first in the JSON object raw.
func withType(raw []byte, typ string) []byte {
	out := append([]byte(`{"@odata.type":`), mustJSON(typ)...)
	if len(raw) > 2 {
		out = append(out, ',')
	}
	return append(out, raw[1:]...)
}

// parseSelect checks a $select list against the properties of the collection's items
// (item(0)'s JSON names, case-insensitively) and returns the canonical names; nil without
// $select.
func parseSelect(s string, item func(int) any) ([]string, string) {
	if strings.TrimSpace(s) == "" {
		return nil, ""
	}
	props := asMap(item(0))
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		name := ""
		for k := range props {
			if strings.EqualFold(k, p) {
				name = k
			}
		}
		if name == "" {
			return nil, fmt.Sprintf("The query specified in the URI is not valid. Could not find a property named '%s' to $select.", safeText(p))
		}
		out = append(out, name)
	}
	return out, ""
}

// project writes the properties sel of obj, in sel's order.
func project(obj map[string]any, sel []string) []byte {
	b := []byte{'{'}
	for i, k := range sel {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, mustJSON(k)...)
		b = append(b, ':')
		b = append(b, mustJSON(obj[k])...)
	}
	return append(b, '}')
}

// parseFilter parses "a eq 'x' and b gt 2024-05-01Z" against the filterable fields. It
// returns nil conditions for an empty filter, and a message for anything it cannot evaluate.
func parseFilter(s string, fields map[string]fieldKind) ([]cond, string) {
	toks, msg := filterTokens(s)
	if msg != "" || len(toks) == 0 {
		return nil, msg
	}
	var out []cond
	for len(toks) > 0 {
		if len(toks) < 3 {
			return nil, fmt.Sprintf("incomplete comparison in '%s'.", safeText(s))
		}
		f, op, v := toks[0], toks[1], toks[2]
		toks = toks[3:]
		c := cond{op: op}
		found := false
		for name, k := range fields {
			if strings.EqualFold(name, f) {
				c.field, c.kind, found = name, k, true
			}
		}
		if !found {
			return nil, fmt.Sprintf("cannot filter by '%s'; supported: %s.", safeText(f), strings.Join(sortedKeys(fields), ", "))
		}
		switch op {
		case "eq", "ne":
		case "gt", "ge", "lt", "le":
			if c.kind == kindString {
				return nil, fmt.Sprintf("operator '%s' is not supported on '%s'.", op, c.field)
			}
		default:
			return nil, fmt.Sprintf("operator '%s' is not supported.", safeText(op))
		}
		if msg := c.setValue(v); msg != "" {
			return nil, msg
		}
		out = append(out, c)
		if len(toks) > 0 {
			if toks[0] != "and" {
				return nil, fmt.Sprintf("'%s' is not supported; only 'and' joins comparisons.", safeText(toks[0]))
			}
			toks = toks[1:]
			if len(toks) == 0 {
				return nil, "nothing after 'and'."
			}
		}
	}
	return out, ""
}

// setValue parses the literal v (a token; quoted strings keep their quotes) for c's kind.
func (c *cond) setValue(v string) string {
	quoted := len(v) >= 2 && v[0] == '\''
	unq := v
	if quoted {
		unq = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	if v == "null" {
		if c.op != "eq" && c.op != "ne" {
			return "null compares only with eq and ne."
		}
		return ""
	}
	switch c.kind {
	case kindString:
		if !quoted {
			return fmt.Sprintf("'%s' is not a string literal for '%s'.", safeText(v), c.field)
		}
		c.str = &unq
	case kindNumber:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || quoted {
			return fmt.Sprintf("'%s' is not a number for '%s'.", safeText(v), c.field)
		}
		c.num = n
	case kindTime:
		t, ok := parseODataTime(unq)
		if !ok {
			return fmt.Sprintf("'%s' is not a date and time for '%s'.", safeText(v), c.field)
		}
		c.at = t
	}
	c.str = &unq
	return ""
}

func parseODataTime(s string) (time.Time, bool) {
	for _, f := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z", "2006-01-02T15:04Z", "2006-01-02Z", "2006-01-02"} {
		if t, err := time.Parse(f, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// filterTokens splits a filter into words and 'quoted' literals; parentheses, functions and
// commas are beyond what the emulator evaluates.
func filterTokens(s string) ([]string, string) {
	var out []string
	for i := 0; i < len(s); {
		switch ch := s[i]; {
		case ch == ' ':
			i++
		case ch == '\'':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return nil, "unterminated string literal."
			}
			out = append(out, s[i:j+1])
			i = j + 1
		case ch == '(' || ch == ')' || ch == ',':
			return nil, fmt.Sprintf("'%c' (functions, grouping, lists) is not supported by this API.", ch)
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' && s[j] != '\'' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, ""
}

// evalAll reports whether obj satisfies every condition.
func evalAll(conds []cond, obj map[string]any) bool {
	for _, c := range conds {
		if !c.eval(obj[c.field]) {
			return false
		}
	}
	return true
}

func (c *cond) eval(v any) bool {
	if c.str == nil || v == nil { // null on either side
		same := c.str == nil && v == nil
		return (c.op == "eq") == same
	}
	var cmp int
	switch c.kind {
	case kindString:
		s, _ := v.(string)
		if strings.EqualFold(s, *c.str) {
			cmp = 0
		} else {
			cmp = 1
		}
	case kindNumber:
		n, err := v.(json.Number).Float64()
		if err != nil {
			return false
		}
		cmp = compare(n, c.num)
	case kindTime:
		s, _ := v.(string)
		t, ok := parseODataTime(s)
		if !ok {
			return false
		}
		cmp = t.Compare(c.at)
	}
	switch c.op {
	case "eq":
		return cmp == 0
	case "ne":
		return cmp != 0
	case "gt":
		return cmp > 0
	case "ge":
		return cmp >= 0
	case "lt":
		return cmp < 0
	}
	return cmp <= 0 // le
}

func compare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sortedKeys(m map[string]fieldKind) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
