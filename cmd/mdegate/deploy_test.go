package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mdegate/mdegate/internal/config"
)

// fileKey matches a config line naming a file the gateway reads at start.
var fileKey = regexp.MustCompile(`(?m)^(\s*(?:client_secret_file|federated_token_file|ca_file):\s*)(\S+)`)

// TestDeployExamples keeps deploy/ from rotting: every YAML file parses (all its documents),
// and every mdegate configuration embedded in a ConfigMap or a compose config passes
// config.Parse, with the files it names stood in for by temporary ones.
func TestDeployExamples(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", "stand-in") // the shared example's limits.redis.url
	root := filepath.Join("..", "..", "deploy")
	dir := t.TempDir()
	token := writeFile(t, dir, "azure-identity-token", []byte("header.payload.signature\n"))
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", token)

	var files, configs int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return err
		}
		files++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		for doc := 0; ; doc++ {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Errorf("%s: document %d: %v", path, doc, err)
				break
			}
			for name, text := range embeddedConfigs(m) {
				configs++
				text = fileKey.ReplaceAllStringFunc(text, func(line string) string {
					sm := fileKey.FindStringSubmatch(line)
					stand := writeFile(t, dir, filepath.Base(sm[2]), []byte("stand-in\n"))
					return sm[1] + stand
				})
				if _, err := config.Parse(strings.NewReader(text), path+": "+name); err != nil {
					t.Errorf("%v", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 || configs < 3 {
		t.Errorf("found %d YAML files and %d embedded configs; want the sidecar, shared and compose examples", files, configs)
	}
}

// embeddedConfigs returns the mdegate configurations in a Kubernetes ConfigMap (data keys
// ending in .yaml) or a compose file (configs.*.content), by name.
func embeddedConfigs(doc map[string]any) map[string]string {
	out := map[string]string{}
	if doc["kind"] == "ConfigMap" {
		data, _ := doc["data"].(map[string]any)
		for k, v := range data {
			if s, ok := v.(string); ok && strings.HasSuffix(k, ".yaml") {
				out["data."+k] = s
			}
		}
	}
	if cfgs, ok := doc["configs"].(map[string]any); ok {
		for k, v := range cfgs {
			c, _ := v.(map[string]any)
			if s, ok := c["content"].(string); ok {
				out["configs."+k] = s
			}
		}
	}
	return out
}
