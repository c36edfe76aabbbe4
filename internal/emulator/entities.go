package emulator

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The read-only entity routes tools call besides alerts and machines: per-machine
// collections, files, IPs, domains, users, and the TVM lists. Data is generated from the
// tenant's machines so it is the same on every run.

// vulnerability, softwareItem and recommendation are the TVM entities, trimmed to the
// properties tools read.
type vulnerability struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Description     string  `json:"description"`
	Severity        string  `json:"severity"`
	CvssV3          float64 `json:"cvssV3"`
	ExposedMachines int     `json:"exposedMachines"`
	PublishedOn     string  `json:"publishedOn"`
	PublicExploit   bool    `json:"publicExploit"`
}

type softwareItem struct {
	ID                   string `json:"id"`
	Name                 string `json:"name"`
	Vendor               string `json:"vendor"`
	Weaknesses           int    `json:"weaknesses"`
	PublicExploit        bool   `json:"publicExploit"`
	ExposedMachines      int    `json:"exposedMachines"`
	ImpactScore          int    `json:"impactScore"`
	InstalledMachines    int    `json:"installedMachines"`
	ActiveAlert          bool   `json:"activeAlert"`
	EndOfSupportStatus   string `json:"endOfSupportStatus"`
	HighestVulnerability string `json:"highestVulnerability,omitempty"`
}

type recommendation struct {
	ID                     string `json:"id"`
	ProductName            string `json:"productName"`
	RecommendationName     string `json:"recommendationName"`
	Vendor                 string `json:"vendor"`
	RecommendationCategory string `json:"recommendationCategory"`
	Severity               string `json:"severity"`
	Status                 string `json:"status"`
	ExposedMachinesCount   int    `json:"exposedMachinesCount"`
}

var vulnSeverities = []string{"Low", "Medium", "High", "Critical"}

func (t *tenant) vulnerability(i int) vulnerability {
	return vulnerability{
		ID:              fmt.Sprintf("CVE-2024-%04d", 1000+i),
		Name:            fmt.Sprintf("CVE-2024-%04d", 1000+i),
		Description:     "A vulnerability in " + software[i%len(software)].name + ".",
		Severity:        vulnSeverities[i%len(vulnSeverities)],
		CvssV3:          4.0 + float64(i%6),
		ExposedMachines: 1 + i%t.machines,
		PublishedOn:     stamp(dataEpoch.AddDate(0, 0, -10*(i+1))),
		PublicExploit:   i%2 == 0,
	}
}

func (t *tenant) software(i int) softwareItem {
	s := software[i%len(software)]
	return softwareItem{
		ID: s.vendor + "-_-" + s.name, Name: s.name, Vendor: s.vendor, Weaknesses: i % 7,
		ExposedMachines: t.machines, InstalledMachines: t.machines, ImpactScore: i,
		EndOfSupportStatus: "None",
	}
}

func (t *tenant) recommendation(i int) recommendation {
	s := software[i%len(software)]
	return recommendation{
		ID: "va-_-" + s.vendor + "-_-" + s.name, ProductName: s.name, Vendor: s.vendor,
		RecommendationName:     "Update " + s.name,
		RecommendationCategory: "Application", Severity: vulnSeverities[i%len(vulnSeverities)],
		Status: "Active", ExposedMachinesCount: t.machines,
	}
}

var (
	vulnFields = map[string]fieldKind{"id": kindString, "name": kindString, "severity": kindString,
		"publishedOn": kindTime, "cvssV3": kindNumber, "exposedMachines": kindNumber}
	softwareFields = map[string]fieldKind{"id": kindString, "name": kindString, "vendor": kindString}
	recoFields     = map[string]fieldKind{"id": kindString, "productName": kindString, "vendor": kindString,
		"severity": kindString, "status": kindString, "recommendationCategory": kindString}
)

func (e *Emulator) listVulnerabilities(c *call) {
	e.serveList(c, listing{context: "/api/$metadata#Vulnerabilities", path: "/api/vulnerabilities", n: 2 * len(vulnSeverities),
		item: func(i int) any { return c.t.vulnerability(i) }, fields: vulnFields, pageSize: e.pageSize})
}

func (e *Emulator) listSoftware(c *call) {
	e.serveList(c, listing{context: "/api/$metadata#Software", path: "/api/software", n: len(software),
		item: func(i int) any { return c.t.software(i) }, fields: softwareFields, pageSize: e.pageSize})
}

func (e *Emulator) listRecommendations(c *call) {
	e.serveList(c, listing{context: "/api/$metadata#Recommendations", path: "/api/recommendations", n: len(software),
		item: func(i int) any { return c.t.recommendation(i) }, fields: recoFields, pageSize: e.pageSize})
}

// machineOf resolves the {id} of /api/machines/{id}/..., or answers 404.
func (e *Emulator) machineOf(c *call) (int, bool) {
	i, ok := c.t.machineIndex(c.args[1])
	if !ok {
		c.fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Machine '%s' was not found.", safeText(c.args[1])))
	}
	return i, ok
}

// machineAlerts serves /api/machines/{id}/alerts: alert i is on machine i.
func (e *Emulator) machineAlerts(c *call) {
	if i, ok := e.machineOf(c); ok {
		e.serveList(c, e.alertsOf(c, "", func(j int) bool { return j == i }))
	}
}

// machineVulnerabilities serves /api/machines/{id}/vulnerabilities: machine i has the first
// i+1 vulnerabilities.
func (e *Emulator) machineVulnerabilities(c *call) {
	if i, ok := e.machineOf(c); ok {
		e.serveList(c, listing{context: "/api/$metadata#Vulnerabilities", n: min(i+1, 2*len(vulnSeverities)),
			item: func(j int) any { return c.t.vulnerability(j) }, fields: vulnFields})
	}
}

func (e *Emulator) machineSoftware(c *call) {
	if _, ok := e.machineOf(c); ok {
		e.serveList(c, listing{context: "/api/$metadata#Software", n: len(software),
			item: func(j int) any { return c.t.software(j) }, fields: softwareFields})
	}
}

// logonUser is an account that logged on to a machine.
type logonUser struct {
	ID             string `json:"id"`
	AccountName    string `json:"accountName"`
	AccountDomain  string `json:"accountDomain"`
	FirstSeen      string `json:"firstSeen"`
	LastSeen       string `json:"lastSeen"`
	LogonTypes     string `json:"logonTypes"`
	IsDomainAdmin  bool   `json:"isDomainAdmin"`
	IsOnlyNetworkU bool   `json:"isOnlyNetworkUser"`
}

// userName is the account that uses machine i; users/{userName}/alerts lists its alert.
func (t *tenant) userName(i int) string { return fmt.Sprintf("user%02d", i+1) }

func (e *Emulator) logonUsers(c *call) {
	i, ok := e.machineOf(c)
	if !ok {
		return
	}
	u := logonUser{ID: t2(c.t.name, c.t.userName(i)), AccountName: c.t.userName(i), AccountDomain: strings.ToUpper(c.t.name),
		FirstSeen: stamp(dataEpoch.AddDate(0, -1, 0)), LastSeen: stamp(dataEpoch), LogonTypes: "Interactive"}
	e.serveList(c, listing{context: "/api/$metadata#Users", n: 1, item: func(int) any { return u },
		fields: map[string]fieldKind{"accountName": kindString}})
}

func t2(domain, user string) string { return domain + `\` + user }

// userAlerts serves /api/users/{user}/alerts, {user} without domain.
func (e *Emulator) userAlerts(c *call) {
	e.serveList(c, e.alertsOf(c, "", func(j int) bool { return strings.EqualFold(c.t.userName(j), c.args[1]) }))
}

// domainMachines serves /api/domains/{domain}/machines: machines whose DNS name is in the
// domain.
func (e *Emulator) domainMachines(c *call) {
	d := strings.ToLower(c.args[1])
	e.serveList(c, e.machinesOf(c, "", func(i int) bool {
		return strings.HasSuffix(strings.ToLower(c.t.dnsName(i)), "."+d)
	}))
}

// findByIP serves /api/machines/findbyip(ip='10.1.0.1',timestamp=2024-05-01T08:00:00Z): both
// arguments are required, as MDE requires them.
func (e *Emulator) findByIP(c *call) {
	seg := c.args[1]
	args := map[string]string{}
	for _, kv := range strings.Split(seg[strings.IndexByte(seg, '(')+1:len(seg)-1], ",") {
		k, v, _ := strings.Cut(kv, "=")
		args[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), "'")
	}
	ip := net.ParseIP(args["ip"])
	if _, ok := parseODataTime(args["timestamp"]); ip == nil || !ok || len(args) != 2 {
		c.fail(http.StatusBadRequest, "InvalidInput", "findbyip needs ip='<address>' and timestamp=<date and time>.")
		return
	}
	e.serveList(c, e.machinesOf(c, "", func(i int) bool { return c.t.machine(i).LastIPAddress == ip.String() }))
}

// getFile serves /api/files/{sha1 or sha256}.
func (e *Emulator) getFile(c *call) {
	h := strings.ToLower(c.args[1])
	if (len(h) != 40 && len(h) != 64) || strings.Trim(h, "0123456789abcdef") != "" {
		c.fail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("'%s' is not a SHA-1 or SHA-256.", safeText(c.args[1])))
		return
	}
	f := map[string]any{"sha1": nil, "sha256": nil, "md5": nil, "globalPrevalence": 1, "globalFirstObserved": stamp(dataEpoch),
		"globalLastObserved": stamp(dataEpoch), "size": 1024, "fileType": "Pe", "isPeFile": true,
		"filePublisher": "emulator", "signer": nil, "isValidCertificate": false, "determinationType": "Unknown"}
	if len(h) == 40 {
		f["sha1"] = h
	} else {
		f["sha256"] = h
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#Files/$entity", f)
}

// ipStats serves /api/ips/{ip}/stats.
func (e *Emulator) ipStats(c *call) {
	ip := net.ParseIP(c.args[1])
	if ip == nil {
		c.fail(http.StatusBadRequest, "InvalidInput", fmt.Sprintf("'%s' is not an IP address.", safeText(c.args[1])))
		return
	}
	n := 0
	for i := 0; i < c.t.machines; i++ {
		if c.t.machine(i).LastIPAddress == ip.String() {
			n++
		}
	}
	writeEntity(c.w, http.StatusOK, c.base+"/api/$metadata#microsoft.windowsDefenderATP.api.InOrgIPStats", map[string]any{
		"ipAddress": ip.String(), "orgPrevalence": n, "orgFirstSeen": stamp(dataEpoch), "orgLastSeen": stamp(dataEpoch)})
}

// avInfo is one device's antivirus health, as /api/deviceavinfo lists it.
type avInfo struct {
	ID                    string `json:"id"`
	MachineID             string `json:"machineId"`
	ComputerDNSName       string `json:"computerDnsName"`
	OSPlatform            string `json:"osPlatform"`
	AVMode                string `json:"avMode"`
	AVSignatureVersion    string `json:"avSignatureVersion"`
	AVEngineVersion       string `json:"avEngineVersion"`
	AVIsSignatureUpToDate string `json:"avIsSignatureUpToDate"`
	DataRefreshTimestamp  string `json:"dataRefreshTimestamp"`
}

func (e *Emulator) deviceAvInfo(c *call) {
	e.serveList(c, listing{context: "/api/$metadata#DeviceAvInfo", path: "/api/deviceavinfo", n: c.t.machines,
		item: func(i int) any {
			return avInfo{ID: c.t.machineID(i), MachineID: c.t.machineID(i), ComputerDNSName: c.t.dnsName(i),
				OSPlatform: osPlatforms[i%len(osPlatforms)], AVMode: "0", AVSignatureVersion: "1.403.0.0",
				AVEngineVersion: "1.1.24010.10", AVIsSignatureUpToDate: "True", DataRefreshTimestamp: stamp(dataEpoch)}
		},
		fields: map[string]fieldKind{"machineId": kindString, "computerDnsName": kindString, "avMode": kindString}, pageSize: e.pageSize})
}
