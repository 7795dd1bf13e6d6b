package models

import (
	"os"
	"strings"
	"testing"
)

func TestReadLabeledCSV(t *testing.T) {
	X, labels, err := ReadLabeledCSV(strings.NewReader("f0,f1,label\n1.5,-2,0\n3,4e2,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(X) != 2 || len(labels) != 2 {
		t.Fatalf("got %d rows and %d labels, want 2 and 2", len(X), len(labels))
	}
	if X[1][1] != 400 {
		t.Errorf("X[1][1] = %v, want 400", X[1][1])
	}
	if labels[0] || !labels[1] {
		t.Errorf("labels = %v, want [false true]", labels)
	}
}

func TestReadLabeledCSVBundledSets(t *testing.T) {
	for name, want := range map[string][3]int{
		"shuttle":     {49097, 9, 3511},
		"mammography": {11183, 6, 260},
		"smtp":        {95156, 3, 30},
	} {
		X, labels := readOutlierSet(t, name)
		outliers := 0
		for _, l := range labels {
			if l {
				outliers++
			}
		}
		if got := [3]int{len(X), len(X[0]), outliers}; got != want {
			t.Errorf("%s: rows, features, outliers = %v, want %v", name, got, want)
		}
	}
}

func TestReadLabeledCSVRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "read header"},
		{"one column", "label\n1\n", "invalid header"},
		{"wrong feature name", "f0,x1,label\n1,2,0\n", `"x1"`},
		{"no label column", "f0,f1\n1,2\n", `"f1"`},
		{"bad number", "f0,label\nabc,0\n", `"abc" in line 2 column f0`},
		{"infinite", "f0,label\n+Inf,0\n", `"+Inf"`},
		{"NaN", "f0,label\nNaN,0\n", `"NaN"`},
		{"bad label", "f0,label\n1,2\n", `invalid label "2" in line 2`},
		{"short row", "f0,f1,label\n1,0\n", "line 2"},
		{"no rows", "f0,label\n", "no rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadLabeledCSV(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzReadLabeledCSV(f *testing.F) {
	sample, err := os.ReadFile("testdata/outliers/mammography.csv")
	if err != nil {
		f.Fatal(err)
	}
	// Seed with the header and the first rows of a real set.
	lines := strings.SplitN(string(sample), "\n", 6)
	f.Add(strings.Join(lines[:5], "\n"))
	f.Add("f0,label\n1,1\n")
	f.Add("f0,f1,label\n\"1\",2,0\n")
	f.Fuzz(func(t *testing.T, in string) {
		X, labels, err := ReadLabeledCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(X) == 0 || len(X) != len(labels) {
			t.Fatalf("%d rows and %d labels without an error", len(X), len(labels))
		}
		for i, row := range X {
			if len(row) != len(X[0]) {
				t.Fatalf("row %d has %d features, row 0 has %d", i, len(row), len(X[0]))
			}
		}
	})
}
