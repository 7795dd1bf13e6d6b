package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/harrierhq/harrier/features/drain"
)

func init() { registerEval("templates", runEvalTemplates) }

// runEvalTemplates runs 'harrier eval templates'.
func runEvalTemplates(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("harrier eval templates", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	logPath := fs.String("log", "", "raw log file, one message a line (such as loghub's BGL_2k.log)")
	csvPath := fs.String("structured", "", "loghub structured CSV of the same lines, with Content and EventId columns")
	asJSON := fs.Bool("json", false, "end the output with one JSON line: accuracy, templates, lines_per_s")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: harrier eval templates takes only --log, --structured and --json", fs.Arg(0))
	}
	if *logPath == "" || *csvPath == "" {
		return fmt.Errorf("missing flag: both --log and --structured are required")
	}

	res, err := evalTemplates(ctx, *logPath, *csvPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "lines %d, templates %d (ground truth %d), grouping accuracy %.4f, %.0f lines/s\n",
		res.Lines, res.Templates, res.TruthTemplates, res.Accuracy, res.LinesPerSecond)
	if *asJSON {
		out, err := json.Marshal(struct {
			Accuracy       float64 `json:"accuracy"`
			Templates      int     `json:"templates"`
			LinesPerSecond float64 `json:"lines_per_s"`
		}{res.Accuracy, res.Templates, res.LinesPerSecond})
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, string(out))
	}
	return nil
}

type templateEval struct {
	Lines          int
	Templates      int
	TruthTemplates int
	Accuracy       float64
	LinesPerSecond float64
}

// evalTemplates mines the messages of a loghub sample with the default
// miner configuration and scores the grouping against the ground truth.
//
// The miner reads the Content column of the structured CSV, which is the log
// line with loghub's per-format header (time, level, component, pid) taken
// off. The raw log file is read to check that the CSV describes it: it must
// have as many lines, and each line must contain its Content.
func evalTemplates(ctx context.Context, logPath, csvPath string) (templateEval, error) {
	var res templateEval
	raw, err := readLines(logPath)
	if err != nil {
		return res, err
	}
	f, err := os.Open(csvPath)
	if err != nil {
		return res, fmt.Errorf("open --structured file: %w", err)
	}
	labeled, err := drain.ReadStructuredCSV(f)
	f.Close()
	if err != nil {
		return res, fmt.Errorf("--structured %s: %w", csvPath, err)
	}
	if len(raw) != len(labeled) {
		return res, fmt.Errorf("--log %s has %d lines but --structured %s has %d rows: give the structured CSV of the same log", logPath, len(raw), csvPath, len(labeled))
	}
	for i, l := range labeled {
		if !strings.Contains(raw[i], l.Content) {
			return res, fmt.Errorf("--log %s line %d %q does not contain the Content %q of --structured row %d: give the structured CSV of the same log", logPath, i+1, raw[i], l.Content, i+1)
		}
	}

	miner, err := drain.NewMiner(ctx, drain.Config{}, nil, nil)
	if err != nil {
		return res, err
	}
	predicted := make([]uint64, len(labeled))
	truth := make([]string, len(labeled))
	start := time.Now()
	for i, l := range labeled {
		predicted[i], _, _ = miner.Match("eval", l.Content)
	}
	elapsed := time.Since(start)

	distinct := make(map[string]struct{})
	for i, l := range labeled {
		truth[i] = l.EventID
		distinct[l.EventID] = struct{}{}
	}
	acc, err := drain.GroupingAccuracy(predicted, truth)
	if err != nil {
		return res, err
	}
	res = templateEval{
		Lines:          len(labeled),
		Templates:      int(miner.Stats().Templates),
		TruthTemplates: len(distinct),
		Accuracy:       acc,
		LinesPerSecond: float64(len(labeled)) / elapsed.Seconds(),
	}
	return res, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open --log file: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read --log file %s: %w", path, err)
	}
	return lines, nil
}
