package features

import (
	"time"
)

// Feature names, in the order of Window.Values. They match the feature
// columns of the features table.
const (
	FeatureCPUCores              = "cpu_cores"
	FeatureCPUThrottledRatio     = "cpu_throttled_ratio"
	FeatureMemoryWorkingSetBytes = "memory_working_set_bytes"
	FeatureLogLines              = "log_lines"
	FeatureErrorLines            = "error_lines"
	FeatureNewShapes             = "new_shapes"
)

// FeatureNames lists the features of a window in the order of Window.Values.
var FeatureNames = []string{
	FeatureCPUCores,
	FeatureCPUThrottledRatio,
	FeatureMemoryWorkingSetBytes,
	FeatureLogLines,
	FeatureErrorLines,
	FeatureNewShapes,
}

// Indexes of the features in Window.Values.
const (
	IndexCPUCores = iota
	IndexCPUThrottledRatio
	IndexMemoryWorkingSetBytes
	IndexLogLines
	IndexErrorLines
	IndexNewShapes
)

// Names of the features a window stores beside the model vector, in the
// order of Window.Extra. They match feature columns of the features table.
// They are kept out of the forest's vector: see docs/features.md.
const (
	FeatureMemorySlope     = "memory_slope_bytes_per_s"
	FeatureOOMKills        = "oom_kills"
	FeaturePidsCurrent     = "pids_current"
	FeaturePidsGrowth      = "pids_growth"
	FeatureIOReadRate      = "io_read_bytes_per_s"
	FeatureIOWriteRate     = "io_write_bytes_per_s"
	FeatureAuthFailures    = "auth_failure_lines"
	FeatureSourceAddresses = "source_addresses"
	FeatureTemplateEntropy = "template_entropy_bits"
	FeatureLogLinesPerSec  = "log_lines_per_s"
	FeatureErrorRatio      = "error_ratio"
	FeatureWarningRatio    = "warning_ratio"
	FeatureNetRxRate       = "net_rx_bytes_per_s"
	FeatureNetTxRate       = "net_tx_bytes_per_s"
	// The vulnerability counts of the container's image, from its newest
	// scan report, per severity and by whether a fixed version exists.
	FeatureVulnCriticalFixable   = "vulnerabilities_critical_fixable"
	FeatureVulnCriticalUnfixable = "vulnerabilities_critical_unfixable"
	FeatureVulnHighFixable       = "vulnerabilities_high_fixable"
	FeatureVulnHighUnfixable     = "vulnerabilities_high_unfixable"
	FeatureVulnMediumFixable     = "vulnerabilities_medium_fixable"
	FeatureVulnMediumUnfixable   = "vulnerabilities_medium_unfixable"
	FeatureVulnLowFixable        = "vulnerabilities_low_fixable"
	FeatureVulnLowUnfixable      = "vulnerabilities_low_unfixable"
	FeatureHostOSEndOfLife       = "host_os_end_of_life"
)

// ExtraFeatureNames lists the stored features of a window in the order of
// Window.Extra.
var ExtraFeatureNames = []string{
	FeatureMemorySlope,
	FeatureOOMKills,
	FeaturePidsCurrent,
	FeaturePidsGrowth,
	FeatureIOReadRate,
	FeatureIOWriteRate,
	FeatureAuthFailures,
	FeatureSourceAddresses,
	FeatureTemplateEntropy,
	FeatureLogLinesPerSec,
	FeatureErrorRatio,
	FeatureWarningRatio,
	FeatureNetRxRate,
	FeatureNetTxRate,
	FeatureVulnCriticalFixable,
	FeatureVulnCriticalUnfixable,
	FeatureVulnHighFixable,
	FeatureVulnHighUnfixable,
	FeatureVulnMediumFixable,
	FeatureVulnMediumUnfixable,
	FeatureVulnLowFixable,
	FeatureVulnLowUnfixable,
	FeatureHostOSEndOfLife,
}

// Indexes of the features in Window.Extra.
const (
	IndexMemorySlope = iota
	IndexOOMKills
	IndexPidsCurrent
	IndexPidsGrowth
	IndexIOReadRate
	IndexIOWriteRate
	IndexAuthFailures
	IndexSourceAddresses
	IndexTemplateEntropy
	IndexLogLinesPerSec
	IndexErrorRatio
	IndexWarningRatio
	IndexNetRxRate
	IndexNetTxRate
	// IndexVulnFirst is the index of the first of the eight vulnerability
	// counts, which follow in the order of vulnSeverities, fixable before
	// unfixable.
	IndexVulnFirst
	IndexHostOSEndOfLife = IndexVulnFirst + 2*len(vulnSeverities)
)

// Window is the feature vector of one container over one closed tumbling
// window [Start, Start+Size) of event time.
type Window struct {
	ContainerID   string
	ContainerName string
	HostID        string
	ImageID       string
	// ImageRef is the image reference from the container's inventory record,
	// empty when no inventory record arrived.
	ImageRef string
	Start    time.Time
	Size     time.Duration
	// Values holds one value per entry of FeatureNames, in that order. It
	// is the input vector of the isolation forest.
	Values []float64
	// Extra holds one value per entry of ExtraFeatureNames, in that order.
	// These features are stored but not scored.
	Extra []float64
	// MetricSamples is the number of cgroup samples inside the window. When
	// it is 0 the CPU and memory features carry the container's previous
	// known values forward.
	MetricSamples int
	// Partial is set on a window that Flush closed before any record of
	// the container reached the window's end, such as the last minute of a
	// bounded replay. Its counts cover only part of the window.
	Partial bool
}

// End returns the exclusive end of the window.
func (w Window) End() time.Time {
	return w.Start.Add(w.Size)
}

// Feature returns the value of the named feature of FeatureNames or
// ExtraFeatureNames, or 0 for an unknown name.
func (w Window) Feature(name string) float64 {
	for i, n := range FeatureNames {
		if n == name && i < len(w.Values) {
			return w.Values[i]
		}
	}
	for i, n := range ExtraFeatureNames {
		if n == name && i < len(w.Extra) {
			return w.Extra[i]
		}
	}
	return 0
}
