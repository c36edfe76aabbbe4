package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Incidents (Defender XDR /api/incidents and Graph security/incidents) and Graph's alerts_v2.
// Incident i groups alert i of the tenant; its id is the alert's incidentId.

// xdrIncident is Defender XDR's Incident entity, trimmed.
type xdrIncident struct {
	IncidentID     int      `json:"incidentId"`
	IncidentURI    string   `json:"incidentUri"`
	IncidentName   string   `json:"incidentName"`
	CreatedTime    string   `json:"createdTime"`
	LastUpdateTime string   `json:"lastUpdateTime"`
	AssignedTo     *string  `json:"assignedTo"`
	Classification string   `json:"classification"`
	Determination  string   `json:"determination"`
	Status         string   `json:"status"`
	Severity       string   `json:"severity"`
	Tags           []string `json:"tags"`
	Alerts         []alert  `json:"alerts"`
}

// graphIncident is Graph's microsoft.graph.security.incident, trimmed.
type graphIncident struct {
	ID                 string   `json:"id"`
	TenantID           string   `json:"tenantId"`
	DisplayName        string   `json:"displayName"`
	CreatedDateTime    string   `json:"createdDateTime"`
	LastUpdateDateTime string   `json:"lastUpdateDateTime"`
	AssignedTo         *string  `json:"assignedTo"`
	Classification     string   `json:"classification"`
	Determination      string   `json:"determination"`
	Status             string   `json:"status"`
	Severity           string   `json:"severity"`
	IncidentWebURL     string   `json:"incidentWebUrl"`
	CustomTags         []string `json:"customTags"`
}

// graphAlertV2 is Graph's microsoft.graph.security.alert, trimmed.
type graphAlertV2 struct {
	ID                 string  `json:"id"`
	ProviderAlertID    string  `json:"providerAlertId"`
	IncidentID         string  `json:"incidentId"`
	Status             string  `json:"status"`
	Severity           string  `json:"severity"`
	Classification     *string `json:"classification"`
	Determination      *string `json:"determination"`
	ServiceSource      string  `json:"serviceSource"`
	DetectionSource    string  `json:"detectionSource"`
	Title              string  `json:"title"`
	Category           string  `json:"category"`
	TenantID           string  `json:"tenantId"`
	CreatedDateTime    string  `json:"createdDateTime"`
	LastUpdateDateTime string  `json:"lastUpdateDateTime"`
	Evidence           []any   `json:"evidence"`
}

var (
	incidentFields = map[string]fieldKind{"incidentId": kindNumber, "status": kindString, "severity": kindString,
		"assignedTo": kindString, "classification": kindString, "determination": kindString,
		"createdTime": kindTime, "lastUpdateTime": kindTime}
	graphIncidentFields = map[string]fieldKind{"id": kindString, "status": kindString, "severity": kindString,
		"assignedTo": kindString, "classification": kindString, "determination": kindString,
		"createdDateTime": kindTime, "lastUpdateDateTime": kindTime}
	graphAlertFields = map[string]fieldKind{"id": kindString, "incidentId": kindString, "status": kindString,
		"severity": kindString, "serviceSource": kindString, "detectionSource": kindString,
		"createdDateTime": kindTime, "lastUpdateDateTime": kindTime}
)

// lowerFirst turns MDE's enum values into Graph's ("InProgress" → "inProgress").
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func graphAlert(t *tenant, a alert) graphAlertV2 {
	return graphAlertV2{
		ID: "da" + a.ID, ProviderAlertID: a.ID, IncidentID: strconv.Itoa(a.IncidentID),
		Status: lowerFirst(a.Status), Severity: lowerFirst(a.Severity),
		ServiceSource: "microsoftDefenderForEndpoint", DetectionSource: "microsoftDefenderForEndpoint",
		Title: a.Title, Category: a.Category, TenantID: t.id,
		CreatedDateTime: a.AlertCreationTime, LastUpdateDateTime: a.LastUpdateTime, Evidence: []any{},
	}
}

func (t *tenant) incident(a alert) xdrIncident {
	return xdrIncident{
		IncidentID: a.IncidentID, IncidentURI: fmt.Sprintf("https://security.microsoft.com/incidents/%d", a.IncidentID),
		IncidentName: a.Title, CreatedTime: a.AlertCreationTime, LastUpdateTime: a.LastUpdateTime,
		Classification: "Unknown", Determination: "NotAvailable", Status: "Active", Severity: a.Severity,
		Tags: []string{}, Alerts: []alert{a},
	}
}

// incidentsOf lists the tenant's incidents whose index keep accepts (nil: all).
func (e *Emulator) incidentsOf(c *call, keep func(i int) bool) listing {
	alerts := e.alertsOf(&call{t: c.t}, "", nil) // MDE-shaped alerts with their current status
	var idx []int
	for i := 0; i < alerts.n; i++ {
		if keep == nil || keep(i) {
			idx = append(idx, i)
		}
	}
	inc := func(j int) xdrIncident { return c.t.incident(alerts.item(idx[j]).(alert)) }
	if !c.graph {
		return listing{context: "/api/$metadata#Incidents", path: "/api/incidents", n: len(idx),
			item: func(j int) any { return inc(j) }, fields: incidentFields, pageSize: e.pageSize, maxTop: 100}
	}
	return listing{context: "/v1.0/$metadata#security/incidents", path: c.prefix + "/incidents", n: len(idx),
		item: func(j int) any {
			x := inc(j)
			return graphIncident{ID: strconv.Itoa(x.IncidentID), TenantID: c.t.id, DisplayName: x.IncidentName,
				CreatedDateTime: x.CreatedTime, LastUpdateDateTime: x.LastUpdateTime, Classification: "unknown",
				Determination: "unknown", Status: lowerFirst(x.Status), Severity: lowerFirst(x.Severity),
				IncidentWebURL: x.IncidentURI, CustomTags: []string{}}
		},
		fields: graphIncidentFields, pageSize: e.pageSize, odataType: "#microsoft.graph.security.incident"}
}

// listIncidents serves XDR's /api/incidents and Graph's security/incidents, paged like
// machines (Graph also with $top).
func (e *Emulator) listIncidents(c *call) { e.serveList(c, e.incidentsOf(c, nil)) }

func (e *Emulator) getIncident(c *call) {
	var found = -1
	for i := 0; i < c.t.machines; i++ {
		if strconv.Itoa(c.t.alert(i).IncidentID) == c.args[1] {
			found = i
			break
		}
	}
	if found < 0 {
		c.fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Incident '%s' was not found.", safeText(c.args[1])))
		return
	}
	l := e.incidentsOf(c, func(i int) bool { return i == found })
	raw := mustJSON(l.item(0))
	if l.odataType != "" {
		raw = withType(raw, l.odataType)
	}
	writeEntity(c.w, http.StatusOK, c.base+l.context+"/$entity", jsonObject(raw))
}

// jsonObject is raw JSON that writeEntity can splice.
type jsonObject []byte

func (j jsonObject) MarshalJSON() ([]byte, error) { return j, nil }

// batchUpdateAlerts serves POST /api/alerts/batchUpdate: {"alertIds":[...], "status": ...}.
// Only status is kept (it shows in alerts, incidents and filters); the other properties are
// accepted as MDE accepts them.
func (e *Emulator) batchUpdateAlerts(c *call) {
	var in struct {
		AlertIDs       []string `json:"alertIds"`
		Status         string   `json:"status"`
		AssignedTo     string   `json:"assignedTo"`
		Classification string   `json:"classification"`
		Determination  string   `json:"determination"`
		Comment        string   `json:"comment"`
	}
	if !decodeBody(c, &in, "alertIds") {
		return
	}
	if len(in.AlertIDs) == 0 || len(in.AlertIDs) > 10000 {
		c.fail(http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: alertIds must hold 1 to 10,000 ids.")
		return
	}
	switch in.Status {
	case "", "New", "InProgress", "Resolved":
	default:
		c.fail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid status '%s'.", safeText(in.Status)))
		return
	}
	var idx []int
	for _, id := range in.AlertIDs {
		i, ok := c.t.alertIndex(id)
		if !ok {
			c.fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Alert '%s' was not found.", safeText(id)))
			return
		}
		idx = append(idx, i)
	}
	if in.Status != "" {
		e.mu.Lock()
		for _, i := range idx {
			c.t.alertStatus[i] = in.Status
		}
		e.mu.Unlock()
	}
	c.w.WriteHeader(http.StatusOK)
}
