package helm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

// object is one rendered Kubernetes object.
type object map[string]any

func (o object) kind() string { return str(o["kind"]) }
func (o object) name() string { return str(dig(o, "metadata", "name")) }

// render renders the chart in mdegate/ as `helm template` would, with vals over values.yaml,
// and returns its objects by kind. Nothing touches a cluster or the network.
func render(t *testing.T, vals map[string]any) map[string][]object {
	t.Helper()
	ch, err := loader.Load("mdegate")
	if err != nil {
		t.Fatal(err)
	}
	top, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: "mdegate", Namespace: "mdegate", IsInstall: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]object{}
	for name, text := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, _helpers.tpl
		}
		for i, doc := range splitDocs(text) {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: document %d: %v\n%s", name, i, err, doc)
			}
			if o == nil {
				continue
			}
			out[o.kind()] = append(out[o.kind()], o)
		}
	}
	return out
}

func splitDocs(text string) []string {
	return regexp.MustCompile(`(?m)^---\s*$`).Split(text, -1)
}

// minimal are the values an install must give: the chart cannot guess the tenants or the
// callers' keys.
const minimal = `
config:
  clients:
    - {name: soar, key_sha256: de5f281c54025f1c34d539dc4747d8219c1dc7de878fdd410046e7cbca4b827c, tenants: ["*"]}
  tenants:
    - {name: contoso, id: 8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e, region: eu}
`

func values(t *testing.T, text string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(text), &vals); err != nil {
		t.Fatal(err)
	}
	return vals
}

// The chart as shipped, given only what it cannot guess: a shared deployment with everything
// an operator expects, and a config the gateway accepts.
func TestChartDefaults(t *testing.T) {
	objs := render(t, values(t, minimal))
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"} {
		if len(objs[kind]) != 1 {
			t.Errorf("%d %s, want 1", len(objs[kind]), kind)
		}
	}
	for _, kind := range []string{"ServiceMonitor", "Secret"} {
		if len(objs[kind]) != 0 {
			t.Errorf("%d %s by default, want none", len(objs[kind]), kind)
		}
	}
	dep := objs["Deployment"][0]
	if got := dig(dep, "spec", "replicas"); got != float64(3) {
		t.Errorf("replicas %v, want 3", got)
	}
	checkPod(t, dep, objs["ConfigMap"][0])
	checkConfig(t, objs)
	cfg := config(t, objs["ConfigMap"][0])
	if _, ok := cfg["limits"]; ok {
		t.Errorf("limits in the default config: %v", cfg["limits"])
	}
	if mem := dig(gateway(t, dep), "resources", "limits", "memory"); mem != "256Mi" {
		t.Errorf("limits.memory %v, want 256Mi", mem)
	}
}

// Every option turned on.
func TestChartOptions(t *testing.T) {
	vals := values(t, `
replicaCount: 5
redis:
  enabled: true
  url: "rediss://:${REDIS_PASSWORD}@cache.example:6380/0"
  passwordSecret: {name: mdegate-redis, key: password}
workloadIdentity: {enabled: true, clientId: 3c5e8a71-9b2d-4f60-a1c4-7d8e9f0a1b2c, tenantId: 8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e}
serviceAccount: {annotations: {team: soc}, labels: {cost-center: "42"}}
serviceMonitor: {enabled: true, labels: {release: prom}}
secrets: {client-secret: not-a-real-secret}
config:
  app:
    client_id: 3c5e8a71-9b2d-4f60-a1c4-7d8e9f0a1b2c
    client_secret_file: /var/run/secrets/mdegate/client-secret
  clients:
    - {name: soar, key_sha256: de5f281c54025f1c34d539dc4747d8219c1dc7de878fdd410046e7cbca4b827c, tenants: [contoso]}
  tenants:
    - {name: contoso, id: 8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e, region: eu}
  limits: {max_wait: 5s}
resources: {limits: {memory: 512Mi}}
ports: {http: 8081, admin: 9191}
`)
	objs := render(t, vals)
	for _, kind := range []string{"Deployment", "ConfigMap", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "Secret"} {
		if len(objs[kind]) != 1 {
			t.Errorf("%d %s, want 1", len(objs[kind]), kind)
		}
	}
	if len(objs["Service"]) != 2 {
		t.Errorf("%d Services, want the callers' and the metrics one", len(objs["Service"]))
	}
	dep := objs["Deployment"][0]
	if got := dig(dep, "spec", "replicas"); got != float64(5) {
		t.Errorf("replicas %v, want 5", got)
	}
	checkPod(t, dep, objs["ConfigMap"][0])
	checkConfig(t, objs)

	cfg := config(t, objs["ConfigMap"][0])
	if got := cfg["listen"]; got != "0.0.0.0:8081" {
		t.Errorf("listen %v", got)
	}
	if got := dig(cfg, "limits", "redis", "url"); got != "rediss://:${REDIS_PASSWORD}@cache.example:6380/0" {
		t.Errorf("limits.redis.url %v", got)
	}
	if got := dig(cfg, "limits", "max_wait"); got != "5s" {
		t.Errorf("limits.max_wait %v: the chart's redis must merge into the config's limits", got)
	}
	if got := dig(cfg, "app", "client_secret_file"); got != "/var/run/secrets/mdegate/client-secret" {
		t.Errorf("app.client_secret_file %v", got)
	}
	c := gateway(t, dep)
	if !hasEnv(c, "REDIS_PASSWORD", "secretKeyRef", "name", "mdegate-redis") {
		t.Error("no REDIS_PASSWORD from the mdegate-redis Secret")
	}
	if !slices.ContainsFunc(list(c["volumeMounts"]), func(m any) bool {
		return dig(m, "mountPath") == "/var/run/secrets/mdegate"
	}) {
		t.Error("the secrets are not mounted at /var/run/secrets/mdegate")
	}
	if got := dig(objs["Secret"][0], "stringData", "client-secret"); got != "not-a-real-secret" {
		t.Errorf("Secret client-secret %v", got)
	}

	sa := objs["ServiceAccount"][0]
	if got := dig(sa, "metadata", "annotations", "azure.workload.identity/client-id"); got != "3c5e8a71-9b2d-4f60-a1c4-7d8e9f0a1b2c" {
		t.Errorf("service account client-id annotation %v", got)
	}
	if got := dig(sa, "metadata", "annotations", "team"); got != "soc" {
		t.Errorf("service account annotation team %v", got)
	}
	if got := dig(sa, "metadata", "labels", "cost-center"); got != "42" {
		t.Errorf("service account label cost-center %v", got)
	}
	if got := dig(dep, "spec", "template", "metadata", "labels", "azure.workload.identity/use"); got != "true" {
		t.Errorf("pod label azure.workload.identity/use %v", got)
	}
	if got := dig(dep, "spec", "template", "spec", "serviceAccountName"); got != sa.name() {
		t.Errorf("serviceAccountName %v, want %s", got, sa.name())
	}

	sm := objs["ServiceMonitor"][0]
	ep := list(dig(sm, "spec", "endpoints"))
	if len(ep) != 1 || dig(ep[0], "port") != "admin" || dig(ep[0], "path") != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %v, want the admin port's /metrics", ep)
	}
	var metricsSvc object
	for _, s := range objs["Service"] {
		if strings.HasSuffix(s.name(), "-metrics") {
			metricsSvc = s
		}
	}
	if metricsSvc == nil || !subset(dig(sm, "spec", "selector", "matchLabels"), dig(metricsSvc, "metadata", "labels")) {
		t.Errorf("the ServiceMonitor selects no metrics Service")
	}
	if port := list(dig(metricsSvc, "spec", "ports")); len(port) != 1 || dig(port[0], "port") != float64(9191) {
		t.Errorf("metrics Service ports %v, want 9191", port)
	}
}

// A value the chart cannot work without is refused at render time, not by a crash-looping pod.
func TestChartRefusesIncompleteOptions(t *testing.T) {
	ch, err := loader.Load("mdegate")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, values, want string }{
		{"no tenants", "", "config.tenants is empty"},
		{"no clients", "config: {clients: []}", "config.clients is empty"},
		{"redis without url", "redis: {enabled: true}", "redis.enabled needs redis.url"},
		{"workload identity without client", "workloadIdentity: {enabled: true}", "workloadIdentity.enabled needs workloadIdentity.clientId"},
	} {
		vals := map[string]any{}
		if tc.values != "" {
			vals = util.CoalesceTables(values(t, tc.values), values(t, minimal)) // tc.values win
		}
		top, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: "mdegate", Namespace: "mdegate"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := engine.Render(ch, top); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// checkPod checks what every rendering must get right: probes the kubelet can run, a locked
// down container, GOMEMLIMIT from the memory limit, and ports that match the config.
func checkPod(t *testing.T, dep, cm object) {
	t.Helper()
	pod := dig(dep, "spec", "template", "spec")
	if dig(pod, "securityContext", "runAsNonRoot") != true || dig(pod, "securityContext", "runAsUser") == float64(0) {
		t.Errorf("pod securityContext %v: want runAsNonRoot and a non-root user", dig(pod, "securityContext"))
	}
	c := gateway(t, dep)
	sc := dig(c, "securityContext")
	if dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false ||
		!slices.Contains(list(dig(sc, "capabilities", "drop")), any("ALL")) {
		t.Errorf("container securityContext %v: want a read-only root, no privilege escalation, all capabilities dropped", sc)
	}
	ports := map[string]float64{}
	for _, p := range list(c["ports"]) {
		n, _ := dig(p, "containerPort").(float64)
		ports[str(dig(p, "name"))] = n
	}
	cfg := config(t, cm)
	for key, port := range map[string]string{"listen": "http", "admin_listen": "admin"} {
		addr := str(cfg[key])
		if ports[port] == 0 || !strings.HasSuffix(addr, ":"+strconv.FormatFloat(ports[port], 'f', -1, 64)) {
			t.Errorf("config %s %q does not match the container's %s port %v", key, addr, port, ports[port])
		}
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		hg := dig(c, probe, "httpGet")
		if hg == nil {
			t.Errorf("%s is not an httpGet probe: %v", probe, c[probe])
			continue
		}
		if h := dig(hg, "host"); h != nil {
			t.Errorf("%s.httpGet.host %v: the kubelet would probe that from the node; leave it unset for the pod IP", probe, h)
		}
		if dig(hg, "port") != "admin" {
			t.Errorf("%s.httpGet.port %v, want admin (admin_listen)", probe, dig(hg, "port"))
		}
	}
	if dig(c, "resources", "limits", "memory") != nil && !hasEnv(c, "GOMEMLIMIT", "resourceFieldRef", "resource", "limits.memory") {
		t.Error("limits.memory set but no GOMEMLIMIT from resourceFieldRef limits.memory")
	}
}

// config parses the gateway's mdegate.yaml out of the ConfigMap and checks its top-level keys
// are the gateway's (the yaml tags of its config structs, read from the main module's source:
// this module cannot import that package).
func config(t *testing.T, cm object) map[string]any {
	t.Helper()
	text := str(dig(cm, "data", "mdegate.yaml"))
	var cfg map[string]any
	if err := yaml.UnmarshalStrict([]byte(text), &cfg); err != nil {
		t.Fatalf("mdegate.yaml: %v\n%s", err, text)
	}
	known := configKeys(t)
	for k := range cfg {
		if !known[k] {
			t.Errorf("mdegate.yaml: unknown key %q", k)
		}
	}
	for _, k := range []string{"listen", "admin_listen", "app", "log"} {
		if _, ok := cfg[k]; !ok {
			t.Errorf("mdegate.yaml: no %s", k)
		}
	}
	if r, ok := dig(cfg, "limits", "redis").(map[string]any); ok {
		for k := range r {
			if !known[k] {
				t.Errorf("mdegate.yaml: unknown key limits.redis.%s", k)
			}
		}
	}
	return cfg
}

// checkConfig runs the gateway's own `mdegate check-config` (built from the main module at
// ../..) on the rendered mdegate.yaml, with the files of the rendered Secret written where
// the config names them under /var/run/secrets/mdegate and the environment the pod would
// have: the chart's config must be one the gateway accepts, not just YAML.
func checkConfig(t *testing.T, objs map[string][]object) {
	t.Helper()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, sec := range objs["Secret"] {
		data, _ := dig(sec, "stringData").(map[string]any)
		for name, v := range data {
			if err := os.WriteFile(filepath.Join(secrets, name), []byte(str(v)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	text := strings.ReplaceAll(str(dig(objs["ConfigMap"][0], "data", "mdegate.yaml")), "/var/run/secrets/mdegate/", secrets+"/")
	cfgPath := filepath.Join(dir, "mdegate.yaml")
	token := filepath.Join(dir, "azure-identity-token")
	for path, data := range map[string]string{cfgPath: text, token: "header.payload.signature\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gatewayBinary(t), "check-config", "-config", cfgPath)
	cmd.Env = append(os.Environ(), "REDIS_PASSWORD=stand-in", "AZURE_FEDERATED_TOKEN_FILE="+token)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("mdegate check-config refuses the rendered config: %v\n%s\n%s", err, out, text)
	}
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildDir  string
)

// gatewayBinary builds cmd/mdegate of the main module once per test run.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mdegate-chart-test")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "mdegate")
		out, err := exec.Command("go", "-C", filepath.Join("..", ".."), "build", "-o", binary, "./cmd/mdegate").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/mdegate: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// TestMain removes the gateway binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var yamlTag = regexp.MustCompile("`yaml:\"([a-z0-9_]+)")

// configKeys returns every yaml tag in the gateway's config source (cmd/mdegate or
// internal/config, wherever it lives).
func configKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for _, dir := range []string{"../../cmd/mdegate", "../../internal/config"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range yamlTag.FindAllSubmatch(b, -1) {
				keys[string(m[1])] = true
			}
		}
	}
	if !keys["admin_listen"] || !keys["tenants"] {
		t.Fatalf("found no config keys in the main module's source (%d tags)", len(keys))
	}
	return keys
}

func gateway(t *testing.T, dep object) map[string]any {
	t.Helper()
	for _, c := range list(dig(dep, "spec", "template", "spec", "containers")) {
		if dig(c, "name") == "mdegate" {
			return c.(map[string]any)
		}
	}
	t.Fatal("no mdegate container")
	return nil
}

// hasEnv reports whether container c sets name from valueFrom.<source>.<field> == want.
func hasEnv(c map[string]any, name, source, field, want string) bool {
	return slices.ContainsFunc(list(c["env"]), func(e any) bool {
		return dig(e, "name") == name && dig(e, "valueFrom", source, field) == want
	})
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			if o, isObj := v.(object); isObj {
				m = o
			} else {
				return nil
			}
		}
		v = m[p]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string { s, _ := v.(string); return s }

func subset(sub, super any) bool {
	a, _ := sub.(map[string]any)
	b, _ := super.(map[string]any)
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) > 0
}
