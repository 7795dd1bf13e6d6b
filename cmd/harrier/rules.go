package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/collectors/inspect"
	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
)

func init() {
	register(&command{
		name:        "rules",
		subcommands: true,
		summary:     "Check policy rules: 'rules test RULES.yaml --events FILE.jsonl' loads recorded records into a throwaway ClickHouse and prints the alerts the rules would raise.",
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) == 0 || env.args[0] != "test" {
				return errors.New("missing subcommand: expected 'rules test RULES.yaml --events FILE.jsonl'")
			}
			return rulesTest(ctx, env.args[1:], env)
		},
	})
}

// rulesTestBatch is the number of records per normalizer batch.
const rulesTestBatch = 1000

// rulesTestDatabase is the database that `rules test` creates in its
// throwaway ClickHouse.
const rulesTestDatabase = "harrier_rules_test"

// rulesTest evaluates a rules file once over the records of a JSON-lines
// file, in a ClickHouse started for the run and stopped on return.
func rulesTest(ctx context.Context, args []string, env *cmdEnv) error {
	fs := flag.NewFlagSet("harrier rules test", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	eventsFile := fs.String("events", "", "records `file`, one record envelope per line as `harrier parse` prints them")
	atText := fs.String("at", "", "evaluation `time` (RFC 3339); default the time of the latest record")
	var rulesFile string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		rulesFile, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if rulesFile == "" && fs.NArg() == 1 {
		rulesFile = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: expected 'rules test RULES.yaml --events FILE.jsonl'", fs.Args())
	}
	if rulesFile == "" || *eventsFile == "" {
		return errors.New("missing argument: expected 'rules test RULES.yaml --events FILE.jsonl'")
	}
	var at time.Time
	if *atText != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, *atText); err != nil {
			return fmt.Errorf("invalid --at value %q: expected an RFC 3339 time such as 2026-11-30T11:00:00Z: %w", *atText, err)
		}
	}

	// Load the rules before starting ClickHouse, so that a bad rules file
	// fails fast with its file, line and field.
	rules, err := alerting.LoadRules(rulesFile)
	if err != nil {
		return err
	}
	messages, latestNs, err := readRecordsFile(*eventsFile)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "harrier-rules-test-")
	if err != nil {
		return fmt.Errorf("create a directory for ClickHouse: %w", err)
	}
	defer os.RemoveAll(dir)
	server, err := storage.StartLocal(ctx, dir, env.logger)
	if err != nil {
		return err
	}
	defer server.Stop()

	store, err := storage.Open(ctx, storage.Config{Addr: server.Addr, Database: rulesTestDatabase})
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}

	stats, err := loadRecords(ctx, store, messages, env.logger)
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = time.Unix(0, latestNs).UTC()
	}
	fmt.Fprintf(env.stdout, "Loaded %d records (%d dead-lettered) from %s; evaluating %d rules at %s\n\n",
		stats.Consumed, stats.DeadLettered, *eventsFile, len(rules), at.Format(time.RFC3339Nano))

	alerter, err := alerting.New(alerting.Config{RulesFile: rulesFile, Clock: func() time.Time { return at }}, store, env.stdout, env.logger)
	if err != nil {
		return err
	}
	evalErr := alerter.EvaluateRules(ctx)
	s := alerter.Stats()
	fmt.Fprintf(env.stdout, "%d alerts would fire from %d rules", s.Raised, len(rules))
	if skipped := alerter.SkippedRules(); len(skipped) > 0 {
		fmt.Fprintf(env.stdout, "; skipped because the hosts table lacks a column: %s", strings.Join(skipped, ", "))
	}
	fmt.Fprintln(env.stdout)
	if evalErr != nil {
		return fmt.Errorf("%d of %d rules failed: %w", s.RuleErrors, len(rules), evalErr)
	}
	return nil
}

// maxRecordLineBytes caps one line of a records file.
const maxRecordLineBytes = 16 << 20

// readRecordsFile reads a JSON-lines file of records into messages on the
// topics the collectors would send them to. Each line is either a record
// envelope, as the collectors send it, or a row as `harrier parse` prints
// it (a JSON object with a "table" field). It returns the latest record
// time seen, from the payloads' time_ns and the envelopes' collected_ns. A
// line that is neither fails the read with its line number, because a test
// over a partly read file would mislead.
func readRecordsFile(path string) ([]kafka.Message, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open records file: %w", err)
	}
	defer f.Close()

	var messages []kafka.Message
	var latestNs int64
	scans := newScanRows()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64<<10), maxRecordLineBytes)
	line := 0
	for scanner.Scan() {
		line++
		text := scanner.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		value, err := recordLine(text, scans)
		if err != nil {
			return nil, 0, fmt.Errorf("invalid record on line %d of %s: %w", line, path, err)
		}
		if value == nil {
			// A scan row, sent once its scan is complete.
			continue
		}
		env, err := record.Decode(value)
		if err != nil {
			return nil, 0, fmt.Errorf("invalid record on line %d of %s: %w", line, path, err)
		}
		latestNs = max(latestNs, env.CollectedNs, payloadTimeNs(env))
		messages = append(messages, kafka.Message{Topic: record.TopicFor(env.Kind), Offset: int64(line), Value: value})
	}
	if err := scanner.Err(); err != nil {
		return nil, 0, fmt.Errorf("read records file %s after line %d: %w", path, line, err)
	}
	scanValues, err := scans.envelopes()
	if err != nil {
		return nil, 0, err
	}
	for _, value := range scanValues {
		messages = append(messages, kafka.Message{Topic: record.TopicScans, Offset: int64(len(messages)), Value: value})
	}
	if len(messages) == 0 {
		return nil, 0, fmt.Errorf("invalid records file %s: no records", path)
	}
	return messages, latestNs, nil
}

// parseRowKinds maps the tables of `harrier parse` rows that hold one
// whole record to the record kind.
var parseRowKinds = map[string]record.Kind{
	inspect.TableEvents:     record.KindLog,
	inspect.TableMetrics:    record.KindMetric,
	inspect.TableContainers: record.KindContainer,
	inspect.TableHosts:      record.KindHost,
}

// recordLine returns the envelope of one line. A `harrier parse` row of
// the images or vulnerabilities table is added to scans instead, and nil
// is returned.
func recordLine(text []byte, scans *scanRows) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(text, &fields); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	rawTable, ok := fields["table"]
	if !ok {
		return append([]byte(nil), text...), nil
	}

	var head struct {
		Table    string `json:"table"`
		RecordID string `json:"record_id"`
		Source   string `json:"source"`
		TimeNs   int64  `json:"time_ns"`
		HostID   string `json:"host_id"`
	}
	if err := json.Unmarshal(text, &head); err != nil {
		return nil, fmt.Errorf("invalid row of table %s: %w", rawTable, err)
	}
	switch head.Table {
	case inspect.TableImages:
		return nil, scans.addImage(head.RecordID, head.Source, text)
	case inspect.TableVulnerabilities:
		return nil, scans.addVulnerability(head.RecordID, head.Source, text)
	}

	kind, ok := parseRowKinds[head.Table]
	if !ok {
		return nil, fmt.Errorf("invalid field table=%q: expected a table that harrier parse prints", head.Table)
	}
	for _, key := range []string{"table", "record_id", "source"} {
		delete(fields, key)
	}
	payload, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return record.Encode(kind, head.RecordID, head.HostID, head.Source, head.TimeNs, json.RawMessage(payload))
}

// scanRows rebuilds scan records from the images and vulnerabilities rows
// of `harrier parse`, which share the scan's record id.
type scanRows struct {
	order []string
	scans map[string]*record.Scan
	// sources holds each scan's source.
	sources map[string]string
}

func newScanRows() *scanRows {
	return &scanRows{scans: map[string]*record.Scan{}, sources: map[string]string{}}
}

func (s *scanRows) scan(id, source string) *record.Scan {
	if sc, ok := s.scans[id]; ok {
		return sc
	}
	sc := &record.Scan{Vulnerabilities: []record.Vulnerability{}}
	s.scans[id] = sc
	s.sources[id] = source
	s.order = append(s.order, id)
	return sc
}

func (s *scanRows) addImage(id, source string, text []byte) error {
	var row inspect.ImageRow
	if err := json.Unmarshal(text, &row); err != nil {
		return fmt.Errorf("invalid images row: %w", err)
	}
	sc := s.scan(id, source)
	sc.Scanner, sc.ImageRef, sc.ImageID = row.Scanner, row.ImageRef, row.ImageID
	sc.OSFamily, sc.OSName, sc.ScannedNs = row.OSFamily, row.OSName, row.ScannedNs
	return nil
}

func (s *scanRows) addVulnerability(id, source string, text []byte) error {
	var row inspect.VulnerabilityRow
	if err := json.Unmarshal(text, &row); err != nil {
		return fmt.Errorf("invalid vulnerabilities row: %w", err)
	}
	sc := s.scan(id, source)
	sc.Scanner, sc.ImageRef, sc.ImageID, sc.ScannedNs = row.Scanner, row.ImageRef, row.ImageID, row.ScannedNs
	sc.Vulnerabilities = append(sc.Vulnerabilities, record.Vulnerability{
		ID: row.VulnID, Package: row.Package, InstalledVersion: row.InstalledVersion,
		FixedVersion: row.FixedVersion, Severity: row.Severity, Title: row.Title,
	})
	return nil
}

// envelopes encodes the scans in the order their first row appeared.
func (s *scanRows) envelopes() ([][]byte, error) {
	var out [][]byte
	for _, id := range s.order {
		sc := s.scans[id]
		value, err := record.Encode(record.KindScan, id, "", s.sources[id], sc.ScannedNs, sc)
		if err != nil {
			return nil, fmt.Errorf("encode scan %s of %s: %w", id, s.sources[id], err)
		}
		out = append(out, value)
	}
	return out, nil
}

// payloadTimeNs returns the time_ns field of a payload, or 0.
func payloadTimeNs(env record.Envelope) int64 {
	var p struct {
		TimeNs int64 `json:"time_ns"`
	}
	if err := json.Unmarshal(env.Payload, &p); err != nil {
		return 0
	}
	return p.TimeNs
}

// loadRecords stores messages through the normalizer's row building, in
// batches, with templates mined in memory.
//
// NOTE: template ids come from a fresh in-memory miner, so a log-match
// rule on a template id matches here only if the miner derives the same id
// from these records as from the records of the running system.
func loadRecords(ctx context.Context, store *storage.Store, messages []kafka.Message, logger *slog.Logger) (normalize.Stats, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := normalize.New(normalize.Config{Templates: drain.NewInMemory(logger)}, store, nil, logger)
	for start := 0; start < len(messages); start += rulesTestBatch {
		end := min(start+rulesTestBatch, len(messages))
		if err := n.HandleBatch(ctx, messages[start:end]); err != nil {
			return n.Stats(), fmt.Errorf("load records %d to %d: %w", start+1, end, err)
		}
	}
	return n.Stats(), nil
}
