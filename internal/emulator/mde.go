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

// Role sets the routes require (any one of them).
var (
	rolesAlertRead   = []string{"Alert.Read.All", "Alert.ReadWrite.All"}
	rolesMachineRead = []string{"Machine.Read.All", "Machine.ReadWrite.All"}
	rolesIsolate     = []string{"Machine.Isolate"}
	rolesTI          = []string{"Ti.ReadWrite.All", "Ti.ReadWrite"}
	rolesHunting     = []string{"AdvancedQuery.Read.All", "AdvancedQuery.Read"}
	rolesSoftware    = []string{"Software.Read.All"}
)

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
	base   string   // base URL for @odata links
	args   []string // path segments after /api/ (v1.0 removed)
}

// endpoint is one method of a route.
type endpoint struct {
	roles []string // any one of them is enough; nil = none needed
	serve func(c *call)
}

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request, reg *region, seen *Seen) {
	segs, ok := apiPath(r.URL.Path)
	if !ok {
		writeAPIError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("No resource at %s.", r.URL.Path))
		return
	}
	t, claims := e.authenticate(r)
	if t == nil {
		writeAPIError(w, http.StatusUnauthorized, "Unauthorized", "Invalid Authorization payload.")
		return
	}
	e.mu.Lock()
	seen.TenantID, seen.AppID = t.id, claims.AppID
	e.mu.Unlock()

	family := ""
	if len(segs) > 0 {
		family = strings.ToLower(segs[0])
	}
	if retry, limit, window, limited := e.admit(t, family); limited {
		secs := int64(retry / time.Second)
		if retry%time.Second != 0 {
			secs++
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeAPIError(w, http.StatusTooManyRequests, "429", fmt.Sprintf(
			"API calls quota exceeded! Maximum allowed %d per %s for the key Destination+TenantID+AppID. You can send requests again in %d seconds.",
			limit, timeSpan(window), secs))
		return
	}

	routes := e.route(segs)
	if routes == nil {
		writeAPIError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("No API at %s.", r.URL.Path))
		return
	}
	ep, ok := routes[r.Method]
	if !ok {
		allowed := make([]string, 0, len(routes))
		for m := range routes {
			allowed = append(allowed, m)
		}
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeAPIError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method))
		return
	}
	if ep.roles != nil && !hasAnyRole(claims.Roles, ep.roles) {
		writeAPIError(w, http.StatusForbidden, "Forbidden",
			"Missing application roles. API required roles: "+strings.Join(ep.roles, ", "))
		return
	}
	ep.serve(&call{w: w, r: r, t: t, claims: claims, base: e.baseURL(reg), args: segs})
}

// apiPath splits a path under /api/ (or /api/v1.0/) into segments; ok is false for paths
// outside /api.
func apiPath(p string) (segs []string, ok bool) {
	lower := strings.ToLower(p)
	if lower != "/api" && !strings.HasPrefix(lower, "/api/") {
		return nil, false
	}
	rest := strings.TrimPrefix(p[len("/api"):], "/")
	if strings.EqualFold(rest, "v1.0") || strings.EqualFold(rest, "v1.0/") {
		rest = ""
	} else if len(rest) > 5 && strings.EqualFold(rest[:5], "v1.0/") {
		rest = rest[5:]
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return nil, true
	}
	return strings.Split(rest, "/"), true
}

// route returns the methods served at segs, or nil when nothing is.
func (e *Emulator) route(segs []string) map[string]endpoint {
	lower := make([]string, len(segs))
	for i, s := range segs {
		lower[i] = strings.ToLower(s)
	}
	switch {
	case len(segs) == 0:
		return map[string]endpoint{http.MethodGet: {serve: e.serveIndex}}
	case lower[0] == "alerts" && len(segs) == 1:
		return map[string]endpoint{http.MethodGet: {rolesAlertRead, e.listAlerts}}
	case lower[0] == "alerts" && len(segs) == 2:
		return map[string]endpoint{http.MethodGet: {rolesAlertRead, e.getAlert}}
	case lower[0] == "machines" && len(segs) == 1:
		return map[string]endpoint{http.MethodGet: {rolesMachineRead, e.listMachines}}
	case lower[0] == "machines" && len(segs) == 2 && lower[1] == "softwareinventorybymachine":
		return map[string]endpoint{http.MethodGet: {rolesSoftware, e.streamInventory}}
	case lower[0] == "machines" && len(segs) == 2 && lower[1] == "softwareinventoryexport":
		return map[string]endpoint{http.MethodGet: {rolesSoftware, e.exportInventory}}
	case lower[0] == "machines" && len(segs) == 2:
		return map[string]endpoint{http.MethodGet: {rolesMachineRead, e.getMachine}}
	case lower[0] == "machines" && len(segs) == 3 && lower[2] == "isolate":
		return map[string]endpoint{http.MethodPost: {rolesIsolate, e.isolate}}
	case lower[0] == "machines" && len(segs) == 3 && lower[2] == "unisolate":
		return map[string]endpoint{http.MethodPost: {rolesIsolate, e.isolate}}
	case lower[0] == "machineactions" && len(segs) == 1:
		return map[string]endpoint{http.MethodGet: {rolesMachineRead, e.listActions}}
	case lower[0] == "machineactions" && len(segs) == 2:
		return map[string]endpoint{http.MethodGet: {rolesMachineRead, e.getAction}}
	case lower[0] == "indicators" && len(segs) == 1:
		return map[string]endpoint{
			http.MethodGet:  {rolesTI, e.listIndicators},
			http.MethodPost: {rolesTI, e.postIndicator},
		}
	case lower[0] == "indicators" && len(segs) == 2:
		return map[string]endpoint{http.MethodDelete: {rolesTI, e.deleteIndicator}}
	case lower[0] == "advancedqueries" && len(segs) == 2 && lower[1] == "run":
		return map[string]endpoint{http.MethodPost: {rolesHunting, e.runQuery}}
	}
	return nil
}

// authenticate verifies the bearer token and returns its tenant and claims, or nil.
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
	if !strings.EqualFold(strings.TrimSuffix(c.Aud, "/"), e.audience) ||
		c.Exp <= now.Unix() || c.Nbf > now.Add(5*time.Minute).Unix() {
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
			writeAPIError(c.w, http.StatusBadRequest, "ODataError", fmt.Sprintf("Invalid value '%s' for $top query option found.", safeText(v)))
			return 0, 0, false
		}
		if n > 10000 {
			writeAPIError(c.w, http.StatusBadRequest, "ODataError", fmt.Sprintf("The limit of '10000' for Top query has been exceeded. The value from the incoming request is '%d'.", n))
			return 0, 0, false
		}
		top = n
	}
	if v := queryGet(q, "$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeAPIError(c.w, http.StatusBadRequest, "ODataError", fmt.Sprintf("Invalid value '%s' for $skip query option found.", safeText(v)))
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

func (e *Emulator) listAlerts(c *call) {
	top, skip, ok := window(c)
	if !ok {
		return
	}
	n := c.t.machines
	end := n
	if top >= 0 {
		end = min(n, skip+top)
	}
	value := []alert{}
	for i := skip; i < end; i++ {
		value = append(value, c.t.alert(i))
	}
	writeCollection(c.w, collection{Context: c.base + "/api/$metadata#Alerts", Value: value})
}

func (e *Emulator) getAlert(c *call) {
	i, ok := c.t.alertIndex(c.args[1])
	if !ok {
		writeAPIError(c.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Alert '%s' was not found.", safeText(c.args[1])))
		return
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Alerts/$entity", c.t.alert(i))
}

// listMachines pages like MDE: without $top a page of PageSize and a nextLink while more
// remain; with $top exactly that many and no nextLink.
func (e *Emulator) listMachines(c *call) {
	top, skip, ok := window(c)
	if !ok {
		return
	}
	n := c.t.machines
	size := e.pageSize
	if top >= 0 {
		size = top
	}
	end := min(n, skip+size)
	value := []machine{}
	for i := skip; i < end; i++ {
		value = append(value, c.t.machine(i))
	}
	out := collection{Context: c.base + "/api/$metadata#Machines", Value: value}
	if top < 0 && end < n {
		out.NextLink = c.base + "/api/machines?$skip=" + strconv.Itoa(end)
	}
	writeCollection(c.w, out)
}

func (e *Emulator) getMachine(c *call) {
	i, ok := c.t.machineIndex(c.args[1])
	if !ok {
		writeAPIError(c.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Machine '%s' was not found.", safeText(c.args[1])))
		return
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Machines/$entity", c.t.machine(i))
}

// isolate serves POST /api/machines/{id}/isolate and /unisolate.
func (e *Emulator) isolate(c *call) {
	var in struct {
		Comment       *string
		IsolationType string
	}
	body, _ := io.ReadAll(c.r.Body) // already in memory (regionHandler read it)
	if err := json.Unmarshal(body, &in); err != nil || in.Comment == nil {
		writeAPIError(c.w, http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: a JSON object with Comment is required.")
		return
	}
	unisolate := strings.EqualFold(c.args[2], "unisolate")
	scope := in.IsolationType
	switch {
	case unisolate:
		scope = ""
	case scope == "":
		scope = "Full"
	case strings.EqualFold(scope, "Full"), strings.EqualFold(scope, "Selective"), strings.EqualFold(scope, "UnManagedDevice"):
	default:
		writeAPIError(c.w, http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid IsolationType '%s'.", safeText(scope)))
		return
	}
	i, ok := c.t.machineIndex(c.args[1])
	if !ok {
		writeAPIError(c.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Machine '%s' was not found.", safeText(c.args[1])))
		return
	}
	at := stamp(e.now())
	a := machineAction{
		ID:                    newUUID(),
		Type:                  "Isolate",
		Requestor:             c.claims.AppID,
		RequestorComment:      *in.Comment,
		Status:                "Pending",
		MachineID:             c.t.machineID(i),
		ComputerDNSName:       c.t.dnsName(i),
		CreationDateTimeUtc:   at,
		LastUpdateDateTimeUtc: at,
		RequestSource:         "PublicApi",
	}
	if unisolate {
		a.Type = "Unisolate"
	} else {
		a.Scope = &scope
	}
	e.mu.Lock()
	c.t.actions = append(c.t.actions, a)
	if !unisolate {
		c.t.isolations++
	}
	e.mu.Unlock()
	writeEntity(c.w, http.StatusCreated, c.base+"/api/$metadata#MachineActions/$entity", a)
}

func (e *Emulator) listActions(c *call) {
	e.mu.Lock()
	value := append([]machineAction{}, c.t.actions...)
	e.mu.Unlock()
	writeCollection(c.w, collection{Context: c.base + "/api/$metadata#MachineActions", Value: value})
}

func (e *Emulator) getAction(c *call) {
	e.mu.Lock()
	var found *machineAction
	for i := range c.t.actions {
		if strings.EqualFold(c.t.actions[i].ID, c.args[1]) {
			a := c.t.actions[i]
			found = &a
		}
	}
	e.mu.Unlock()
	if found == nil {
		writeAPIError(c.w, http.StatusNotFound, "NotFound", fmt.Sprintf("Machine action '%s' was not found.", safeText(c.args[1])))
		return
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#MachineActions/$entity", found)
}

func (e *Emulator) listIndicators(c *call) {
	e.mu.Lock()
	value := append([]indicator{}, c.t.indicators...)
	e.mu.Unlock()
	writeCollection(c.w, collection{Context: c.base + "/api/$metadata#Indicators", Value: value})
}

var indicatorTypes = []string{"FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url"}

// postIndicator creates an indicator, or replaces the one with the same value and type, as
// MDE does, and answers 200 with it.
func (e *Emulator) postIndicator(c *call) {
	var in indicator
	body, _ := io.ReadAll(c.r.Body) // already in memory (regionHandler read it)
	if err := json.Unmarshal(body, &in); err != nil || in.IndicatorValue == "" || in.IndicatorType == "" {
		writeAPIError(c.w, http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: indicatorValue and indicatorType are required.")
		return
	}
	known := false
	for _, t := range indicatorTypes {
		if strings.EqualFold(t, in.IndicatorType) {
			in.IndicatorType, known = t, true
		}
	}
	if !known {
		writeAPIError(c.w, http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid indicatorType '%s'.", safeText(in.IndicatorType)))
		return
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
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Indicators/$entity", in)
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

// runQuery answers any KQL with a few rows about the tenant's machines.
func (e *Emulator) runQuery(c *call) {
	var in struct{ Query string }
	body, _ := io.ReadAll(c.r.Body) // already in memory (regionHandler read it)
	if err := json.Unmarshal(body, &in); err != nil || strings.TrimSpace(in.Query) == "" {
		writeAPIError(c.w, http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: a JSON object with Query is required.")
		return
	}
	type column struct{ Name, Type string }
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
	writeJSON(c.w, http.StatusOK, map[string]any{
		"Stats": map[string]any{
			"ExecutionTime":      0.0123,
			"resource_usage":     map[string]any{"cpu": map[string]any{"total_cpu": "00:00:00.0156250"}},
			"dataset_statistics": []map[string]any{{"table_row_count": len(rows), "table_size": 100 * len(rows)}},
		},
		"Schema": []column{
			{"Timestamp", "DateTime"},
			{"DeviceId", "String"},
			{"DeviceName", "String"},
			{"OSPlatform", "String"},
			{"TenantName", "String"},
		},
		"Results": rows,
	})
}

// streamInventory writes pageSize records (default 50) as one JSON object, incrementally:
// answers of hundreds of megabytes never sit in memory. A nextLink follows when pageSize was
// given and records remain.
func (e *Emulator) streamInventory(c *call) {
	q := c.r.URL.Query()
	size, given := 50, false
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
	if given && end < e.inventoryRecords {
		next := fmt.Sprintf("%s/api/machines/SoftwareInventoryByMachine?pageSize=%d&$skiptoken=%s", c.base, size, encodeSkipToken(end))
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
