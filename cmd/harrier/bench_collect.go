package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
)

// runBenchCollect runs 'harrier bench collect' with the flags that follow
// its name.
func runBenchCollect(ctx context.Context, env *cmdEnv) error {
	c := benchCollectCommand()
	fs := flag.NewFlagSet("harrier bench collect", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	c.setup(fs, nil, nil)
	if err := fs.Parse(env.args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q after 'collect'", strings.Join(fs.Args(), " "))
	}
	return c.run(ctx, env)
}

// benchCollectResult is the last line of 'harrier bench collect --json'.
type benchCollectResult struct {
	Files   int `json:"files"`
	Cgroups int `json:"cgroups"`
	Lines   int `json:"lines"`
	// BaselineLinesPerCoreS is the rate of reading the same files with a
	// bufio.Scanner and decoding each line with encoding/json, per CPU
	// second, in this process.
	BaselineLinesPerCoreS float64 `json:"baseline_lines_per_core_s"`
	// CollectorLinesPerCoreS is the rate of 'harrier collect --once' per
	// CPU second (user plus system) of the collector process.
	CollectorLinesPerCoreS float64 `json:"collector_lines_per_core_s"`
	// Ratio is CollectorLinesPerCoreS / BaselineLinesPerCoreS.
	Ratio float64 `json:"ratio"`
	// CollectorCPUSeconds and CollectorWallSeconds are the collector
	// process's CPU time and elapsed time.
	CollectorCPUSeconds  float64 `json:"collector_cpu_s"`
	CollectorWallSeconds float64 `json:"collector_wall_s"`
	// CollectorMaxRSSMB is the collector process's peak resident set size
	// (VmHWM, which the collector prints at exit), in MiB.
	CollectorMaxRSSMB float64 `json:"collector_max_rss_mb"`
	// Collector is the command measured: "harrier-agent" or
	// "harrier collect".
	Collector string `json:"collector"`
}

func benchCollectCommand() *command {
	files, linesPerFile, cgroups := 500, 1000, 200
	asJSON := false
	agent := "auto"
	return &command{
		name: "bench collect",
		summary: "Measure the collector: harrier bench collect [--files N] [--lines N] [--cgroups N] [--agent PATH] [--json] builds Docker json-file " +
			"logs and a cgroup v2 tree in a temporary folder, runs the collector (harrier-agent, or 'harrier collect') with --once on them as a child process " +
			"against an embedded broker, and prints its lines/s per CPU second and peak RSS beside a baseline of plain " +
			"line reading and JSON decoding of the same files.",
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			fs.IntVar(&files, "files", files, "Docker containers, each with one json-file log")
			fs.IntVar(&linesPerFile, "lines", linesPerFile, "log lines per file")
			fs.IntVar(&cgroups, "cgroups", cgroups, "container cgroups in the cgroup v2 tree")
			fs.BoolVar(&asJSON, "json", asJSON, "end with one JSON line holding the numbers")
			fs.StringVar(&agent, "agent", agent, `collector binary to measure: "auto" takes harrier-agent from this executable's folder when it is there, `+
				`"" runs 'harrier collect' of this executable`)
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			if files < 1 || files > 10000 {
				return fmt.Errorf("invalid value %d for --files: use 1 to 10000", files)
			}
			if linesPerFile < 1 || cgroups < 0 || cgroups > 10000 {
				return fmt.Errorf("invalid value --lines=%d or --cgroups=%d: use at least 1 line and 0 to 10000 cgroups", linesPerFile, cgroups)
			}
			res, err := benchCollect(ctx, env, files, linesPerFile, cgroups, agent)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "%d files, %d lines, %d cgroups, collector %s\n", res.Files, res.Lines, res.Cgroups, res.Collector)
			fmt.Fprintf(env.stdout, "baseline (bufio + encoding/json): %.0f lines/s per core\n", res.BaselineLinesPerCoreS)
			fmt.Fprintf(env.stdout, "collector: %.0f lines/s per core (%.2f s CPU, %.2f s wall), peak RSS %.1f MiB\n",
				res.CollectorLinesPerCoreS, res.CollectorCPUSeconds, res.CollectorWallSeconds, res.CollectorMaxRSSMB)
			fmt.Fprintf(env.stdout, "ratio collector/baseline: %.2f\n", res.Ratio)
			if asJSON {
				b, err := json.Marshal(res)
				if err != nil {
					return err
				}
				fmt.Fprintln(env.stdout, string(b))
			}
			return nil
		},
	}
}

func benchCollect(ctx context.Context, env *cmdEnv, files, linesPerFile, cgroups int, agent string) (benchCollectResult, error) {
	res := benchCollectResult{Files: files, Cgroups: cgroups, Lines: files * linesPerFile}
	dir, err := os.MkdirTemp("", "harrier-bench-collect-")
	if err != nil {
		return res, fmt.Errorf("create temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)

	dockerRoot := filepath.Join(dir, "containers")
	cgroupRoot := filepath.Join(dir, "cgroup")
	logPaths, err := writeCollectBenchLogs(dockerRoot, files, linesPerFile)
	if err != nil {
		return res, err
	}
	if err := writeCollectBenchCgroups(cgroupRoot, cgroups); err != nil {
		return res, err
	}

	// The baseline runs before the broker starts, so that the process's
	// CPU time is the baseline's alone.
	lines, cpu, err := benchCollectBaseline(logPaths)
	if err != nil {
		return res, err
	}
	if lines != res.Lines {
		return res, fmt.Errorf("baseline read %d lines, expected %d", lines, res.Lines)
	}
	res.BaselineLinesPerCoreS = float64(lines) / cpu.Seconds()

	b, err := broker.Start(broker.Config{Port: 0, Partitions: 3}, nil)
	if err != nil {
		return res, err
	}
	defer b.Close()
	if err := kafka.EnsureTopics(ctx, []string{b.Addr()}, "harrier.", 3, allTopics...); err != nil {
		return res, err
	}

	self, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("find the harrier executable: %w", err)
	}
	if agent == "auto" {
		agent = ""
		if path := filepath.Join(filepath.Dir(self), "harrier-agent"); fileExists(path) {
			agent = path
		}
	}
	name, args := self, []string{"collect"}
	res.Collector = "harrier collect"
	if agent != "" {
		name, args = agent, nil
		res.Collector = "harrier-agent"
	}
	args = append(args, "--once", "--kafka", b.Addr(),
		"--collect.state_dir", filepath.Join(dir, "state"),
		"--collect.docker_root", dockerRoot,
		"--collect.cgroup_root", cgroupRoot,
		"--collect.cri_root", "", "--collect.host_root", "",
		"--collect.host_id", "bench")
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, env.stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("run %s %s: %w", name, strings.Join(args, " "), err)
	}
	res.CollectorWallSeconds = time.Since(start).Seconds()

	logs, peakKiB, err := collectedLogs(stdout.String())
	if err != nil {
		return res, err
	}
	if logs != int64(res.Lines) {
		return res, fmt.Errorf("collector sent %d log records, expected %d", logs, res.Lines)
	}

	collectorCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	res.CollectorCPUSeconds = collectorCPU.Seconds()
	res.CollectorLinesPerCoreS = float64(res.Lines) / collectorCPU.Seconds()
	// The collector reports its own VmHWM. The ru_maxrss of the child's
	// rusage is no use here, because Linux counts in it this process's
	// memory, which the child shared until its exec.
	if peakKiB <= 0 {
		return res, fmt.Errorf("collector output has no peak_rss_kib: /proc/self/status is missing on this platform")
	}
	res.CollectorMaxRSSMB = float64(peakKiB) / 1024
	res.Ratio = res.CollectorLinesPerCoreS / res.BaselineLinesPerCoreS
	return res, nil
}

// collectedLogs reads the Logs counter and the peak RSS in KiB from the
// JSON stats line that the collector prints last with --once.
func collectedLogs(out string) (logs, peakRSSKiB int64, err error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var stats struct {
		Logs       *int64
		PeakRSSKiB int64 `json:"peak_rss_kib"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &stats); err != nil || stats.Logs == nil {
		return 0, 0, fmt.Errorf("collector output has no Logs counter: %q", strings.TrimSpace(out))
	}
	return *stats.Logs, stats.PeakRSSKiB, nil
}

// benchCollectBaseline reads every line of paths with a bufio.Scanner and
// decodes it with encoding/json, and returns the lines and the CPU time
// of this process meanwhile.
func benchCollectBaseline(paths []string) (int, time.Duration, error) {
	before := processCPU()
	lines := 0
	for _, path := range paths {
		n, err := scanJSONLines(path)
		if err != nil {
			return 0, 0, err
		}
		lines += n
	}
	return lines, processCPU() - before, nil
}

func scanJSONLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()

	var line struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return n, fmt.Errorf("baseline: invalid line %d of %q: %w", n+1, path, err)
		}
		n++
	}
	return n, sc.Err()
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeCollectBenchLogs creates files Docker container folders under root,
// each with a config.v2.json and a json-file log of lines lines, and
// returns the log paths.
func writeCollectBenchLogs(root string, files, lines int) ([]string, error) {
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	var paths []string
	for i := range files {
		id := fmt.Sprintf("%064x", i+1)
		dir := filepath.Join(root, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		config := fmt.Sprintf(`{"ID":%q,"Name":"/bench-%d","Image":"sha256:%064x","Config":{"Image":"bench:1","Labels":{"com.docker.compose.service":"bench"}},"State":{"Running":true,"StartedAt":"2026-11-30T09:00:00Z"}}`, id, i, i)
		if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(config), 0o644); err != nil {
			return nil, err
		}

		var buf bytes.Buffer
		for n := range lines {
			ts := base.Add(time.Duration(n)*time.Millisecond + time.Duration(i)).Format(time.RFC3339Nano)
			msg := fmt.Sprintf("level=info ts=%s caller=handler.go:%d msg=\"request served\" method=GET path=/api/v1/items/%d status=200 duration_ms=%d\n", ts, 40+n%60, n, n%250)
			stream := "stdout"
			if n%10 == 0 {
				stream = "stderr"
			}
			fmt.Fprintf(&buf, `{"log":%q,"stream":%q,"time":%q}`+"\n", msg, stream, ts)
		}
		path := filepath.Join(dir, id+"-json.log")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeCollectBenchCgroups creates a cgroup v2 tree under root with n
// container scopes under system.slice, laid out as with Docker's systemd
// cgroup driver.
func writeCollectBenchCgroups(root string, n int) error {
	files := map[string]string{
		"cpu.stat":       "usage_usec 98701325\nuser_usec 61355716\nsystem_usec 37345608\nnr_periods 3936\nnr_throttled 60\nthrottled_usec 19175137\n",
		"memory.current": "104857600\n",
		"memory.max":     "536870912\n",
		"memory.stat":    "anon 73400320\nfile 31457280\ninactive_file 20971520\nactive_file 10485760\n",
		"memory.events":  "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
		"pids.current":   "12\n",
		"pids.max":       "max\n",
		"io.stat":        "259:0 rbytes=74526720 wbytes=3789381632 rios=2936 wios=181928 dbytes=0 dios=0\n",
		"cpu.pressure":   "some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=567\n",
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644); err != nil {
		return err
	}
	for i := range n {
		dir := filepath.Join(root, "system.slice", fmt.Sprintf("docker-%064x.scope", i+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}
