package scenario

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Alert is a raised alert as the scoring needs it.
type Alert struct {
	// Time is the event time the alert refers to: the end of the model's
	// window, or the evaluation time of a rule.
	Time        time.Time
	Detector    string
	ContainerID string
}

// ScoreConfig sets how alerts are matched to labels.
type ScoreConfig struct {
	// Grace is how long after a label's end an alert on its container
	// still counts for it, to allow for windows and evaluation steps that
	// close after the incident.
	Grace time.Duration
	// DetectorKinds maps the detectors written for one incident kind to
	// that kind, so that their false alerts lower its precision. Detectors
	// not listed, such as the model, count only in the overall precision.
	DetectorKinds map[string]string
}

// KindScore is the result for one incident kind.
type KindScore struct {
	Incidents int `json:"incidents"`
	Detected  int `json:"detected"`
	// TrueAlerts counts the alerts matched to incidents of the kind, and
	// FalseAlerts the unmatched alerts of the kind's own detectors.
	TrueAlerts  int     `json:"true_alerts"`
	FalseAlerts int     `json:"false_alerts"`
	Recall      float64 `json:"recall"`
	// Precision is 1 when no alert counts for the kind.
	Precision float64 `json:"precision"`
	// MedianTTDs is the median time to detect in seconds, 0 when no
	// incident of the kind was detected.
	MedianTTDs float64 `json:"median_ttd_s"`
	// Detectors counts the matched alerts per detector.
	Detectors map[string]int `json:"detectors"`
}

// Miss is an incident that no alert matched.
type Miss struct {
	Label Label
	// Alerts are the detectors of the alerts raised on the container at
	// any time, empty when none.
	Alerts []string
}

// Score is the match of alerts against labels.
type Score struct {
	Recall       float64              `json:"recall"`
	Precision    float64              `json:"precision"`
	MedianTTDs   float64              `json:"median_ttd_s"`
	FalsePer100  float64              `json:"false_per_100_container_days"`
	ByKind       map[string]KindScore `json:"by_kind"`
	Alerts       int                  `json:"alerts"`
	FalseAlerts  int                  `json:"false_alerts"`
	CleanDays    float64              `json:"incident_free_container_days"`
	FalseByModel int                  `json:"false_alerts_model"`
	Misses       []Miss               `json:"-"`
	// Falses lists the unmatched alerts.
	Falses []Alert `json:"-"`
}

// ScoreAlerts matches each alert to the label of its container whose span,
// extended by cfg.Grace, contains the alert's time. A label is detected
// when an alert matched it, and its time to detect is the first match
// minus its start, 0 when the alert came first within the span. Unmatched
// alerts are false. False alerts per 100 container-days divide them by the
// fleet's running time outside the labelled spans.
func ScoreAlerts(m Manifest, labels []Label, alerts []Alert, cfg ScoreConfig) Score {
	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].Time.Before(alerts[j].Time) })
	first := make([]time.Time, len(labels))
	detectors := make([]map[string]int, len(labels))
	var falses []Alert
	byContainer := map[string][]string{}
	for _, a := range alerts {
		byContainer[a.ContainerID] = append(byContainer[a.ContainerID], a.Detector)
		match := -1
		for i, l := range labels {
			if l.ContainerID == a.ContainerID && !a.Time.Before(l.Start) && !a.Time.After(l.End.Add(cfg.Grace)) {
				if match < 0 || l.Start.Before(labels[match].Start) {
					match = i
				}
			}
		}
		if match < 0 {
			falses = append(falses, a)
			continue
		}
		if first[match].IsZero() {
			first[match] = a.Time
		}
		if detectors[match] == nil {
			detectors[match] = map[string]int{}
		}
		detectors[match][a.Detector]++
	}

	s := Score{ByKind: map[string]KindScore{}, Alerts: len(alerts), FalseAlerts: len(falses), Falses: falses}
	var allTTD []float64
	ttdByKind := map[string][]float64{}
	detected := 0
	for i, l := range labels {
		k := s.ByKind[l.Kind]
		if k.Detectors == nil {
			k.Detectors = map[string]int{}
		}
		k.Incidents++
		for d, n := range detectors[i] {
			k.Detectors[d] += n
			k.TrueAlerts += n
		}
		if first[i].IsZero() {
			s.Misses = append(s.Misses, Miss{Label: l, Alerts: uniqueSorted(byContainer[l.ContainerID])})
		} else {
			k.Detected++
			detected++
			ttd := math.Max(0, first[i].Sub(l.Start).Seconds())
			allTTD = append(allTTD, ttd)
			ttdByKind[l.Kind] = append(ttdByKind[l.Kind], ttd)
		}
		s.ByKind[l.Kind] = k
	}
	for _, a := range falses {
		kind, ok := cfg.DetectorKinds[a.Detector]
		if !ok {
			s.FalseByModel++
			continue
		}
		k := s.ByKind[kind]
		if k.Detectors == nil {
			k.Detectors = map[string]int{}
		}
		k.FalseAlerts++
		s.ByKind[kind] = k
	}
	for kind, k := range s.ByKind {
		k.Recall = ratio(k.Detected, k.Incidents)
		k.Precision = ratio(k.TrueAlerts, k.TrueAlerts+k.FalseAlerts)
		k.MedianTTDs = median(ttdByKind[kind])
		s.ByKind[kind] = k
	}

	s.Recall = ratio(detected, len(labels))
	s.Precision = ratio(len(alerts)-len(falses), len(alerts))
	s.MedianTTDs = median(allTTD)
	s.CleanDays = cleanContainerDays(m, labels, cfg.Grace)
	if s.CleanDays > 0 {
		s.FalsePer100 = float64(len(falses)) / s.CleanDays * 100
	}
	return s
}

// cleanContainerDays returns the running time of the fleet outside the
// labelled spans extended by grace, in days.
func cleanContainerDays(m Manifest, labels []Label, grace time.Duration) float64 {
	var total time.Duration
	for _, c := range m.Fleet {
		run := c.To.Sub(c.From)
		for _, l := range labels {
			if l.ContainerID != c.ID {
				continue
			}
			from, to := maxTime(l.Start, c.From), minTime(l.End.Add(grace), c.To)
			if to.After(from) {
				run -= to.Sub(from)
			}
		}
		total += max(run, 0)
	}
	return total.Hours() / 24
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

// median returns the median of xs, or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func uniqueSorted(xs []string) []string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return slices.Compact(s)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
