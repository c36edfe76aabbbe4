package emulator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// tenant is a Tenant with its state. The fields below the line are guarded by Emulator.mu;
// the ones above never change after Start.
type tenant struct {
	id       string
	name     string
	index    int // position in Options.Tenants, for distinct IP addresses
	machines int
	noMDE    bool

	roles         [3][]string // by surface; never nil (an empty slice means no roles claim)
	consented     bool
	fail          tokenFailure
	revokedAt     time.Time
	throttle      *time.Duration
	isolations    int
	indicators    []indicator
	nextIndicator int
	actions       []*action
	alertStatus   map[int]string // alert index → status set by batchUpdate
}

func newTenant(i int, t Tenant) (*tenant, error) {
	if t.ID == "" {
		return nil, fmt.Errorf("id is empty")
	}
	nt := &tenant{
		id:            strings.ToLower(t.ID),
		name:          t.Name,
		index:         i,
		machines:      t.Machines,
		noMDE:         t.NoMDE,
		consented:     t.Consented,
		nextIndicator: 1,
	}
	if strings.ContainsAny(nt.id, "/?#% ") {
		return nil, fmt.Errorf("id %q is not a path segment", t.ID)
	}
	if nt.name == "" {
		nt.name = "tenant" + strconv.Itoa(i+1)
	}
	if strings.ContainsAny(nt.name, "/?#% \"\\") {
		return nil, fmt.Errorf("name %q has characters that cannot go in a host name", t.Name)
	}
	nt.roles[surfaceMDE] = rolesOrDefault(t.Roles, surfaceMDE)
	nt.roles[surfaceXDR] = rolesOrDefault(t.XDRRoles, surfaceXDR)
	nt.roles[surfaceGraph] = rolesOrDefault(t.GraphRoles, surfaceGraph)
	nt.alertStatus = make(map[int]string)
	if nt.machines <= 0 {
		nt.machines = 7
	}
	for j := 0; j < 2; j++ {
		nt.indicators = append(nt.indicators, nt.seedIndicator(j))
	}
	return nt, nil
}

// dataEpoch anchors every generated timestamp, so data is the same on every run.
var dataEpoch = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// machine is one device of a tenant, shaped like MDE's Machine entity.
type machine struct {
	ID                    string   `json:"id"`
	ComputerDNSName       string   `json:"computerDnsName"`
	FirstSeen             string   `json:"firstSeen"`
	LastSeen              string   `json:"lastSeen"`
	OSPlatform            string   `json:"osPlatform"`
	OSVersion             *string  `json:"osVersion"`
	OSProcessor           string   `json:"osProcessor"`
	Version               string   `json:"version"`
	LastIPAddress         string   `json:"lastIpAddress"`
	LastExternalIPAddress string   `json:"lastExternalIpAddress"`
	AgentVersion          string   `json:"agentVersion"`
	OSBuild               int      `json:"osBuild"`
	HealthStatus          string   `json:"healthStatus"`
	DeviceValue           string   `json:"deviceValue"`
	RbacGroupID           int      `json:"rbacGroupId"`
	RbacGroupName         string   `json:"rbacGroupName"`
	RiskScore             string   `json:"riskScore"`
	ExposureLevel         string   `json:"exposureLevel"`
	IsAadJoined           bool     `json:"isAadJoined"`
	AadDeviceID           string   `json:"aadDeviceId"`
	MachineTags           []string `json:"machineTags"`
	OnboardingStatus      string   `json:"onboardingStatus"`
	OSArchitecture        string   `json:"osArchitecture"`
	ManagedBy             string   `json:"managedBy"`
}

var (
	osPlatforms = []string{"Windows11", "Windows10", "WindowsServer2022", "Linux", "macOS"}
	risks       = []string{"None", "Low", "Medium", "High"}
)

func (t *tenant) machineID(i int) string { return fmt.Sprintf("%s-m%02d", t.name, i+1) }

func (t *tenant) dnsName(i int) string {
	return fmt.Sprintf("%s-pc%02d.%s.example", t.name, i+1, t.name)
}

// machine returns the i-th (0-based) machine of the tenant.
func (t *tenant) machine(i int) machine {
	return machine{
		ID:                    t.machineID(i),
		ComputerDNSName:       t.dnsName(i),
		FirstSeen:             stamp(dataEpoch.Add(-time.Duration(30*24+i) * time.Hour)),
		LastSeen:              stamp(dataEpoch.Add(time.Duration(i) * time.Minute)),
		OSPlatform:            osPlatforms[i%len(osPlatforms)],
		OSProcessor:           "x64",
		Version:               "22H2",
		LastIPAddress:         fmt.Sprintf("10.%d.%d.%d", 1+t.index%250, i/250, 1+i%250),
		LastExternalIPAddress: fmt.Sprintf("203.0.113.%d", 1+t.index%250),
		AgentVersion:          "10.8760.22621.1000",
		OSBuild:               22621,
		HealthStatus:          "Active",
		DeviceValue:           "Normal",
		RbacGroupID:           1 + t.index,
		RbacGroupName:         t.name,
		RiskScore:             risks[i%len(risks)],
		ExposureLevel:         risks[(i+1)%len(risks)],
		IsAadJoined:           true,
		AadDeviceID:           stableUUID(t.id + "/device/" + strconv.Itoa(i)),
		MachineTags:           []string{"tenant:" + t.name},
		OnboardingStatus:      "Onboarded",
		OSArchitecture:        "64-bit",
		ManagedBy:             "MicrosoftDefenderForEndpoint",
	}
}

// machineIndex finds a machine id of the tenant (case-insensitively).
func (t *tenant) machineIndex(id string) (int, bool) {
	prefix := t.name + "-m"
	if len(id) <= len(prefix) || !strings.EqualFold(id[:len(prefix)], prefix) {
		return 0, false
	}
	n, err := strconv.Atoi(id[len(prefix):])
	if err != nil || n < 1 || n > t.machines || !strings.EqualFold(t.machineID(n-1), id) {
		return 0, false
	}
	return n - 1, true
}

// alert is one alert of a tenant, shaped like MDE's Alert entity. Alert i is on machine i.
type alert struct {
	ID                 string   `json:"id"`
	IncidentID         int      `json:"incidentId"`
	InvestigationID    *int     `json:"investigationId"`
	AssignedTo         *string  `json:"assignedTo"`
	Severity           string   `json:"severity"`
	Status             string   `json:"status"`
	Classification     *string  `json:"classification"`
	Determination      *string  `json:"determination"`
	InvestigationState string   `json:"investigationState"`
	DetectionSource    string   `json:"detectionSource"`
	Category           string   `json:"category"`
	ThreatFamilyName   *string  `json:"threatFamilyName"`
	Title              string   `json:"title"`
	Description        string   `json:"description"`
	AlertCreationTime  string   `json:"alertCreationTime"`
	FirstEventTime     string   `json:"firstEventTime"`
	LastEventTime      string   `json:"lastEventTime"`
	LastUpdateTime     string   `json:"lastUpdateTime"`
	ResolvedTime       *string  `json:"resolvedTime"`
	MachineID          string   `json:"machineId"`
	ComputerDNSName    string   `json:"computerDnsName"`
	RbacGroupName      string   `json:"rbacGroupName"`
	AadTenantID        string   `json:"aadTenantId"`
	Comments           []any    `json:"comments"`
	Evidence           []any    `json:"evidence"`
	MitreTechniques    []string `json:"mitreTechniques"`
}

var alertKinds = []struct{ title, category, severity string }{
	{"Suspicious PowerShell command line", "Execution", "Medium"},
	{"Ransomware behavior detected in the file system", "Ransomware", "High"},
	{"Suspicious sign-in activity", "InitialAccess", "Low"},
	{"Credential dumping tool detected", "CredentialAccess", "High"},
	{"Unexpected outbound connection", "CommandAndControl", "Informational"},
}

func (t *tenant) alertID(i int) string { return fmt.Sprintf("%s-a%02d", t.name, i+1) }

// alert returns the i-th (0-based) alert of the tenant.
func (t *tenant) alert(i int) alert {
	k := alertKinds[i%len(alertKinds)]
	created := dataEpoch.Add(time.Duration(i) * time.Hour)
	return alert{
		ID:                 t.alertID(i),
		IncidentID:         1000*(t.index+1) + i + 1,
		Severity:           k.severity,
		Status:             "New",
		InvestigationState: "PendingApproval",
		DetectionSource:    "WindowsDefenderAtp",
		Category:           k.category,
		Title:              k.title + " on " + t.dnsName(i),
		Description:        fmt.Sprintf("Alert %d of tenant %s.", i+1, t.name),
		AlertCreationTime:  stamp(created),
		FirstEventTime:     stamp(created.Add(-10 * time.Minute)),
		LastEventTime:      stamp(created.Add(-time.Minute)),
		LastUpdateTime:     stamp(created.Add(time.Minute)),
		MachineID:          t.machineID(i),
		ComputerDNSName:    t.dnsName(i),
		RbacGroupName:      t.name,
		AadTenantID:        t.id,
		Comments:           []any{},
		Evidence:           []any{},
		MitreTechniques:    []string{"T1059.001"},
	}
}

func (t *tenant) alertIndex(id string) (int, bool) {
	for i := 0; i < t.machines; i++ {
		if strings.EqualFold(t.alertID(i), id) {
			return i, true
		}
	}
	return 0, false
}

// indicator is a custom indicator (ti), shaped like MDE's Indicator entity. Fields the client
// sends are kept; the server fills the rest.
type indicator struct {
	ID                      string   `json:"id"`
	IndicatorValue          string   `json:"indicatorValue"`
	IndicatorType           string   `json:"indicatorType"`
	Action                  string   `json:"action"`
	Application             *string  `json:"application"`
	Source                  string   `json:"source"`
	SourceType              string   `json:"sourceType"`
	Title                   string   `json:"title"`
	CreationTimeDateTimeUtc string   `json:"creationTimeDateTimeUtc"`
	CreatedBy               string   `json:"createdBy"`
	ExpirationTime          *string  `json:"expirationTime"`
	LastUpdateTime          string   `json:"lastUpdateTime"`
	LastUpdatedBy           string   `json:"lastUpdatedBy"`
	Severity                string   `json:"severity"`
	Description             string   `json:"description"`
	RecommendedActions      *string  `json:"recommendedActions"`
	RbacGroupNames          []string `json:"rbacGroupNames"`
	GenerateAlert           bool     `json:"generateAlert"`
	CreatedByDisplayName    string   `json:"createdByDisplayName"`
	CreatedBySource         string   `json:"createdBySource"`
	MitreTechniques         []string `json:"mitreTechniques"`
	HistoricalDetection     bool     `json:"historicalDetection"`
	LookBackPeriod          *string  `json:"lookBackPeriod"`
	ExternalID              *string  `json:"externalId"`
}

// seedIndicator returns the j-th indicator a tenant starts with.
func (t *tenant) seedIndicator(j int) indicator {
	at := stamp(dataEpoch.Add(-time.Duration(j+1) * 24 * time.Hour))
	id := strconv.Itoa(t.nextIndicator)
	t.nextIndicator++
	return indicator{
		ID:                      id,
		IndicatorValue:          fmt.Sprintf("bad-%d.%s.example", j+1, t.name),
		IndicatorType:           "DomainName",
		Action:                  "AlertAndBlock",
		Source:                  "mdegate emulator",
		SourceType:              "AadApp",
		Title:                   fmt.Sprintf("Seed indicator %d of %s", j+1, t.name),
		CreationTimeDateTimeUtc: at,
		CreatedBy:               "seed",
		LastUpdateTime:          at,
		LastUpdatedBy:           "seed",
		Severity:                "High",
		Description:             "Seeded by the emulator for tenant " + t.name,
		RbacGroupNames:          []string{},
		GenerateAlert:           true,
		CreatedByDisplayName:    "mdegate emulator",
		CreatedBySource:         "PublicApi",
		MitreTechniques:         []string{},
	}
}

// machineAction is the answer to isolate/unisolate, shaped like MDE's MachineAction.
type machineAction struct {
	ID                    string  `json:"id"`
	Type                  string  `json:"type"`
	Title                 *string `json:"title"`
	Requestor             string  `json:"requestor"`
	RequestorComment      string  `json:"requestorComment"`
	Status                string  `json:"status"`
	MachineID             string  `json:"machineId"`
	ComputerDNSName       string  `json:"computerDnsName"`
	CreationDateTimeUtc   string  `json:"creationDateTimeUtc"`
	LastUpdateDateTimeUtc string  `json:"lastUpdateDateTimeUtc"`
	CancellationRequestor *string `json:"cancellationRequestor"`
	CancellationComment   *string `json:"cancellationComment"`
	ErrorHResult          int     `json:"errorHResult"`
	Scope                 *string `json:"scope"`
	ExternalID            *string `json:"externalId"`
	RequestSource         string  `json:"requestSource"`
	RelatedFileInfo       any     `json:"relatedFileInfo"`
}

// software is the catalogue software-inventory records cycle through.
var software = []struct{ vendor, name, version, path, reg string }{
	{"microsoft", "edge", "120.0.2210.91", `C:\\Program Files (x86)\\Microsoft\\Edge\\msedge.exe`, `HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Edge`},
	{"google", "chrome", "121.0.6167.85", `C:\\Program Files\\Google\\Chrome\\chrome.exe`, `HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Chrome`},
	{"mozilla", "firefox", "122.0.1", `C:\\Program Files\\Mozilla Firefox\\firefox.exe`, `HKLM\\SOFTWARE\\Mozilla\\Mozilla Firefox 122.0.1 (x64 en-US)`},
	{"7-zip", "7-zip", "23.01", `C:\\Program Files\\7-Zip\\7zFM.exe`, `HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\7-Zip`},
	{"oracle", "jre", "8.0.3910.13", `C:\\Program Files\\Java\\jre-1.8\\bin\\java.exe`, `HKLM\\SOFTWARE\\JavaSoft\\Java Runtime Environment\\1.8`},
}

// appendInventoryRecord appends record i of the tenant's software inventory as JSON (about
// 500 bytes). It is on the hot path of 200 MB answers, hence appends rather than encoding/json.
// quotedName and quotedDNS hold nothing that needs escaping (newTenant checks the name).
func (t *tenant) appendInventoryRecord(b []byte, i int) []byte {
	m := i % t.machines
	s := software[i%len(software)]
	mid := t.machineID(m)
	b = append(b, `{"id":"`...)
	b = append(b, mid...)
	b = append(b, `_`...)
	b = append(b, s.vendor...)
	b = append(b, `_`...)
	b = append(b, s.name...)
	b = append(b, `_`...)
	b = append(b, s.version...)
	b = append(b, `_`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","deviceId":"`...)
	b = append(b, mid...)
	b = append(b, `","rbacGroupName":"`...)
	b = append(b, t.name...)
	b = append(b, `","deviceName":"`...)
	b = append(b, t.dnsName(m)...)
	b = append(b, `","osPlatform":"`...)
	b = append(b, osPlatforms[m%len(osPlatforms)]...)
	b = append(b, `","softwareVendor":"`...)
	b = append(b, s.vendor...)
	b = append(b, `","softwareName":"`...)
	b = append(b, s.name...)
	b = append(b, `","softwareVersion":"`...)
	b = append(b, s.version...)
	b = append(b, `","numberOfWeaknesses":`...)
	b = strconv.AppendInt(b, int64(i%7), 10)
	b = append(b, `,"diskPaths":["`...)
	b = append(b, s.path...)
	b = append(b, `"],"registryPaths":["`...)
	b = append(b, s.reg...)
	b = append(b, `"],"softwareFirstSeenTimestamp":"2024-04-01T00:00:00Z","endOfSupportStatus":"None","endOfSupportDate":null,"recordIndex":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, '}')
	return b
}

// mustJSON encodes v without HTML escaping (MDE writes "&" in SAS URLs as is).
func mustJSON(v any) []byte {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("emulator: encode %T: %v", v, err)) // only fixed, encodable types reach here
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n"))
}
