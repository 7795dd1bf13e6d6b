package normalize

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"github.com/harrierhq/harrier/internal/record"
)

// FuzzDecodeRecord feeds arbitrary bytes to the envelope and payload
// validation and builds rows from every record it accepts. The seeds are
// the valid envelopes of testdata/envelopes.jsonl and broken variants.
func FuzzDecodeRecord(f *testing.F) {
	data, err := os.ReadFile("testdata/envelopes.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := bytes.Clone(sc.Bytes())
		f.Add(line)
		f.Add(line[:len(line)/2])
		f.Add(bytes.Replace(line, []byte(`"v":1`), []byte(`"v":99`), 1))
		f.Add(bytes.Replace(line, []byte(`"time_ns":1`), []byte(`"time_ns":-1`), 1))
	}
	f.Add([]byte(`{"v":1,"kind":"log","id":"x","payload":{"time_ns":"soon"}}`))
	f.Add([]byte(`{"v":1,"kind":"scan","id":"x","payload":{"image_id":"i","scanner":"trivy","scanned_ns":1,"vulnerabilities":[{"id":"C","package":"p","severity":"high"}]}}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, value []byte) {
		p, err := decodeRecord("", value, DefaultMaxMessageBytes)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		set := 0
		for _, ok := range []bool{p.log != nil, p.metric != nil, p.scan != nil, p.host != nil, p.container != nil} {
			if ok {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("accepted %s record with %d payloads set, want 1", p.env.Kind, set)
		}

		var table string
		var rows [][]any
		switch {
		case p.log != nil:
			if len(p.log.Message) > DefaultMaxMessageBytes || p.log.TimeNs <= 0 || p.log.ContainerID == "" {
				t.Fatalf("accepted invalid log %+v", p.log)
			}
			table, rows = TableEvents, [][]any{eventRow(p.env, p.log, containerInfo{}, nil)}
		case p.metric != nil:
			table, rows = TableMetrics, [][]any{metricRow(p.env, p.metric, containerInfo{})}
		case p.scan != nil:
			table, rows = TableVulnerabilities, vulnerabilityRows(p.env, p.scan)
			if got, want := len(imageRow(p.env, p.scan)), len(tableColumns[TableImages]); got != want {
				t.Fatalf("images row has %d values for %d columns", got, want)
			}
		case p.host != nil:
			table, rows = TableHosts, [][]any{hostRow(p.env, p.host)}
		case p.container != nil:
			table, rows = TableContainers, [][]any{containerRow(p.env, p.container)}
		}
		for _, row := range rows {
			if len(row) != len(tableColumns[table]) {
				t.Fatalf("%s row has %d values for %d columns", table, len(row), len(tableColumns[table]))
			}
		}
		if p.env.Kind == record.KindAlert {
			t.Fatal("accepted an alert record")
		}
	})
}
