package scanpush

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
)

func TestPushRejectsRecordAboveLimit(t *testing.T) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rejectDir := t.TempDir()
	out := &recordingEmitter{}
	var logs bytes.Buffer
	const limit = 1024
	srv, h := newServer(t, Config{RejectDir: rejectDir, MaxRecordBytes: limit, Metrics: m.ForRole("collect")}, out, &logs)

	body, err := os.ReadFile(filepath.Join(sampleDir, "alpine-310.json"))
	if err != nil {
		t.Fatal(err)
	}
	status, resp := post(t, srv.URL+Path, testToken, body)

	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d %+v, expected 413", status, resp)
	}
	if resp.Status != "rejected" || resp.Field != "body" {
		t.Errorf("response = %+v, expected status rejected on field body", resp)
	}
	if !strings.Contains(resp.Reason, strconv.Itoa(limit)) || !strings.Contains(resp.Reason, "collect.max_record_bytes") {
		t.Errorf("reason %q does not name the limit %d and its key", resp.Reason, limit)
	}
	if len(out.msgs) != 0 {
		t.Errorf("%d messages written, expected none", len(out.msgs))
	}
	if resp.Kept == "" {
		t.Fatal("rejected report not kept")
	}
	kept, err := os.ReadFile(filepath.Join(rejectDir, resp.Kept))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, body) {
		t.Errorf("kept body differs from the pushed body")
	}
	reason, err := os.ReadFile(filepath.Join(rejectDir, strings.TrimSuffix(resp.Kept, ".json")+".reason.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reason), "larger than the maximum record size") {
		t.Errorf("reason file = %q, expected the size limit", reason)
	}
	if st := h.Stats(); st.TooLarge != 1 || st.Kept != 1 || st.Accepted != 0 {
		t.Errorf("stats = %+v, expected TooLarge 1, Kept 1, Accepted 0", st)
	}
	if got := testutil.ToFloat64(m.Dropped.WithLabelValues("collect", "too_large")); got != 1 {
		t.Errorf("dropped as too_large = %v, expected 1", got)
	}
	if !strings.Contains(logs.String(), "max_record_bytes=1024") {
		t.Errorf("log does not give the limit:\n%s", logs.String())
	}
}

func TestPushCountsRecordsOut(t *testing.T) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	out := &recordingEmitter{}
	srv, _ := newServer(t, Config{Metrics: m.ForRole("collect")}, out, nil)

	body, err := os.ReadFile(filepath.Join(sampleDir, "alpine-310.json"))
	if err != nil {
		t.Fatal(err)
	}
	if status, resp := post(t, srv.URL+Path, testToken, body); status != http.StatusAccepted {
		t.Fatalf("status = %d %+v, expected 202", status, resp)
	}
	if got := testutil.ToFloat64(m.RecordsOut.WithLabelValues("collect", record.TopicScans)); got != 1 {
		t.Errorf("records out to %s = %v, expected 1", record.TopicScans, got)
	}
}
