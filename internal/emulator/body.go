package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// Request bodies are read as MDE reads them: property names are case-sensitive, so
// {"comment":".."} where MDE wants "Comment" is a 400. Properties the API does not know at all
// are ignored (nothing documents MDE refusing them, and tools pad bodies).

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
		if known[k] {
			continue
		}
		for name := range known {
			if strings.EqualFold(name, k) {
				c.fail(http.StatusBadRequest, "InvalidRequestBody", fmt.Sprintf(
					"Request body is incorrect: property '%s' is written '%s' (property names are case-sensitive).",
					safeText(k), name))
				return false
			}
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
