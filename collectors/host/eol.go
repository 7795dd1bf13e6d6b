package host

import "strings"

// eolTable maps an os-release ID and a release, as releaseKey derives it
// from VERSION_ID, to the last day of the vendor's security support for
// that release, "YYYY-MM-DD". README.md in this folder gives the source of
// each row and lists the releases left out because their date is not
// certain.
var eolTable = map[string]map[string]string{
	// Debian: end of security support by the Debian security team. The
	// volunteer LTS project extends some releases further; those dates are
	// not used here.
	"debian": {
		"8":  "2018-06-17",
		"9":  "2020-07-06",
		"10": "2022-09-10",
		"11": "2024-08-14",
	},
	// Ubuntu LTS: end of standard support, which Canonical announces by
	// month. A month-only date is stored as the last day of that month.
	"ubuntu": {
		"14.04": "2019-04-30",
		"16.04": "2021-04-30",
		"18.04": "2023-05-31",
		"22.04": "2027-04-30",
		"24.04": "2029-04-30",
	},
	// Red Hat Enterprise Linux: end of the Maintenance Support phase, ten
	// years after the major release, without Extended Life Cycle Support.
	"rhel": {
		"6": "2020-11-30",
		"7": "2024-06-30",
		"8": "2029-05-31",
		"9": "2032-05-31",
	},
	// CentOS Linux 6 and 7 followed RHEL. CentOS Linux 8 ended early, when
	// the project moved to CentOS Stream.
	"centos": {
		"6": "2020-11-30",
		"7": "2024-06-30",
		"8": "2021-12-31",
	},
	// Rocky Linux states the same end dates as the RHEL major it rebuilds.
	"rocky": {
		"8": "2029-05-31",
		"9": "2032-05-31",
	},
	"almalinux": {
		"9": "2032-05-31",
	},
	// Alpine: each stable branch gets security fixes for main for two
	// years after its release.
	"alpine": {
		"3.10": "2021-05-01",
		"3.11": "2021-11-01",
		"3.12": "2022-05-01",
		"3.13": "2022-11-01",
		"3.14": "2023-05-01",
		"3.15": "2023-11-01",
		"3.16": "2024-05-23",
		"3.17": "2024-11-22",
		"3.18": "2025-05-09",
	},
	// Amazon Linux: "2018.03" is Amazon Linux AMI (AL1).
	"amzn": {
		"2018.03": "2023-12-31",
		"2":       "2026-06-30",
		"2023":    "2029-06-30",
	},
}

// EOLDate returns the end of the vendor's security support for the release
// that os-release names with ID=id and VERSION_ID=versionID, as
// "YYYY-MM-DD", or "" for a release the table does not list.
func EOLDate(id, versionID string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	releases, ok := eolTable[id]
	if !ok {
		return ""
	}
	return releases[releaseKey(id, strings.TrimSpace(versionID))]
}

// releaseKey reduces VERSION_ID to the part that names a supported release:
// the major version for Debian and the RHEL family ("8.9" is 8), the
// branch for Alpine ("3.18.4" is 3.18), and the whole value for Ubuntu
// ("22.04") and Amazon Linux ("2", "2023", "2018.03").
func releaseKey(id, versionID string) string {
	switch id {
	case "debian", "rhel", "centos", "rocky", "almalinux":
		major, _, _ := strings.Cut(versionID, ".")
		return major
	case "alpine":
		parts := strings.SplitN(versionID, ".", 3)
		if len(parts) < 2 {
			return versionID
		}
		return parts[0] + "." + parts[1]
	}
	return versionID
}
