package scenario

import (
	"strings"
	"testing"
	"time"
)

const sampleID = "1d34019a773347ae73a87d0351c828f417878cae04dcc3d043b5263c8d8b0bb3"

func TestLabelsRoundTrip(t *testing.T) {
	in := []Label{
		{Kind: KindBruteForce, Entity: "sshd-1", ContainerID: sampleID, Start: Start.Add(time.Hour), End: Start.Add(70 * time.Minute)},
		{Kind: KindNewPort, Entity: "cache,1", ContainerID: sampleID, Start: Start.Add(2 * time.Hour), End: Start.Add(3 * time.Hour)},
	}
	var sb strings.Builder
	if err := WriteLabels(&sb, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadLabels(strings.NewReader(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d labels, wrote %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("label %d: read %+v, wrote %+v", i, out[i], in[i])
		}
	}
}

func TestReadLabelsErrors(t *testing.T) {
	header := labelColumnsMessage + "\n"
	row := func(kind, entity, id, start, end string) string {
		return header + strings.Join([]string{kind, entity, id, start, end}, ",") + "\n"
	}
	cases := []struct {
		name, input, want string
	}{
		{"empty", "", "missing header"},
		{"wrong header", "kind,entity\n", "invalid labels"},
		{"unknown kind", row("ddos", "web-1", sampleID, "2026-11-30T01:00:00Z", "2026-11-30T02:00:00Z"), `invalid kind "ddos"`},
		{"no entity", row(KindForkBomb, "", sampleID, "2026-11-30T01:00:00Z", "2026-11-30T02:00:00Z"), "missing entity"},
		{"short id", row(KindForkBomb, "web-1", "abc", "2026-11-30T01:00:00Z", "2026-11-30T02:00:00Z"), `invalid container_id "abc"`},
		{"bad start", row(KindForkBomb, "web-1", sampleID, "yesterday", "2026-11-30T02:00:00Z"), `invalid start "yesterday"`},
		{"end before start", row(KindForkBomb, "web-1", sampleID, "2026-11-30T03:00:00Z", "2026-11-30T02:00:00Z"), "before start"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadLabels(strings.NewReader(c.input))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func FuzzReadLabels(f *testing.F) {
	f.Add(labelColumnsMessage + "\nbrute-force,sshd-1," + sampleID + ",2026-11-30T01:06:00Z,2026-11-30T01:16:00Z\n")
	f.Add(labelColumnsMessage + "\nfork-bomb,\"db,1\"," + sampleID + ",2026-11-30T01:06:00+02:00,2026-11-30T01:16:00Z\n")
	f.Add(labelColumnsMessage + "\n")
	f.Add("kind\n\"unterminated")
	f.Fuzz(func(t *testing.T, input string) {
		labels, err := ReadLabels(strings.NewReader(input))
		if err != nil {
			return
		}
		// What parses must write and parse back to the same labels.
		var sb strings.Builder
		if err := WriteLabels(&sb, labels); err != nil {
			t.Fatal(err)
		}
		again, err := ReadLabels(strings.NewReader(sb.String()))
		if err != nil {
			t.Fatalf("written labels do not parse: %v\n%s", err, sb.String())
		}
		if len(again) != len(labels) {
			t.Fatalf("round trip: %d labels, want %d", len(again), len(labels))
		}
		for i := range labels {
			if !again[i].Start.Equal(labels[i].Start) || !again[i].End.Equal(labels[i].End) || again[i].Kind != labels[i].Kind {
				t.Fatalf("round trip changed label %d: %+v, want %+v", i, again[i], labels[i])
			}
		}
	})
}

func TestScoreAlerts(t *testing.T) {
	other := strings.Repeat("ab", 32)
	m := Manifest{Start: Start, End: Start.Add(24 * time.Hour), Fleet: []ManifestContainer{
		{ID: sampleID, From: Start, To: Start.Add(24 * time.Hour)},
		{ID: other, From: Start, To: Start.Add(24 * time.Hour)},
	}}
	labels := []Label{
		{Kind: KindForkBomb, ContainerID: sampleID, Start: Start.Add(time.Hour), End: Start.Add(70 * time.Minute)},
		{Kind: KindExploitStrings, ContainerID: sampleID, Start: Start.Add(5 * time.Hour), End: Start.Add(6 * time.Hour)},
	}
	alerts := []Alert{
		{Time: Start.Add(62 * time.Minute), Detector: "fork-bomb", ContainerID: sampleID},
		{Time: Start.Add(75 * time.Minute), Detector: "isolation-forest", ContainerID: sampleID},
		{Time: Start.Add(3 * time.Hour), Detector: "fork-bomb", ContainerID: other},
		{Time: Start.Add(4 * time.Hour), Detector: "isolation-forest", ContainerID: other},
	}
	s := ScoreAlerts(m, labels, alerts, ScoreConfig{Grace: 10 * time.Minute, DetectorKinds: map[string]string{"fork-bomb": KindForkBomb}})

	if s.Recall != 0.5 {
		t.Errorf("recall = %v, want 0.5", s.Recall)
	}
	if s.Precision != 0.5 {
		t.Errorf("precision = %v, want 0.5", s.Precision)
	}
	fork := s.ByKind[KindForkBomb]
	if fork.TrueAlerts != 2 || fork.FalseAlerts != 1 {
		t.Errorf("fork-bomb true/false alerts = %d/%d, want 2/1", fork.TrueAlerts, fork.FalseAlerts)
	}
	if fork.MedianTTDs != 120 {
		t.Errorf("fork-bomb median TTD = %v s, want 120", fork.MedianTTDs)
	}
	if s.FalseByModel != 1 {
		t.Errorf("false alerts of the model = %d, want 1", s.FalseByModel)
	}
	// Two container-days minus the labelled spans with their grace: 20 and
	// 70 minutes.
	wantDays := 2 - (20+70)/(24*60.0)
	if d := s.CleanDays - wantDays; d > 1e-9 || d < -1e-9 {
		t.Errorf("incident-free container-days = %v, want %v", s.CleanDays, wantDays)
	}
	if len(s.Misses) != 1 || s.Misses[0].Label.Kind != KindExploitStrings {
		t.Errorf("misses = %+v, want the exploit-strings label", s.Misses)
	}
}
