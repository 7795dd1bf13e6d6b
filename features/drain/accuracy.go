package drain

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// LabeledLine is one line of a loghub structured CSV: the message content
// with the log header stripped, and its ground-truth event id.
type LabeledLine struct {
	Content string
	EventID string
}

// ReadStructuredCSV reads a loghub "*_structured.csv" file and returns the
// Content and EventId columns of every row.
func ReadStructuredCSV(r io.Reader) ([]LabeledLine, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read structured CSV header: %w", err)
	}
	content, event := -1, -1
	for i, name := range header {
		switch name {
		case "Content":
			content = i
		case "EventId":
			event = i
		}
	}
	if content < 0 || event < 0 {
		return nil, fmt.Errorf("invalid structured CSV header %q: columns Content and EventId are required", header)
	}

	var out []LabeledLine
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read structured CSV row %d: %w", row, err)
		}
		if len(rec) <= max(content, event) {
			return nil, fmt.Errorf("invalid structured CSV row %d: %d fields, expected %d", row, len(rec), len(header))
		}
		out = append(out, LabeledLine{Content: rec[content], EventID: rec[event]})
	}
}

// GroupingAccuracy returns the share of lines that are grouped correctly,
// as loghub's benchmark defines it: a line is correct when the set of lines
// that share its predicted template is exactly the set of lines that share
// its ground-truth event. predicted and truth hold one label per line.
func GroupingAccuracy[P, T comparable](predicted []P, truth []T) (float64, error) {
	if len(predicted) != len(truth) {
		return 0, fmt.Errorf("invalid grouping accuracy input: %d predictions for %d lines; pass one prediction per line", len(predicted), len(truth))
	}
	if len(truth) == 0 {
		return 0, fmt.Errorf("invalid grouping accuracy input: no lines")
	}
	truthSize := make(map[T]int)
	for _, t := range truth {
		truthSize[t]++
	}

	// A predicted group is correct when all its lines share one truth
	// label and no line outside it has that label.
	type group struct {
		size  int
		label T
		mixed bool
	}
	groups := make(map[P]*group)
	for i, p := range predicted {
		g := groups[p]
		if g == nil {
			groups[p] = &group{size: 1, label: truth[i]}
			continue
		}
		g.size++
		if g.label != truth[i] {
			g.mixed = true
		}
	}
	correct := 0
	for _, g := range groups {
		if !g.mixed && truthSize[g.label] == g.size {
			correct += g.size
		}
	}
	return float64(correct) / float64(len(truth)), nil
}
