package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
		if err == nil && d.IsDir() && d.Name() == "templates" {
			return fs.SkipDir // a Helm chart's templates are YAML only once rendered (deploy/helm tests them)
		}
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

// TestDeployKubernetesPods checks the pod specs of deploy/kubernetes the way a kubelet would
// run them:
//   - no httpGet probe names a loopback host: the kubelet probes from the node, so
//     `host: 127.0.0.1` probed the node itself (the sidecar example's bug, issue 18); a
//     gateway on the pod's loopback needs an exec probe (mdegate healthcheck);
//   - every mdegate container with a memory limit passes it to GOMEMLIMIT through the
//     downward API, so the Go runtime collects before the kernel kills;
//   - the shared example serves its probes and metrics on admin_listen;
//   - a non-root pod can read its secret volumes.
func TestDeployKubernetesPods(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("..", "..", "deploy", "kubernetes", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Kubernetes examples: %v", err)
	}
	adminListen := map[string]bool{}
	var containers int
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for name, text := range embeddedConfigs(doc) {
				var cfg map[string]any
				if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
					t.Fatalf("%s: %s: %v", path, name, err)
				}
				if s, _ := cfg["admin_listen"].(string); s != "" {
					adminListen[filepath.Base(path)] = true
				}
			}
			if v := unreadableSecrets(doc); v != "" {
				t.Errorf("%s: %s", filepath.Base(path), v)
			}
			for _, c := range podContainers(doc) {
				where := filepath.Base(path) + ": " + fmtAny(doc["kind"]) + " container " + fmtAny(c["name"])
				for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
					p, _ := c[probe].(map[string]any)
					hg, _ := p["httpGet"].(map[string]any)
					switch host := fmtAny(hg["host"]); host {
					case "127.0.0.1", "localhost", "::1", "[::1]":
						t.Errorf("%s: %s.httpGet.host %s probes the node's loopback, not the pod's", where, probe, host)
					}
				}
				if !isGateway(c) {
					continue
				}
				containers++
				res, _ := c["resources"].(map[string]any)
				limits, _ := res["limits"].(map[string]any)
				if limits["memory"] != nil && !hasMemLimitEnv(c) {
					t.Errorf("%s: limits.memory %v but no GOMEMLIMIT from resourceFieldRef limits.memory", where, limits["memory"])
				}
			}
		}
		f.Close()
	}
	if containers < 2 {
		t.Errorf("found %d mdegate containers; want the sidecar's and the shared deployment's", containers)
	}
	if !adminListen["shared.yaml"] {
		t.Error("shared.yaml: the config sets no admin_listen; the kubelet's probes and Prometheus belong on it")
	}
}

// unreadableSecrets names a secret volume a non-root pod cannot read: its files belong to
// root, so without fsGroup (which gives them the pod's group) and a group-readable mode the
// gateway cannot open its client secret (the sidecar example's 0400 without fsGroup).
func unreadableSecrets(doc map[string]any) string {
	spec, _ := doc["spec"].(map[string]any)
	if tmpl, ok := spec["template"].(map[string]any); ok {
		spec, _ = tmpl["spec"].(map[string]any)
	}
	sc, _ := spec["securityContext"].(map[string]any)
	if sc["runAsNonRoot"] != true {
		return ""
	}
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		m, _ := v.(map[string]any)
		sec, ok := m["secret"].(map[string]any)
		if !ok {
			continue
		}
		mode, hasMode := sec["defaultMode"].(int)
		if sc["fsGroup"] == nil || hasMode && mode&0o040 == 0 {
			return fmt.Sprintf("secret volume %v: a non-root pod needs fsGroup and a group-readable defaultMode (have fsGroup %v, mode %#o)", m["name"], sc["fsGroup"], mode)
		}
	}
	return ""
}

// podContainers returns the containers of a workload (Deployment, StatefulSet, DaemonSet,
// Job: spec.template.spec) or a Pod.
func podContainers(doc map[string]any) []map[string]any {
	spec, _ := doc["spec"].(map[string]any)
	if tmpl, ok := spec["template"].(map[string]any); ok {
		spec, _ = tmpl["spec"].(map[string]any)
	}
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// isGateway reports whether a container runs the mdegate image.
func isGateway(c map[string]any) bool {
	image := fmtAny(c["image"])
	return c["name"] == "mdegate" || strings.HasPrefix(image[strings.LastIndex(image, "/")+1:], "mdegate")
}

// hasMemLimitEnv reports whether the container sets GOMEMLIMIT from its own memory limit.
func hasMemLimitEnv(c map[string]any) bool {
	env, _ := c["env"].([]any)
	for _, e := range env {
		m, _ := e.(map[string]any)
		vf, _ := m["valueFrom"].(map[string]any)
		rf, _ := vf["resourceFieldRef"].(map[string]any)
		if m["name"] == "GOMEMLIMIT" && rf["resource"] == "limits.memory" {
			return true
		}
	}
	return false
}

func fmtAny(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// unitFile is a parsed systemd unit: section -> key -> values in order (a key may repeat).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	var section string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a directive: %q", path, i+1, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// TestSystemdUnit checks deploy/systemd/mdegate.service holds the hardening issue 18 asks for,
// then has systemd-analyze verify it (with ExecStart pointed at a stand-in executable, since
// verify insists the binary exists). CI installs systemd-analyze (Debian's systemd package)
// when it is missing; elsewhere its absence skips only the verify step.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "deploy", "systemd", "mdegate.service")
	svc := parseUnit(t, path)["Service"]
	want := map[string]string{
		"DynamicUser":             "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"MemoryDenyWriteExecute":  "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"StateDirectory":          "mdegate",
		"ConfigurationDirectory":  "mdegate",
	}
	for k, v := range want {
		if got := svc[k]; len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want exactly %q", k, got, v)
		}
	}
	if !slices.Contains(svc["SystemCallFilter"], "@system-service") {
		t.Errorf("[Service] SystemCallFilter %q, want @system-service among them", svc["SystemCallFilter"])
	}
	if got := svc["ExecStart"]; len(got) != 1 || !strings.HasPrefix(got[0], "/usr/local/bin/mdegate serve ") {
		t.Errorf("[Service] ExecStart %q, want /usr/local/bin/mdegate serve ...", got)
	}
	if len(svc["MemoryMax"]) > 0 && !slices.ContainsFunc(svc["Environment"], func(e string) bool {
		return strings.HasPrefix(strings.Trim(e, `"`), "GOMEMLIMIT=")
	}) {
		t.Errorf("[Service] MemoryMax %q but no GOMEMLIMIT in Environment", svc["MemoryMax"])
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("systemd-analyze is missing; .ci/run installs Debian's systemd package")
			}
			t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd): the unit is not verified")
		}
		dir := t.TempDir()
		bin, unit := filepath.Join(dir, "mdegate"), filepath.Join(dir, "mdegate.service")
		if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(unit, bytes.ReplaceAll(b, []byte("/usr/local/bin/mdegate "), []byte(bin+" ")), 0o644); err != nil {
			t.Fatal(err)
		}
		// verify reports unknown keys and bad values as warnings with exit status 0: any
		// output is a failure.
		out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}
