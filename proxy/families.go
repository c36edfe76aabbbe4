package proxy

import "strings"

// Families group the APIs of the table (apis.go): limits.families.NAME sets the limits of
// every API of the family (each still counts on its own), and metrics count by family so
// their labels stay bounded whatever paths callers send.
var familyNames = []string{
	"other", // paths no API of the table matches
	"alerts",
	"alerts_batchupdate",
	"machines",
	"machineactions",
	"liveresponse",
	"indicators",
	"indicators_import",
	"files",
	"ips",
	"domains",
	"users",
	"investigations",
	"vulnerabilities",
	"software",
	"recommendations",
	"advancedqueries", // MDE's advancedqueries/run and XDR's advancedhunting/run
	"exports",         // JSON exports: .../SoftwareInventoryByMachine ..., deviceavinfo
	"export_files",    // file exports: .../SoftwareInventoryExport ...
	"incidents",       // Defender XDR incidents
	"graph_security",  // Microsoft Graph security
}

// FamilyNames lists the API families' configuration names in table order, "other" first; a
// FamilyIndex indexes it.
func FamilyNames() []string { return append([]string(nil), familyNames...) }

// familyIndex is the index of a family name; the table's names are all known (a test checks).
func familyIndex(name string) FamilyIndex {
	for i, n := range familyNames {
		if n == name {
			return FamilyIndex(i)
		}
	}
	panic("proxy: unknown API family " + name)
}

func cutSegment(s string) (seg, rest string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
