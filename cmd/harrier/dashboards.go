package main

import (
	"context"
	"fmt"

	"github.com/harrierhq/harrier/dashboards"
)

func init() {
	register(&command{
		name:        "dashboards",
		subcommands: true,
		summary: "Work with the Grafana dashboards: 'dashboards export DIR' writes the SOC overview, container drill-down, " +
			"fleet vulnerabilities and pipeline health dashboards as JSON files into DIR, creating it when missing.",
		run: func(_ context.Context, env *cmdEnv) error {
			if len(env.args) != 2 || env.args[0] != "export" {
				return fmt.Errorf("invalid arguments %q: expected 'dashboards export DIR'", env.args)
			}
			paths, err := dashboards.Export(env.args[1])
			if err != nil {
				return err
			}
			for _, p := range paths {
				fmt.Fprintln(env.stdout, p)
			}
			return nil
		},
	})
}
