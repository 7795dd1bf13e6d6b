package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func init() {
	register(&command{
		name:    "version",
		summary: "Print the version of this build: the module version or the commit it was built from.",
		run: func(ctx context.Context, env *cmdEnv) error {
			info, ok := debug.ReadBuildInfo()
			if !ok {
				fmt.Fprintln(env.stdout, "harrier (unknown version)")
				return nil
			}
			version := info.Main.Version
			var revision, modified string
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					revision = s.Value
				case "vcs.modified":
					if s.Value == "true" {
						modified = " with uncommitted changes"
					}
				}
			}
			if revision != "" {
				fmt.Fprintf(env.stdout, "harrier %s (commit %s%s, %s)\n", version, revision, modified, info.GoVersion)
				return nil
			}
			fmt.Fprintf(env.stdout, "harrier %s (%s)\n", version, info.GoVersion)
			return nil
		},
	})
}
