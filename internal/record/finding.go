package record

// Finding kinds.
const (
	// FindingSecret is a secret, such as a private key or an access token,
	// that a scanner found in an image's files. A finding never carries the
	// secret itself.
	FindingSecret = "secret"
	// FindingMisconfiguration is a configuration check, such as a
	// Dockerfile or Kubernetes manifest rule, that a scanner evaluated.
	FindingMisconfiguration = "misconfiguration"
)

// Finding is one result of a scan report other than a package
// vulnerability: a secret or a misconfiguration.
type Finding struct {
	// Kind is FindingSecret or FindingMisconfiguration.
	Kind string `json:"kind"`
	// ID is the scanner's rule id, such as "aws-access-key-id" for a
	// secret or "DS002" for a misconfiguration.
	ID string `json:"id"`
	// Severity is one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN.
	Severity string `json:"severity"`
	Title    string `json:"title,omitempty"`
	// Target is the file or artifact the finding is in, such as
	// "Dockerfile" or "/app/config.yaml".
	Target string `json:"target,omitempty"`
	// Status is "FAIL" or "PASS" for a misconfiguration check and empty
	// for a secret.
	Status string `json:"status,omitempty"`
	// Location is the line range in Target, such as "lines 3-5" or
	// "line 7", and empty when the report gives no lines.
	Location string `json:"location,omitempty"`
	// Category is the group of a secret rule, such as "AWS" or "GitHub".
	Category string `json:"category,omitempty"`
	// AVDID is the Aqua vulnerability database id of a misconfiguration
	// check, such as "AVD-DS-0002".
	AVDID string `json:"avd_id,omitempty"`
	// Resolution is the scanner's advice on fixing a misconfiguration.
	Resolution string `json:"resolution,omitempty"`
}
