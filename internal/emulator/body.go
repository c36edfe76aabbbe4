package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
)

// Request bodies are read as MDE reads them: property names are case-sensitive, so
// {"comment":".."} where MDE wants "Comment" is a 400, and so is an unknown property.

// decodeBody decodes the request body into dst, a pointer to a struct whose json tags name
// the accepted properties exactly; required names must be present. On a problem it answers
// 400 InvalidRequestBody and returns false.
func decodeBody(c *call, dst any, required ...string) bool {
	body, _ := io.ReadAll(c.r.Body) // already in memory (regionHandler read it)
	var props map[string]json.RawMessage
	if err := json.Unmarshal(body, &props); err != nil || props == nil {
		c.fail(http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: a JSON object is required.")
		return false
	}
	known := jsonNames(dst)
	for k := range props {
		if !known[k] {
			c.fail(http.StatusBadRequest, "InvalidRequestBody", fmt.Sprintf(
				"Request body is incorrect: unknown property '%s' (property names are case-sensitive; accepted: %s).",
				safeText(k), strings.Join(sortedNames(known), ", ")))
			return false
		}
	}
	for _, r := range required {
		if v, ok := props[r]; !ok || string(v) == "null" {
			c.fail(http.StatusBadRequest, "InvalidRequestBody", fmt.Sprintf("Request body is incorrect: '%s' is required.", r))
			return false
		}
	}
	if err := json.Unmarshal(body, dst); err != nil {
		c.fail(http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: a property has the wrong type.")
		return false
	}
	return true
}

// jsonNames returns the json names of the fields of the struct dst points to.
func jsonNames(dst any) map[string]bool {
	t := reflect.TypeOf(dst).Elem()
	out := make(map[string]bool, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" {
			name = t.Field(i).Name
		}
		out[name] = true
	}
	return out
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
