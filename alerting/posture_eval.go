package alerting

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

// Posture result statuses.
const (
	PosturePass     = "pass"
	PostureFail     = "fail"
	PostureExcepted = "excepted"
)

// PostureFact is one setting of one entity in a host's latest posture.
type PostureFact struct {
	Values []string
	// Source is the file the setting was read from, or "default".
	Source string
}

// PostureEntity is a host or a container with its settings.
type PostureEntity struct {
	Kind, ID, Name string
	Facts          map[string]PostureFact
}

// PostureHost is the latest posture of one host: the host entity and its
// running containers, all from one collection pass.
type PostureHost struct {
	ID, Name string
	// CollectedNs is the time of the collection pass.
	CollectedNs int64
	Host        *PostureEntity
	Containers  []*PostureEntity
}

// PostureScans is the input of the scan checks: the time of each image's
// newest scan report and the fixable findings of that report.
type PostureScans struct {
	// ScannedAt maps an image id to its newest scan time.
	ScannedAt map[string]time.Time
	// Fixable maps an image id to the fixable findings of its newest scan,
	// each with its severity, upper case.
	Fixable map[string][]PostureFinding
	// KernelPackages lists the kernel packages that the newest scan of
	// some image or host names, with any finding, fixable or not.
	KernelPackages []PostureFinding
}

// PostureFinding is one fixable vulnerability of an image.
type PostureFinding struct {
	VulnID, Package, Installed, Fixed, Severity string
}

// PostureResult is the outcome of one policy for one entity.
type PostureResult struct {
	Policy, Group, Severity, Benchmark string
	// EntityKind is PostureEntityHost, PostureEntityContainer or
	// PostureEntityImage. An image's result is per host that runs it.
	EntityKind, EntityID, EntityName string
	HostID                           string
	// Status is PosturePass, PostureFail or PostureExcepted.
	Status string
	// Evidence gives the values read and their source, and for an
	// excepted result the exception's reason and expiry.
	Evidence string
}

// key identifies a result across evaluations.
func (r PostureResult) key() string {
	return r.HostID + "\x00" + r.Policy + "\x00" + r.EntityKind + "\x00" + r.EntityID
}

// EvaluatePosture runs the enabled posture policies over the hosts and
// returns one result per policy and entity, sorted by host, policy and
// entity. Overrides change severities, disable policies and turn the
// failures their exceptions cover into PostureExcepted. at is the
// evaluation time that dates and scan ages are compared with.
func EvaluatePosture(policies []Rule, hosts []PostureHost, scans PostureScans, overrides *PostureOverrides, at time.Time) []PostureResult {
	var out []PostureResult
	for _, rule := range policies {
		if rule.Kind != KindPosture {
			continue
		}
		severity, enabled := overrides.apply(rule)
		if !enabled {
			continue
		}
		for _, h := range hosts {
			for _, r := range evaluatePolicyOnHost(rule, h, scans, at) {
				r.Policy, r.Group, r.Severity, r.Benchmark, r.HostID = rule.Name, rule.Posture.Group, severity, rule.Posture.Benchmark, h.ID
				if r.Status == PostureFail {
					if ex, ok := overrides.exception(rule.Name, h, r, at); ok {
						r.Status = PostureExcepted
						r.Evidence = fmt.Sprintf("%s; excepted until %s: %s", r.Evidence, ex.Expires.Format(time.DateOnly), ex.Reason)
					}
				}
				out = append(out, r)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.HostID != b.HostID {
			return a.HostID < b.HostID
		}
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		return a.EntityID < b.EntityID
	})
	return out
}

func evaluatePolicyOnHost(rule Rule, h PostureHost, scans PostureScans, at time.Time) []PostureResult {
	p := rule.Posture
	var out []PostureResult
	switch p.Entity {
	case PostureEntityHost:
		if h.Host == nil {
			break
		}
		if p.Check == PostureCheckKernelVulns {
			if r, ok := evaluateKernel(p, h.Host, scans); ok {
				out = append(out, r)
			}
			break
		}
		if r, ok := evaluateFact(p, h.Host, at); ok {
			out = append(out, r)
		}
	case PostureEntityContainer:
		for _, c := range h.Containers {
			if r, ok := evaluateFact(p, c, at); ok {
				out = append(out, r)
			}
		}
	case PostureEntityImage:
		for _, img := range runningImages(h) {
			out = append(out, evaluateImage(p, img, scans, at))
		}
	}
	return out
}

// runningImage is an image that containers of one host run.
type runningImage struct {
	id, ref    string
	containers []string
}

// runningImages returns the images of a host's running containers, sorted
// by id. Containers without an image id are left out.
func runningImages(h PostureHost) []runningImage {
	byID := map[string]*runningImage{}
	var ids []string
	for _, c := range h.Containers {
		id := firstValue(c.Facts["container.image_id"])
		if id == "" {
			continue
		}
		img, ok := byID[id]
		if !ok {
			img = &runningImage{id: id, ref: firstValue(c.Facts["container.image_ref"])}
			byID[id] = img
			ids = append(ids, id)
		}
		img.containers = append(img.containers, c.Name)
	}
	sort.Strings(ids)
	out := make([]runningImage, len(ids))
	for i, id := range ids {
		out[i] = *byID[id]
	}
	return out
}

func firstValue(f PostureFact) string {
	if len(f.Values) == 0 {
		return ""
	}
	return f.Values[0]
}

func evaluateImage(p PosturePolicy, img runningImage, scans PostureScans, at time.Time) PostureResult {
	r := PostureResult{EntityKind: PostureEntityImage, EntityID: img.id, EntityName: img.ref, Status: PosturePass}
	name := img.ref
	if name == "" {
		name = shortID(img.id)
	}
	runBy := "run by " + strings.Join(img.containers, ", ")
	scanned, hasScan := scans.ScannedAt[img.id]
	switch p.Check {
	case PostureCheckScanAge:
		switch {
		case !hasScan:
			r.Status = PostureFail
			r.Evidence = fmt.Sprintf("image %s has no scan report (%s)", name, runBy)
		default:
			days := int(at.Sub(scanned).Hours() / 24)
			r.Evidence = fmt.Sprintf("newest scan of %s on %s, %d days before evaluation (%s)", name, scanned.UTC().Format(time.DateOnly), days, runBy)
			if at.Sub(scanned) > time.Duration(p.MaxDays)*24*time.Hour {
				r.Status = PostureFail
			}
		}
	case PostureCheckFixableVulns:
		if !hasScan {
			r.Evidence = fmt.Sprintf("image %s has no scan report, so no finding is known (%s)", name, runBy)
			return r
		}
		var found []string
		for _, f := range scans.Fixable[img.id] {
			if slices.Contains(p.Severities, f.Severity) {
				found = append(found, fmt.Sprintf("%s in %s %s: %s, fixed in %s", f.VulnID, f.Package, f.Installed, f.Severity, f.Fixed))
			}
		}
		sort.Strings(found)
		if len(found) == 0 {
			r.Evidence = fmt.Sprintf("newest scan of %s has no fixable %s vulnerability (%s)", name, strings.Join(p.Severities, " or "), runBy)
			return r
		}
		r.Status = PostureFail
		if len(found) > maxDrivers {
			found = append(found[:maxDrivers], fmt.Sprintf("and %d more", len(found)-maxDrivers))
		}
		r.Evidence = fmt.Sprintf("%s (%s): %s", name, runBy, strings.Join(found, "; "))
	}
	return r
}

// kernelPackage reports whether a scanned package is the kernel that
// runs as release: Debian's and Ubuntu's "linux-image-<release>", or the
// "kernel" and "kernel-core" packages of RPM distributions whose version
// begins the release, as "4.18.0-513.5.1.el8_9" begins
// "4.18.0-513.5.1.el8_9.x86_64".
func kernelPackage(pkg, installed, release string) bool {
	switch pkg {
	case "linux-image-" + release:
		return true
	case "kernel", "kernel-core":
		return installed != "" && strings.HasPrefix(release, installed)
	}
	return false
}

// evaluateKernel runs a PostureCheckKernelVulns check. A host whose
// kernel no scan report names gets no result, because nothing is known
// about it.
func evaluateKernel(p PosturePolicy, e *PostureEntity, scans PostureScans) (PostureResult, bool) {
	r := PostureResult{EntityKind: e.Kind, EntityID: e.ID, EntityName: e.Name, Status: PosturePass}
	release := firstValue(e.Facts["kernel.release"])
	if release == "" {
		return r, false
	}
	named := false
	for _, k := range scans.KernelPackages {
		named = named || kernelPackage(k.Package, k.Installed, release)
	}
	if !named {
		return r, false
	}
	var found []string
	for _, findings := range scans.Fixable {
		for _, f := range findings {
			if kernelPackage(f.Package, f.Installed, release) && slices.Contains(p.Severities, f.Severity) {
				found = append(found, fmt.Sprintf("%s in %s %s: %s, fixed in %s", f.VulnID, f.Package, f.Installed, f.Severity, f.Fixed))
			}
		}
	}
	slices.Sort(found)
	found = slices.Compact(found)
	if len(found) == 0 {
		r.Evidence = fmt.Sprintf("kernel %s: the scan reports that name it list no fixable %s vulnerability", release, strings.Join(p.Severities, " or "))
		return r, true
	}
	r.Status = PostureFail
	r.Evidence = fmt.Sprintf("kernel %s: %s", release, strings.Join(found, "; "))
	return r, true
}

// evaluateFact runs a setting check on one entity. It returns false when
// the entity lacks the setting and the policy skips such entities.
func evaluateFact(p PosturePolicy, e *PostureEntity, at time.Time) (PostureResult, bool) {
	r := PostureResult{EntityKind: e.Kind, EntityID: e.ID, EntityName: e.Name}
	fact, ok := e.Facts[p.Fact]
	if !ok {
		switch p.Missing {
		case "pass":
			r.Status, r.Evidence = PosturePass, p.Fact+" not reported"
			return r, true
		case "fail":
			r.Status, r.Evidence = PostureFail, p.Fact+" not reported"
			return r, true
		}
		return r, false
	}
	passed, reason := checkValues(p, fact.Values, at)
	r.Status = PostureFail
	if passed {
		r.Status = PosturePass
	}
	r.Evidence = fmt.Sprintf("%s = [%s] (%s)", p.Fact, strings.Join(fact.Values, ", "), fact.Source)
	if reason != "" {
		r.Evidence += ": " + reason
	}
	return r, true
}

// checkValues applies the policy's condition to a setting's values and
// returns whether it passes and, for a failure, which values failed.
func checkValues(p PosturePolicy, values []string, at time.Time) (bool, string) {
	switch {
	case p.PassValues != nil:
		if len(values) == 0 {
			return false, "no value"
		}
		var bad []string
		for _, v := range values {
			if !slices.Contains(p.PassValues, v) {
				bad = append(bad, v)
			}
		}
		return len(bad) == 0, notAllowed(bad)
	case p.FailValues != nil:
		var bad []string
		for _, v := range values {
			if slices.Contains(p.FailValues, v) {
				bad = append(bad, v)
			}
		}
		return len(bad) == 0, notAllowed(bad)
	case p.RequireValues != nil:
		var missing []string
		for _, v := range p.RequireValues {
			if !slices.Contains(values, v) {
				missing = append(missing, v)
			}
		}
		if len(missing) > 0 {
			return false, "missing " + strings.Join(missing, ", ")
		}
		return true, ""
	case p.PassCIDRs != nil:
		var bad []string
		for _, v := range values {
			addr, err := netip.ParseAddr(v)
			inside := false
			for _, prefix := range p.PassCIDRs {
				if err == nil && prefix.Contains(addr.Unmap()) {
					inside = true
				}
			}
			if !inside {
				bad = append(bad, v)
			}
		}
		if len(bad) > 0 {
			return false, "outside the allowed ranges: " + strings.Join(bad, ", ")
		}
		return true, ""
	case p.Min != nil || p.Max != nil:
		if len(values) == 0 {
			return false, "no value"
		}
		for _, v := range values {
			n, err := strconv.ParseFloat(v, 64)
			switch {
			case err != nil:
				return false, fmt.Sprintf("%q is not a number", v)
			case p.Min != nil && n < *p.Min:
				return false, fmt.Sprintf("%s is below %g", v, *p.Min)
			case p.Max != nil && n > *p.Max:
				return false, fmt.Sprintf("%s is above %g", v, *p.Max)
			}
		}
		return true, ""
	case p.Empty != nil:
		if *p.Empty {
			return len(values) == 0, ""
		}
		if len(values) == 0 {
			return false, "no value"
		}
		return true, ""
	case p.AfterDays != nil:
		if len(values) == 0 {
			return false, "no value"
		}
		limit := at.UTC().AddDate(0, 0, *p.AfterDays).Format(time.DateOnly)
		for _, v := range values {
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				return false, fmt.Sprintf("%q is not a date YYYY-MM-DD", v)
			}
			if v <= limit {
				return false, fmt.Sprintf("%s is not after %s", v, limit)
			}
		}
		return true, ""
	}
	return false, "the policy has no condition"
}

func notAllowed(bad []string) string {
	if len(bad) == 0 {
		return ""
	}
	return "not allowed: " + strings.Join(bad, ", ")
}

// PostureHostFromRecords builds the posture of one host from the records
// of one collection pass, as the collector sends them, without storage.
func PostureHostFromRecords(hostID string, records []record.Posture) PostureHost {
	h := PostureHost{ID: hostID}
	for _, p := range records {
		e := &PostureEntity{Kind: p.Entity, ID: p.EntityID, Name: p.EntityName, Facts: make(map[string]PostureFact, len(p.Facts))}
		for _, f := range p.Facts {
			e.Facts[f.Key] = PostureFact{Values: f.Values, Source: f.Source}
		}
		h.CollectedNs = max(h.CollectedNs, p.TimeNs)
		switch p.Entity {
		case record.PostureHost:
			h.Host, h.Name = e, p.EntityName
		case record.PostureContainer:
			h.Containers = append(h.Containers, e)
		}
	}
	return h
}
