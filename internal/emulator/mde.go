package emulator

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The MDE side: one handler per region listener. Every request is recorded, delayed by the
// region's latency, authenticated, counted against quotas, routed, and checked for roles.

// maxBody bounds the request bodies the API reads (and records).
const maxBody = 10 << 20

func (e *Emulator) regionHandler(reg *region) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.enter() {
			w.WriteHeader(http.StatusServiceUnavailable) // closing
			return
		}
		defer e.leave()

		e.mu.Lock()
		stopped, latency, gz, fail := reg.stopped, reg.latency, e.gzip, reg.fail
		e.mu.Unlock()

		seen := &Seen{
			Region:   reg.name,
			Method:   r.Method,
			Path:     r.URL.Path,
			RawQuery: r.URL.RawQuery,
			Host:     r.Host,
			Header:   r.Header.Clone(),
			At:       e.now(),
		}
		var body []byte
		var bodyErr error
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete {
			body, bodyErr = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			seen.Body = body
			if len(seen.Body) > maxBody {
				seen.Body = seen.Body[:maxBody]
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		e.mu.Lock()
		e.seen = append(e.seen, seen)
		e.mu.Unlock()

		var out http.ResponseWriter = w
		if gz {
			w.Header().Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				g := &gzipWriter{ResponseWriter: w, pool: &e.gzPool}
				defer g.close()
				out = g
			}
		}
		sw := &statusWriter{ResponseWriter: out, e: e, seen: seen}

		if !e.sleep(r.Context(), latency, stopped) {
			// Outage, Close, or the client left: drop the connection without an answer
			// (returning would make net/http send an empty 200).
			panic(http.ErrAbortHandler)
		}
		switch {
		case bodyErr != nil:
			return // the client went away mid-body
		case fail != 0:
			e.serveFailure(sw, r, seen, fail)
		case len(body) > maxBody:
			writeAPIError(sw, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is too large.")
		default:
			e.serveAPI(sw, r, reg, seen)
		}
		e.mu.Lock()
		tid, status := seen.TenantID, seen.Status
		e.mu.Unlock()
		e.logf("emulator: api region=%s %s %s tenant=%s status=%d", reg.name, r.Method, r.URL.Path, tid, status)
	})
}

// call is one authenticated API request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	t      *tenant
	claims *accessClaims
	route  *route
	graph  bool     // served by the Graph listener: Graph's shapes and links
	base   string   // base URL for @odata links
	prefix string   // path prefix of the surface as links write it: "/api" or "/v1.0/security"
	args   []string // path segments after the prefix
}

// fail answers an error in the shape of the call's surface.
func (c *call) fail(status int, code, msg string) { writeError(c.w, c.graph, status, code, msg) }

// writeError answers in MDE's error shape, or in Graph's when graph is set.
func writeError(w http.ResponseWriter, graph bool, status int, code, msg string) {
	if !graph {
		writeAPIError(w, status, code, msg)
		return
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    code,
		"message": msg,
		"innerError": map[string]string{
			"date":       time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id": newUUID(),
		},
	}})
}

// serveAPI authenticates, routes, checks the token's audience, counts quotas, checks roles,
// and serves; in that order, as MDE answers 401 before 404 and 403 before 429.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request, reg *region, seen *Seen) {
	graph := reg == e.graph
	segs, prefix, ok := apiPath(r.URL.Path)
	if graph {
		segs, prefix, ok = graphPath(r.URL.Path)
	}
	if !ok {
		writeError(w, graph, http.StatusNotFound, "NotFound", fmt.Sprintf("No resource at %s.", r.URL.Path))
		return
	}
	t, claims := e.authenticate(r)
	if t == nil {
		if graph {
			writeError(w, graph, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
			return
		}
		writeAPIError(w, http.StatusUnauthorized, "Unauthorized", "Invalid Authorization payload.")
		return
	}
	e.mu.Lock()
	seen.TenantID, seen.AppID, seen.Audience = t.id, claims.AppID, claims.Aud
	e.mu.Unlock()

	rt, allowed := match(graph, r.Method, segs)
	if rt == nil {
		if allowed == nil {
			writeError(w, graph, http.StatusNotFound, "NotFound", fmt.Sprintf("No API at %s.", r.URL.Path))
			return
		}
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, graph, http.StatusMethodNotAllowed, "MethodNotAllowed",
			fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method))
		return
	}
	e.mu.Lock()
	seen.API, seen.Surface = rt.name, rt.surface.String()
	e.mu.Unlock()

	if !e.accepts(rt.surface, claims.Aud) {
		// MDE and XDR answer 403 to a valid token for another resource; Graph answers 401.
		if graph {
			writeError(w, graph, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
			return
		}
		writeAPIError(w, http.StatusForbidden, "Forbidden", "The access token was issued for another resource than this API.")
		return
	}
	family := ""
	if len(segs) > 0 {
		family = strings.ToLower(segs[0])
	}
	if retry, limit, window, limited := e.admit(t, claims.AppID, family, rt); limited {
		secs := int64(retry / time.Second)
		if retry%time.Second != 0 {
			secs++
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeError(w, graph, http.StatusTooManyRequests, "429", fmt.Sprintf(
			"API calls quota exceeded! Maximum allowed %d per %s for the key Destination+TenantID+AppID. You can send requests again in %d seconds.",
			limit, timeSpan(window), secs))
		return
	}
	if rt.roles != nil && !hasAnyRole(claims.Roles, rt.roles) {
		writeError(w, graph, http.StatusForbidden, "Forbidden",
			"Missing application roles. API required roles: "+strings.Join(rt.roles, ", "))
		return
	}
	rt.serve(e, &call{w: w, r: r, t: t, claims: claims, route: rt, graph: graph, base: e.baseURL(reg), prefix: prefix, args: segs})
}

// apiPath splits a path under /api/ (or /api/v1.0/), in any case, into segments; ok is false
// for paths outside /api. prefix is "/api" as links write it.
func apiPath(p string) (segs []string, prefix string, ok bool) {
	lower := strings.ToLower(p)
	if lower != "/api" && !strings.HasPrefix(lower, "/api/") {
		return nil, "", false
	}
	rest := strings.TrimPrefix(p[len("/api"):], "/")
	if strings.EqualFold(rest, "v1.0") || strings.EqualFold(rest, "v1.0/") {
		rest = ""
	} else if len(rest) > 5 && strings.EqualFold(rest[:5], "v1.0/") {
		rest = rest[5:]
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return nil, "/api", true
	}
	return strings.Split(rest, "/"), "/api", true
}

// graphPath splits a path under /v1.0/security/ or /beta/security/ into segments; ok is false
// for the rest of Graph, which the emulator does not serve. prefix keeps the version.
func graphPath(p string) (segs []string, prefix string, ok bool) {
	for _, v := range []string{"/v1.0/security/", "/beta/security/"} {
		if len(p) > len(v) && strings.EqualFold(p[:len(v)], v) {
			rest := strings.TrimSuffix(p[len(v):], "/")
			if rest == "" {
				return nil, "", false
			}
			return strings.Split(rest, "/"), strings.ToLower(v[:len(v)-1]), true
		}
	}
	return nil, "", false
}

// authenticate verifies the bearer token and returns its tenant and claims, or nil. The
// audience is not checked here: it depends on the API (see accepts).
func (e *Emulator) authenticate(r *http.Request) (*tenant, *accessClaims) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, nil
	}
	p, err := parseJWT(strings.TrimSpace(tok))
	if err != nil || p.header.Alg != "RS256" || p.header.Kid != e.kid || p.verify(&e.signKey.PublicKey) != nil {
		return nil, nil
	}
	var c accessClaims
	if err := json.Unmarshal(p.claims, &c); err != nil {
		return nil, nil
	}
	now := e.now()
	if c.Exp <= now.Unix() || c.Nbf > now.Add(5*time.Minute).Unix() {
		return nil, nil
	}
	t := e.tenants[c.Tid]
	if t == nil || t.id != c.Tid {
		return nil, nil
	}
	e.mu.Lock()
	issuedAt, known := e.issued[c.Jti]
	revokedAt := t.revokedAt
	e.mu.Unlock()
	if !known {
		issuedAt = time.Unix(c.Iat, 0) // forgotten after a minute; iat errs towards revoked
	}
	if !revokedAt.IsZero() && !issuedAt.After(revokedAt) {
		return nil, nil
	}
	return t, &c
}

func hasAnyRole(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}

// apiError is MDE's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	} `json:"error"`
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	var b apiError
	b.Error.Code, b.Error.Message, b.Error.Target = code, msg, newUUID()
	writeJSON(w, status, b)
}

// writeEntity writes v (a JSON object) with "@odata.context" first, as OData does.
func writeEntity(w http.ResponseWriter, status int, context string, v any) {
	obj := mustJSON(v)
	out := make([]byte, 0, len(obj)+len(context)+24)
	out = append(out, `{"@odata.context":`...)
	out = append(out, mustJSON(context)...)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, obj[1:]...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_, _ = w.Write(out) // a failed write means the client is gone: nothing to do
}

// collection is an OData collection answer.
type collection struct {
	Context  string `json:"@odata.context"`
	Value    any    `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}

func writeCollection(w http.ResponseWriter, c collection) {
	w.Header().Set("OData-Version", "4.0")
	writeJSON(w, http.StatusOK, c)
}

// window parses $top and $skip. top < 0 means absent.
func window(c *call) (top, skip int, ok bool) {
	q := c.r.URL.Query()
	top = -1
	if v := queryGet(q, "$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			c.fail(http.StatusBadRequest, "ODataError", fmt.Sprintf("Invalid value '%s' for $top query option found.", safeText(v)))
			return 0, 0, false
		}
		if n > 10000 {
			c.fail(http.StatusBadRequest, "ODataError", fmt.Sprintf("The limit of '10000' for Top query has been exceeded. The value from the incoming request is '%d'.", n))
			return 0, 0, false
		}
		top = n
	}
	if v := queryGet(q, "$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			c.fail(http.StatusBadRequest, "ODataError", fmt.Sprintf("Invalid value '%s' for $skip query option found.", safeText(v)))
			return 0, 0, false
		}
		skip = n
	}
	return top, skip, true
}

// queryGet returns the first value of the parameter named name, ignoring case.
func queryGet(q map[string][]string, name string) string {
	if v, ok := q[name]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (e *Emulator) serveIndex(c *call) {
	sets := []string{"Alerts", "Machines", "MachineActions", "Indicators", "AdvancedQueries"}
	value := make([]map[string]string, len(sets))
	for i, s := range sets {
		value[i] = map[string]string{"name": s, "kind": "EntitySet", "url": s}
	}
	writeCollection(c.w, collection{Context: c.base + "/api/$metadata", Value: value})
}

// Filterable properties of machines and alerts: the ones tools filter by.
var (
	machineFields = map[string]fieldKind{
		"id": kindString, "computerDnsName": kindString, "healthStatus": kindString,
		"osPlatform": kindString, "riskScore": kindString, "exposureLevel": kindString,
		"onboardingStatus": kindString, "lastIpAddress": kindString, "aadDeviceId": kindString,
		"rbacGroupId": kindNumber, "lastSeen": kindTime, "firstSeen": kindTime,
	}
	alertFields = map[string]fieldKind{
		"id": kindString, "status": kindString, "severity": kindString, "category": kindString,
		"machineId": kindString, "computerDnsName": kindString, "assignedTo": kindString,
		"detectionSource": kindString, "incidentId": kindNumber,
		"alertCreationTime": kindTime, "lastUpdateTime": kindTime,
	}
)

// alertsOf returns the listing of the tenant's alerts i for which keep(i) holds (nil keeps
// all), shaped for MDE or, for Graph, as alerts_v2.
func (e *Emulator) alertsOf(c *call, path string, keep func(i int) bool) listing {
	var idx []int
	for i := 0; i < c.t.machines; i++ {
		if keep == nil || keep(i) {
			idx = append(idx, i)
		}
	}
	e.mu.Lock()
	status := make(map[int]string, len(c.t.alertStatus))
	for k, v := range c.t.alertStatus {
		status[k] = v
	}
	e.mu.Unlock()
	item := func(j int) any {
		a := c.t.alert(idx[j])
		if st, ok := status[idx[j]]; ok {
			a.Status = st
		}
		return a
	}
	l := listing{context: "/api/$metadata#Alerts", path: path, n: len(idx), item: item, fields: alertFields, pageSize: e.pageSize, expand: "evidence"}
	if c.graph {
		l.item = func(j int) any { return graphAlert(c.t, item(j).(alert)) }
		l.context, l.fields, l.odataType, l.expand = "/v1.0/$metadata#security/alerts_v2", graphAlertFields, "#microsoft.graph.security.alert", ""
	}
	return l
}

// listAlerts pages like listMachines; on Graph it serves alerts_v2.
func (e *Emulator) listAlerts(c *call) {
	e.serveList(c, e.alertsOf(c, c.prefix+"/"+c.args[0], nil))
}

func (e *Emulator) getAlert(c *call) {
	i, ok := c.t.alertIndex(c.args[1])
	if !ok {
		c.fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Alert '%s' was not found.", safeText(c.args[1])))
		return
	}
	l := e.alertsOf(c, "", func(j int) bool { return j == i })
	if c.graph {
		writeJSON(c.w, http.StatusOK, json.RawMessage(withType(mustJSON(l.item(0)), l.odataType)))
		return
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Alerts/$entity", l.item(0))
}

// machinesOf returns the listing of the tenant's machines i for which keep(i) holds (nil
// keeps all).
func (e *Emulator) machinesOf(c *call, path string, keep func(i int) bool) listing {
	var idx []int
	for i := 0; i < c.t.machines; i++ {
		if keep == nil || keep(i) {
			idx = append(idx, i)
		}
	}
	return listing{context: "/api/$metadata#Machines", path: path, n: len(idx),
		item: func(j int) any { return c.t.machine(idx[j]) }, fields: machineFields, pageSize: e.pageSize}
}

// listMachines pages like MDE: without $top a page of PageSize and a nextLink while more
// remain; with $top exactly that many and no nextLink.
func (e *Emulator) listMachines(c *call) {
	e.serveList(c, e.machinesOf(c, "/api/machines", nil))
}

func (e *Emulator) getMachine(c *call) {
	i, ok := c.t.machineIndex(c.args[1])
	if !ok {
		writeAPIError(c.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Machine '%s' was not found.", safeText(c.args[1])))
		return
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Machines/$entity", c.t.machine(i))
}

var indicatorFields = map[string]fieldKind{"id": kindString, "indicatorValue": kindString,
	"indicatorType": kindString, "action": kindString, "severity": kindString, "createdBy": kindString,
	"creationTimeDateTimeUtc": kindTime}

func (e *Emulator) listIndicators(c *call) {
	e.mu.Lock()
	value := append([]indicator{}, c.t.indicators...)
	e.mu.Unlock()
	e.serveList(c, listing{context: "/api/$metadata#Indicators", path: "/api/indicators", n: len(value),
		item: func(i int) any { return value[i] }, fields: indicatorFields})
}

var indicatorTypes = []string{"FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url"}

// postIndicator creates an indicator, or replaces the one with the same value and type, as
// MDE does, and answers 200 with it.
func (e *Emulator) postIndicator(c *call) {
	var in indicator
	if !decodeBody(c, &in, "indicatorValue", "indicatorType") {
		return
	}
	out, msg := e.upsertIndicator(c, in)
	if msg != "" {
		c.fail(http.StatusBadRequest, "InvalidInput", msg)
		return
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Indicators/$entity", out)
}

// importIndicators serves POST /api/indicators/import: {"Indicators":[...]}, at most 500,
// answered with one result per indicator.
func (e *Emulator) importIndicators(c *call) {
	var in struct {
		Indicators []json.RawMessage `json:"Indicators"`
	}
	if !decodeBody(c, &in, "Indicators") {
		return
	}
	if len(in.Indicators) > 500 {
		c.fail(http.StatusBadRequest, "MaximumBatchSizeExceeded", fmt.Sprintf("Maximum batch size is 500, got %d.", len(in.Indicators)))
		return
	}
	type result struct {
		ID             string  `json:"id"`
		IndicatorValue string  `json:"indicatorValue"`
		IsFailed       bool    `json:"isFailed"`
		FailureReason  *string `json:"failureReason"`
	}
	results := make([]result, 0, len(in.Indicators))
	for _, raw := range in.Indicators {
		var ind indicator
		sub := &call{w: &discardWriter{header: http.Header{}}, r: c.r.Clone(c.r.Context()), t: c.t, claims: c.claims}
		sub.r.Body = io.NopCloser(bytes.NewReader(raw))
		if !decodeBody(sub, &ind, "indicatorValue", "indicatorType") {
			reason := "Invalid indicator: property names are case-sensitive; indicatorValue and indicatorType are required."
			results = append(results, result{IsFailed: true, FailureReason: &reason})
			continue
		}
		out, msg := e.upsertIndicator(c, ind)
		r := result{ID: out.ID, IndicatorValue: ind.IndicatorValue}
		if msg != "" {
			r.IsFailed, r.FailureReason = true, &msg
		}
		results = append(results, r)
	}
	writeCollection(c.w, collection{Context: c.base + "/api/$metadata#Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)", Value: results})
}

// discardWriter swallows an answer (decodeBody's, when it checks one indicator of a batch).
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// upsertIndicator stores in for the call's tenant and returns it as stored, or a message
// saying why it is invalid.
func (e *Emulator) upsertIndicator(c *call, in indicator) (indicator, string) {
	if in.IndicatorValue == "" {
		return in, "indicatorValue is empty."
	}
	known := false
	for _, t := range indicatorTypes {
		if strings.EqualFold(t, in.IndicatorType) {
			in.IndicatorType, known = t, true
		}
	}
	if !known {
		return in, fmt.Sprintf("Invalid indicatorType '%s'.", safeText(in.IndicatorType))
	}
	at := stamp(e.now())
	if in.Action == "" {
		in.Action = "Audit"
	}
	if in.Severity == "" {
		in.Severity = "Informational"
	}
	if in.RbacGroupNames == nil {
		in.RbacGroupNames = []string{}
	}
	if in.MitreTechniques == nil {
		in.MitreTechniques = []string{}
	}
	in.Source, in.SourceType = c.claims.AppID, "AadApp"
	in.CreatedBy, in.LastUpdatedBy = c.claims.AppID, c.claims.AppID
	in.CreatedByDisplayName, in.CreatedBySource = c.claims.AppID, "PublicApi"
	in.CreationTimeDateTimeUtc, in.LastUpdateTime = at, at

	e.mu.Lock()
	replaced := false
	for i, old := range c.t.indicators {
		if strings.EqualFold(old.IndicatorValue, in.IndicatorValue) && old.IndicatorType == in.IndicatorType {
			in.ID, in.CreationTimeDateTimeUtc = old.ID, old.CreationTimeDateTimeUtc
			c.t.indicators[i] = in
			replaced = true
			break
		}
	}
	if !replaced {
		in.ID = strconv.Itoa(c.t.nextIndicator)
		c.t.nextIndicator++
		c.t.indicators = append(c.t.indicators, in)
	}
	e.mu.Unlock()
	return in, ""
}

func (e *Emulator) deleteIndicator(c *call) {
	e.mu.Lock()
	found := false
	for i, ind := range c.t.indicators {
		if ind.ID == c.args[1] {
			c.t.indicators = append(c.t.indicators[:i:i], c.t.indicators[i+1:]...)
			found = true
			break
		}
	}
	e.mu.Unlock()
	if !found {
		writeAPIError(c.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Indicator '%s' was not found.", safeText(c.args[1])))
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

// runQuery answers any KQL with a few rows about the tenant's machines: MDE's
// advancedqueries/run, XDR's advancedhunting/run (same shape), and Graph's runHuntingQuery
// (camelCase schema and results). All three want {"Query": "..."}.
func (e *Emulator) runQuery(c *call) {
	var in struct {
		Query    string `json:"Query"`
		Timespan string `json:"Timespan"`
	}
	if !decodeBody(c, &in, "Query") {
		return
	}
	if strings.TrimSpace(in.Query) == "" {
		c.fail(http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: Query is empty.")
		return
	}
	type column struct {
		Name string `json:"Name"`
		Type string `json:"Type"`
	}
	rows := []map[string]any{}
	for i := 0; i < min(c.t.machines, 5); i++ {
		m := c.t.machine(i)
		rows = append(rows, map[string]any{
			"Timestamp":  m.LastSeen,
			"DeviceId":   m.ID,
			"DeviceName": m.ComputerDNSName,
			"OSPlatform": m.OSPlatform,
			"TenantName": c.t.name,
		})
	}
	schema := []column{
		{"Timestamp", "DateTime"},
		{"DeviceId", "String"},
		{"DeviceName", "String"},
		{"OSPlatform", "String"},
		{"TenantName", "String"},
	}
	if c.graph {
		gs := make([]map[string]string, len(schema))
		for i, col := range schema {
			gs[i] = map[string]string{"name": col.Name, "type": col.Type}
		}
		writeJSON(c.w, http.StatusOK, map[string]any{
			"@odata.context": c.base + "/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",
			"schema":         gs,
			"results":        rows,
		})
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"Stats": map[string]any{
			"ExecutionTime":      0.0123,
			"resource_usage":     map[string]any{"cpu": map[string]any{"total_cpu": "00:00:00.0156250"}},
			"dataset_statistics": []map[string]any{{"table_row_count": len(rows), "table_size": 100 * len(rows)}},
		},
		"Schema":  schema,
		"Results": rows,
	})
}

// streamInventory writes a page of pageSize records (default 50,000, as MDE's TVM exports) as
// one JSON object, incrementally: answers of hundreds of megabytes never sit in memory. A
// nextLink follows while records remain; it carries pageSize only when the request did.
// SoftwareVulnerabilitiesByMachine serves the same records.
func (e *Emulator) streamInventory(c *call) {
	q := c.r.URL.Query()
	size, given := e.exportPage, false
	if v := queryGet(q, "pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeAPIError(c.w, http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid pageSize '%s'.", safeText(v)))
			return
		}
		size, given = n, true
	}
	skip := 0
	if v := queryGet(q, "$skiptoken"); v != "" {
		n, ok := decodeSkipToken(v)
		if !ok {
			writeAPIError(c.w, http.StatusBadRequest, "InvalidInput", "Invalid $skiptoken.")
			return
		}
		skip = n
	}
	end := min(e.inventoryRecords, skip+size)

	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.Header().Set("OData-Version", "4.0")
	c.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.w, 64<<10)
	_, _ = bw.WriteString(`{"@odata.context":`)
	_, _ = bw.Write(mustJSON(c.base + "/api/$metadata#Collection(microsoft.windowsDefenderATP.api.AssetSoftware)"))
	_, _ = bw.WriteString(`,"value":[`)
	ctx := c.r.Context()
	buf := make([]byte, 0, 1024)
	for i := skip; i < end; i++ {
		buf = buf[:0]
		if i > skip {
			buf = append(buf, ',')
		}
		buf = c.t.appendInventoryRecord(buf, i)
		if _, err := bw.Write(buf); err != nil {
			return // the client or the region went away
		}
		if i == skip && !e.streamPause(c, bw) {
			return
		}
		if (i-skip)%4096 == 4095 && ctx.Err() != nil {
			return
		}
	}
	_, _ = bw.WriteString("]")
	if end < e.inventoryRecords {
		next := c.base + "/api/machines/" + c.args[1] + "?"
		if given {
			next += "pageSize=" + strconv.Itoa(size) + "&"
		}
		next += "$skiptoken=" + encodeSkipToken(end)
		_, _ = bw.WriteString(`,"@odata.nextLink":`)
		_, _ = bw.Write(mustJSON(next))
	}
	_, _ = bw.WriteString("}")
	_ = bw.Flush() // a failed write means the client is gone: nothing to do
}

// Skip tokens are opaque to clients; like MDE's, they are base64 JSON ("eyJ...").
func encodeSkipToken(skip int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"skip":` + strconv.Itoa(skip) + `}`))
}

func decodeSkipToken(s string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return 0, false
	}
	var v struct{ Skip *int }
	if json.Unmarshal(b, &v) != nil || v.Skip == nil || *v.Skip < 0 {
		return 0, false
	}
	return *v.Skip, true
}

func (e *Emulator) exportInventory(c *call) {
	c.w.Header().Set("OData-Version", "4.0")
	writeJSON(c.w, http.StatusOK, map[string]any{
		"@odata.context": c.base + "/api/$metadata#microsoft.windowsDefenderATP.api.ExportFilesResponse",
		"exportFiles":    []string{ExportFileURL},
		"generatedTime":  stamp(e.now()),
	})
}

// statusWriter records the answered status in the request's Seen.
type statusWriter struct {
	http.ResponseWriter
	e       *Emulator
	seen    *Seen
	written bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.written && code >= 200 {
		s.written = true
		s.e.mu.Lock()
		s.seen.Status = code
		s.e.mu.Unlock()
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if !s.written {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
