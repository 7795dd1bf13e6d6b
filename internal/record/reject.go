package record

// KindReject is input the collector could not parse, such as a malformed
// log line or an invalid scan report. It travels on the inventory topic,
// keyed by host id, and the normalizer stores it in dead_letters with its
// reason, so that bad input on a host is visible where bad records are.
const KindReject Kind = "reject"

// MaxRejectRawBytes caps Reject.Raw.
const MaxRejectRawBytes = 64 << 10

// Reject is one input the collector rejected.
type Reject struct {
	// TimeNs is when the collector rejected the input, in nanoseconds since
	// the Unix epoch.
	TimeNs int64 `json:"time_ns"`
	// Path is the file the input was read from.
	Path string `json:"path"`
	// Offset is the byte offset of a rejected line in Path, or -1 when the
	// whole file was rejected.
	Offset int64 `json:"offset"`
	// Reason is the parser's error message.
	Reason string `json:"reason"`
	// Raw is the input, at most MaxRejectRawBytes of it.
	Raw string `json:"raw"`
}
