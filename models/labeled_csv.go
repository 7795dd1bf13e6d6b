package models

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ReadLabeledCSV reads an outlier-detection set: a header f0,f1,…,fN,label
// and one row per point, where label is 1 for an outlier and 0 for an
// inlier. It returns the feature rows and the labels (true = outlier).
func ReadLabeledCSV(r io.Reader) ([][]float64, []bool, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	if len(header) < 2 {
		return nil, nil, fmt.Errorf("invalid header %q: want f0,…,fN,label", header)
	}
	dims := len(header) - 1
	for i, name := range header[:dims] {
		if name != "f"+strconv.Itoa(i) {
			return nil, nil, fmt.Errorf("invalid header column %d %q: want %q", i+1, name, "f"+strconv.Itoa(i))
		}
	}
	if header[dims] != "label" {
		return nil, nil, fmt.Errorf("invalid header column %d %q: want %q", dims+1, header[dims], "label")
	}

	var X [][]float64
	var labels []bool
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read line %d: %w", line, err)
		}
		row := make([]float64, dims)
		for i, field := range rec[:dims] {
			v, err := strconv.ParseFloat(field, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("invalid value %q in line %d column f%d: want a finite number", field, line, i)
			}
			row[i] = v
		}
		switch rec[dims] {
		case "0", "0.0":
			labels = append(labels, false)
		case "1", "1.0":
			labels = append(labels, true)
		default:
			return nil, nil, fmt.Errorf("invalid label %q in line %d: want 0 or 1", rec[dims], line)
		}
		X = append(X, row)
	}
	if len(X) == 0 {
		return nil, nil, fmt.Errorf("invalid set: no rows after the header")
	}
	return X, labels, nil
}
