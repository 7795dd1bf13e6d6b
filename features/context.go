package features

import (
	"fmt"
	"strings"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

// vulnSeverities are the severities counted by the vulnerability features,
// in feature order. Findings of severity UNKNOWN are not counted.
var vulnSeverities = [4]string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}

// vulnCounts holds the vulnerability features of an image, in the order of
// ExtraFeatureNames from IndexVulnFirst.
type vulnCounts [2 * len(vulnSeverities)]float64

// imageScan is the newest scan report of an image.
type imageScan struct {
	scannedNs int64
	counts    vulnCounts
}

// hostFacts are the facts of a host that windows carry.
type hostFacts struct {
	// eol is the day after which the host's OS release gets no security
	// updates, or zero when unknown.
	eol time.Time
}

// countVulnerabilities counts the findings of a scan per severity and by
// whether a fixed version exists. A vulnerability listed more than once
// for the same package counts once.
func countVulnerabilities(vulns []record.Vulnerability) vulnCounts {
	var out vulnCounts
	type key struct{ id, pkg string }
	seen := make(map[key]struct{}, len(vulns))
	for _, v := range vulns {
		k := key{v.ID, v.Package}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		for i, sev := range vulnSeverities {
			if !strings.EqualFold(v.Severity, sev) {
				continue
			}
			if v.FixedVersion != "" {
				out[2*i]++
			} else {
				out[2*i+1]++
			}
		}
	}
	return out
}

// AddScan records the vulnerability counts of an image from its scan
// report. A report older than the newest one seen for the image is
// ignored. It opens no window.
func (w *Windower) AddScan(s record.Scan) error {
	if s.ImageID == "" {
		return fmt.Errorf("missing scan field image_id (image_ref %q)", s.ImageRef)
	}
	counts := countVulnerabilities(s.Vulnerabilities)

	w.mu.Lock()
	defer w.mu.Unlock()

	if old := w.images[s.ImageID]; old != nil && old.scannedNs > s.ScannedNs {
		return nil
	}
	w.images[s.ImageID] = &imageScan{scannedNs: s.ScannedNs, counts: counts}
	w.stats.Records++
	return nil
}

// AddHost records the facts of a host. It opens no window.
func (w *Windower) AddHost(envelopeHostID string, h record.Host) error {
	id := h.HostID
	if id == "" {
		id = envelopeHostID
	}
	if id == "" {
		return fmt.Errorf("missing host field host_id (hostname %q)", h.Hostname)
	}
	var facts hostFacts
	if h.OSEOLDate != "" {
		eol, err := time.Parse(time.DateOnly, h.OSEOLDate)
		if err != nil {
			return fmt.Errorf("invalid host field os_eol_date=%q of host %s: want YYYY-MM-DD", h.OSEOLDate, id)
		}
		facts.eol = eol
	}

	w.mu.Lock()
	defer w.mu.Unlock()

	w.hosts[id] = facts
	w.stats.Records++
	return nil
}

// contextFeatures sets the vulnerability counts of the container's image
// and the host facts of a window that ends at end. Without a scan of the
// image or a record of the host, the values restored by Resume apply. The
// caller holds w.mu.
func (w *Windower) contextFeatures(st *containerState, end int64, extra []float64) {
	counts := st.restoredVulns
	if scan := w.images[st.imageID]; scan != nil {
		counts = scan.counts
	}
	copy(extra[IndexVulnFirst:], counts[:])

	extra[IndexHostOSEndOfLife] = st.restoredEOL
	if facts, ok := w.hosts[st.hostID]; ok {
		extra[IndexHostOSEndOfLife] = 0
		// The vendor's support ends after the EOL day itself.
		if !facts.eol.IsZero() && end > facts.eol.AddDate(0, 0, 1).UnixNano() {
			extra[IndexHostOSEndOfLife] = 1
		}
	}
}
