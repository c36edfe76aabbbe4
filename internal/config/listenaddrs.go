package config

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Addrs are the listeners a configuration file names, read by ListenAddrs.
type Addrs struct {
	// Listen is the listen key, or 127.0.0.1:8080 (the default) when the file does not set it.
	Listen string
	// AdminListen is the admin_listen key; "" when the file does not set it.
	AdminListen string
}

// ListenAddrs reads only listen and admin_listen from the configuration file at path, with
// ${VAR} expanded in those two values alone. Nothing else in the file is looked at, let alone
// validated: `mdegate healthcheck` uses it to find a running gateway whose file has since
// become invalid (a refused edit, a ${VAR} unset in the probe's environment). It fails only
// when the file cannot be read, is not YAML, or one of the two values is not a string or
// names an unset variable.
func ListenAddrs(path string) (Addrs, error) {
	addrs := Addrs{Listen: defaults().Listen}
	data, err := os.ReadFile(path)
	if err != nil {
		return addrs, fmt.Errorf("config: %w", err)
	}
	fail := func(p Problem) (Addrs, error) { return addrs, &Error{Path: path, Problems: []Problem{p}} }
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fail(yamlProblem(err))
	}
	root := documentRoot(&doc)
	if root == nil {
		return addrs, nil
	}
	if root.Kind != yaml.MappingNode {
		return fail(Problem{Line: root.Line, Msg: "the configuration is " + kindName(root) + ", not a mapping"})
	}
	var w walker
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i].Value, root.Content[i+1]
		var dst *string
		switch key {
		case "listen":
			dst = &addrs.Listen
		case "admin_listen":
			dst = &addrs.AdminListen
		default:
			continue
		}
		if value.Kind == yaml.AliasNode && value.Alias != nil {
			value = value.Alias
		}
		if value.Kind != yaml.ScalarNode {
			return fail(Problem{Key: key, Line: value.Line, Msg: "want a single value, not " + kindName(value)})
		}
		if isNull(value) {
			continue
		}
		w.expand(value, key)
		if len(w.problems) > 0 {
			return fail(w.problems[0])
		}
		*dst = value.Value
	}
	return addrs, nil
}
