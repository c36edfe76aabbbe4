package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Machine actions: isolate, scans, investigation packages, live response. Each progresses
// Pending → InProgress → Succeeded, ActionStep apart by the emulator's clock, unless
// cancelled first. A second investigation package or live response on a machine while one is
// unfinished is refused, as MDE refuses it.

// ActionPackageURL is the SAS URL GetPackageUri and GetLiveResponseResultDownloadLink hand
// out once an action succeeded. Like ExportFileURL, it must pass through a gateway untouched.
const ActionPackageURL = "https://mdeactions.blob.core.windows.net/x/package.zip?sv=2020&sig=SECRETSAS"

// action is a machine action with what decides its status.
type action struct {
	ma        machineAction
	created   time.Time
	cancelled bool
	commands  []liveCommand // live response only
}

// liveCommand is one command of a live response request, as the client sent it.
type liveCommand struct {
	Type   string `json:"type"`
	Params []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"params"`
}

// status returns the action's status at now.
func (a *action) status(now time.Time, step time.Duration) string {
	switch {
	case a.cancelled:
		return "Cancelled"
	case now.Before(a.created.Add(step)):
		return "Pending"
	case now.Before(a.created.Add(2 * step)):
		return "InProgress"
	}
	return "Succeeded"
}

// viewLocked returns the action as the API shows it now. e.mu must be held.
func (e *Emulator) viewLocked(a *action) any {
	ma := a.ma
	ma.Status = a.status(e.now(), e.actionStep)
	if ma.Status != "Pending" {
		ma.LastUpdateDateTimeUtc = stamp(a.created.Add(e.actionStep))
	}
	if ma.Status == "Succeeded" {
		ma.LastUpdateDateTimeUtc = stamp(a.created.Add(2 * e.actionStep))
	}
	if a.commands == nil {
		return ma
	}
	type cmd struct {
		Index         int         `json:"index"`
		StartTime     *string     `json:"startTime"`
		EndTime       *string     `json:"endTime"`
		CommandStatus string      `json:"commandStatus"`
		Errors        []string    `json:"errors"`
		Command       liveCommand `json:"command"`
	}
	cmds := make([]cmd, len(a.commands))
	for i, lc := range a.commands {
		st := map[string]string{"Pending": "Created", "InProgress": "InProgress", "Succeeded": "Completed", "Cancelled": "Canceled"}[ma.Status]
		cmds[i] = cmd{Index: i, CommandStatus: st, Errors: []string{}, Command: lc}
	}
	return struct {
		machineAction
		Commands any `json:"commands"`
	}{ma, cmds}
}

// actionKinds maps the last path segment of an action route to the action's type.
var actionKinds = map[string]string{
	"isolate":                     "Isolate",
	"unisolate":                   "Unisolate",
	"runantivirusscan":            "RunAntiVirusScan",
	"collectinvestigationpackage": "CollectInvestigationPackage",
	"restrictcodeexecution":       "RestrictCodeExecution",
	"unrestrictcodeexecution":     "UnrestrictCodeExecution",
	"stopandquarantinefile":       "StopAndQuarantineFile",
	"runliveresponse":             "LiveResponse",
}

// machineAction serves POST /api/machines/{id}/{action} with the body MDE wants for it.
func (e *Emulator) machineAction(c *call) {
	kind := actionKinds[strings.ToLower(c.args[2])]
	var scope *string
	var commands []liveCommand
	var comment string
	switch kind {
	case "Isolate":
		var in struct {
			Comment       string `json:"Comment"`
			IsolationType string `json:"IsolationType"`
		}
		if !decodeBody(c, &in, "Comment") {
			return
		}
		s := in.IsolationType
		switch {
		case s == "":
			s = "Full"
		case strings.EqualFold(s, "Full"), strings.EqualFold(s, "Selective"), strings.EqualFold(s, "UnManagedDevice"):
		default:
			c.fail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid IsolationType '%s'.", safeText(s)))
			return
		}
		comment, scope = in.Comment, &s
	case "RunAntiVirusScan":
		var in struct {
			Comment  string `json:"Comment"`
			ScanType string `json:"ScanType"`
		}
		if !decodeBody(c, &in, "Comment") {
			return
		}
		s := in.ScanType
		if s == "" {
			s = "Full"
		}
		if !strings.EqualFold(s, "Quick") && !strings.EqualFold(s, "Full") {
			c.fail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Invalid ScanType '%s'.", safeText(s)))
			return
		}
		comment, scope = in.Comment, &s
	case "StopAndQuarantineFile":
		var in struct {
			Comment string `json:"Comment"`
			Sha1    string `json:"Sha1"`
		}
		if !decodeBody(c, &in, "Comment", "Sha1") {
			return
		}
		comment = in.Comment
	case "LiveResponse":
		var in struct {
			Comment  string        `json:"Comment"`
			Commands []liveCommand `json:"Commands"`
		}
		if !decodeBody(c, &in, "Commands") {
			return
		}
		if len(in.Commands) == 0 {
			c.fail(http.StatusBadRequest, "InvalidRequestBody", "Request body is incorrect: 'Commands' must not be empty.")
			return
		}
		comment, commands = in.Comment, in.Commands
	default:
		var in struct {
			Comment string `json:"Comment"`
		}
		if !decodeBody(c, &in, "Comment") {
			return
		}
		comment = in.Comment
	}
	i, ok := c.t.machineIndex(c.args[1])
	if !ok {
		c.fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Machine '%s' was not found.", safeText(c.args[1])))
		return
	}
	now := e.now()
	a := &action{created: now, commands: commands, ma: machineAction{
		ID:                    newUUID(),
		Type:                  kind,
		Requestor:             c.claims.AppID,
		RequestorComment:      comment,
		Status:                "Pending",
		MachineID:             c.t.machineID(i),
		ComputerDNSName:       c.t.dnsName(i),
		CreationDateTimeUtc:   stamp(now),
		LastUpdateDateTimeUtc: stamp(now),
		RequestSource:         "PublicApi",
		Scope:                 scope,
	}}
	e.mu.Lock()
	if kind == "CollectInvestigationPackage" || kind == "LiveResponse" {
		for _, old := range c.t.actions {
			if old.ma.Type == kind && old.ma.MachineID == a.ma.MachineID {
				if st := old.status(now, e.actionStep); st == "Pending" || st == "InProgress" {
					e.mu.Unlock()
					c.fail(http.StatusBadRequest, "ActiveRequestAlreadyExists",
						fmt.Sprintf("Action is already in progress (%s); wait until it finishes or cancel it.", old.ma.ID))
					return
				}
			}
		}
	}
	c.t.actions = append(c.t.actions, a)
	if kind == "Isolate" {
		c.t.isolations++
	}
	view := e.viewLocked(a)
	e.mu.Unlock()
	writeEntity(c.w, http.StatusCreated, c.base+"/api/$metadata#MachineActions/$entity", view)
}

// findAction returns the tenant's action with id, or answers 404. e.mu must not be held.
func (e *Emulator) findAction(c *call) *action {
	e.mu.Lock()
	for _, a := range c.t.actions {
		if strings.EqualFold(a.ma.ID, c.args[1]) {
			e.mu.Unlock()
			return a
		}
	}
	// Unlocked before answering: recording the status takes e.mu (an unknown action id
	// deadlocked the emulator).
	e.mu.Unlock()
	c.fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Machine action '%s' was not found.", safeText(c.args[1])))
	return nil
}

var actionFields = map[string]fieldKind{
	"id": kindString, "status": kindString, "machineId": kindString, "type": kindString,
	"requestor": kindString, "creationDateTimeUtc": kindTime, "lastUpdateDateTimeUtc": kindTime,
}

func (e *Emulator) listActions(c *call) {
	e.mu.Lock()
	views := make([]any, len(c.t.actions))
	for i, a := range c.t.actions {
		views[i] = e.viewLocked(a)
	}
	e.mu.Unlock()
	e.serveList(c, listing{context: "/api/$metadata#MachineActions", path: "/api/machineactions", n: len(views),
		item: func(i int) any { return views[i] }, fields: actionFields})
}

func (e *Emulator) getAction(c *call) {
	a := e.findAction(c)
	if a == nil {
		return
	}
	e.mu.Lock()
	view := e.viewLocked(a)
	e.mu.Unlock()
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#MachineActions/$entity", view)
}

// cancelAction serves POST /api/machineactions/{id}/cancel: only an unfinished action can be
// cancelled.
func (e *Emulator) cancelAction(c *call) {
	var in struct {
		Comment string `json:"Comment"`
	}
	if !decodeBody(c, &in, "Comment") {
		return
	}
	a := e.findAction(c)
	if a == nil {
		return
	}
	e.mu.Lock()
	st := a.status(e.now(), e.actionStep)
	if st == "Pending" || st == "InProgress" {
		a.cancelled = true
		a.ma.CancellationRequestor = &c.claims.AppID
		a.ma.CancellationComment = &in.Comment
	}
	view := e.viewLocked(a)
	e.mu.Unlock()
	if st != "Pending" && st != "InProgress" {
		c.fail(http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("Machine action '%s' is %s and cannot be cancelled.", a.ma.ID, st))
		return
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#MachineActions/$entity", view)
}

// packageURI serves GET /api/machineactions/{id}/GetPackageUri: 404 until the collection
// succeeded.
func (e *Emulator) packageURI(c *call) {
	e.downloadLink(c, "CollectInvestigationPackage")
}

// liveResponseResult serves GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=N).
func (e *Emulator) liveResponseResult(c *call) {
	seg := c.args[2]
	arg := seg[strings.IndexByte(seg, '(')+1 : len(seg)-1]
	k, v, _ := strings.Cut(arg, "=")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if !strings.EqualFold(strings.TrimSpace(k), "index") || err != nil || n < 0 {
		c.fail(http.StatusBadRequest, "InvalidInput", "GetLiveResponseResultDownloadLink needs (index=N).")
		return
	}
	e.downloadLink(c, "LiveResponse", n)
}

func (e *Emulator) downloadLink(c *call, kind string, index ...int) {
	a := e.findAction(c)
	if a == nil {
		return
	}
	e.mu.Lock()
	st := a.status(e.now(), e.actionStep)
	ncmd := len(a.commands)
	e.mu.Unlock()
	switch {
	case a.ma.Type != kind:
		c.fail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Machine action '%s' is a %s, not a %s.", a.ma.ID, a.ma.Type, kind))
	case st != "Succeeded":
		c.fail(http.StatusNotFound, "NotFound", fmt.Sprintf("The result of machine action '%s' is not available: it is %s.", a.ma.ID, st))
	case len(index) > 0 && index[0] >= ncmd:
		c.fail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("Command index %d is out of range.", index[0]))
	default:
		writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Edm.String", map[string]string{"value": ActionPackageURL})
	}
}
