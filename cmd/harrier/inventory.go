package main

import (
	"context"
	"flag"
	"fmt"
	"slices"

	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/storage"
)

func init() {
	format := storage.FormatNameTable
	register(&command{
		name:    "inventory",
		summary: "List the registered hosts, images, containers and posture policies with first- and last-seen times: harrier inventory [hosts|images|containers|policies] [--format table|csv|json]",
		groups:  []string{"clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "clickhouse", "clickhouse.addr")
			fs.StringVar(&format, "format", storage.FormatNameTable, "output format: table, csv or json")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			kinds := storage.InventoryKinds
			switch {
			case len(env.args) > 1:
				return fmt.Errorf("unexpected arguments %q: expected at most one of hosts, images, containers or policies", env.args)
			case len(env.args) == 1:
				if !slices.Contains(storage.InventoryKinds, env.args[0]) {
					return fmt.Errorf("invalid inventory kind %q: expected hosts, images, containers or policies", env.args[0])
				}
				kinds = env.args[:1]
			}
			switch format {
			case storage.FormatNameTable, storage.FormatNameCSV, storage.FormatNameJSON:
			default:
				return fmt.Errorf("invalid value %q for --format: use table, csv or json", format)
			}
			store, err := openStore(ctx, env.cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			return printInventory(ctx, store, kinds, format, env)
		},
	})
}

// printInventory prints each kind's listing, under a title line when more
// than one kind is printed as a table.
func printInventory(ctx context.Context, store *storage.Store, kinds []string, format string, env *cmdEnv) error {
	for i, kind := range kinds {
		query, err := storage.InventoryQuery(kind)
		if err != nil {
			return err
		}
		cols, rows, err := store.Query(ctx, query)
		if err != nil {
			return fmt.Errorf("list %s: %w", kind, err)
		}
		if len(kinds) > 1 && format == storage.FormatNameTable {
			if i > 0 {
				fmt.Fprintln(env.stdout)
			}
			fmt.Fprintf(env.stdout, "%s (%d)\n", kind, len(rows))
		}
		if err := storage.FormatRows(env.stdout, format, cols, rows); err != nil {
			return err
		}
	}
	return nil
}
