package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/internal/config"
)

func init() { register(featuresCommand()) }

func featuresCommand() *command {
	// The command is registered once, so setup resets these on every run
	// by giving the flags their defaults.
	var from, to, by, format string
	var length time.Duration
	return &command{
		name: "features",
		summary: "Write the stored feature windows of a time range to a file for offline work: " +
			"harrier features export --from 2026-11-30T10:00:00Z --to 2026-11-30T11:00:00Z [--by container|image|host] [--length 5m] --format parquet|arrow FILE",
		groups: []string{"clickhouse", "features"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "clickhouse", "clickhouse.addr")
			fs.StringVar(&from, "from", "", "first window start to export, RFC 3339 (such as 2026-11-30T10:00:00Z)")
			fs.StringVar(&to, "to", "", "end of the range, RFC 3339: windows that start before it are exported")
			fs.StringVar(&format, "format", features.FormatParquet, "file format: parquet (Snappy compressed) or arrow (Arrow IPC file)")
			fs.StringVar(&by, "by", "", "roll the stored container windows up per container, image or host; empty writes the stored windows as they are")
			fs.DurationVar(&length, "length", 0, "length of rolled-up windows, a multiple of features.window; longer windows hop by features.window and overlap (default features.window)")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) != 2 || env.args[0] != "export" {
				return errors.New("expected: harrier features export --from TIME --to TIME [--by container|image|host] [--length DURATION] [--format parquet|arrow] FILE")
			}
			path := env.args[1]
			start, err := parseExportTime("--from", from)
			if err != nil {
				return err
			}
			end, err := parseExportTime("--to", to)
			if err != nil {
				return err
			}
			if !start.Before(end) {
				return fmt.Errorf("invalid range: --from %s is not before --to %s", from, to)
			}
			if format != features.FormatParquet && format != features.FormatArrow {
				return fmt.Errorf("invalid value %q for --format: use parquet or arrow", format)
			}
			rollup := by != "" || length != 0
			spec := features.RollupSpec{By: by, Length: length, Hop: env.cfg.Features.Window, From: start, To: end}
			if spec.By == "" {
				spec.By = features.ByContainer
			}
			if spec.Length == 0 {
				spec.Length = spec.Hop
			}
			if err := spec.Validate(); rollup && err != nil {
				return fmt.Errorf("invalid --by or --length: %w", err)
			}

			store, err := openStore(ctx, env.cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			var rec arrow.RecordBatch
			var count int
			if !rollup {
				windows, err := features.ReadWindows(ctx, store, start, end)
				if err != nil {
					return err
				}
				rec, count = features.NewTableBatch(windows, nil), len(windows)
			} else {
				windows, err := features.ReadRollup(ctx, store, spec)
				if err != nil {
					return err
				}
				rec, count = features.NewRollupBatch(windows, nil), len(windows)
			}
			defer rec.Release()
			if err := writeFileAtomic(path, func(f *os.File) error { return features.WriteBatch(f, format, rec) }); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "wrote %d windows from %s to %s to %s (%s)\n",
				count, start.Format(time.RFC3339), end.Format(time.RFC3339), path, format)
			return nil
		},
	}
}

func parseExportTime(flagName, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, fmt.Errorf("missing flag %s: give a time in RFC 3339, such as 2026-11-30T10:00:00Z", flagName)
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid value %q for %s: use RFC 3339, such as 2026-11-30T10:00:00Z", value, flagName)
	}
	return t.UTC(), nil
}

// writeFileAtomic writes path through a temporary file in the same folder
// that is renamed over path once write succeeds, so a failed export
// leaves no partial file behind.
func writeFileAtomic(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
