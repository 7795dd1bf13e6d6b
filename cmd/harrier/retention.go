package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/storage"
)

func init() {
	var keep string
	var every time.Duration
	register(&command{
		name:    "retention",
		summary: "Drop the daily partitions of tables that are older than their configured age.",
		groups:  []string{"clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "clickhouse", "clickhouse.addr")
			fs.StringVar(&keep, "keep", "", "comma-separated table=age pairs, such as events=30d,metrics=14d,dead_letters=720h; ages are at least 1 day")
			fs.DurationVar(&every, "every", 0, "repeat every this long until stopped; 0 runs once")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			policy, err := storage.ParseRetention(keep)
			if err != nil {
				return err
			}
			if len(policy) == 0 {
				return errors.New("missing --keep: give at least one table=age pair, such as events=30d")
			}
			if every < 0 {
				return fmt.Errorf("invalid --every %s: use 0 to run once or a positive duration", every)
			}
			store, err := openStore(ctx, env.cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			logger := env.logger.With("component", "retention")
			for {
				for _, r := range policy {
					dropped, err := store.DropOldPartitions(ctx, r.Table, r.MaxAge, time.Now())
					if err != nil {
						if every == 0 {
							return err
						}
						logger.Error("Retention failed, retrying at the next run", "table", r.Table, "err", err)
						continue
					}
					logger.Info("Retention applied", "table", r.Table, "max_age", r.MaxAge, "dropped_partitions", dropped)
					fmt.Fprintf(env.stdout, "%s: dropped %d partitions older than %s %v\n", r.Table, len(dropped), r.MaxAge, dropped)
				}
				if every == 0 || !sleepCtx(ctx, every) {
					return nil
				}
			}
		},
	})
}

// sleepCtx waits for d and returns false when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
