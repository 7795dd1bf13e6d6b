// Command gen writes the demo bundle: go run ./internal/demodata/cmd/gen
// from the repository root replaces testdata/demo.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/harrierhq/harrier/internal/demodata"
)

func main() {
	out := flag.String("out", "testdata/demo", "output directory; its contents are replaced")
	seed := flag.Int64("seed", demodata.DefaultSeed, "random seed of the bundle")
	flag.Parse()

	if err := os.RemoveAll(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gen: remove %s: %v\n", *out, err)
		os.Exit(1)
	}
	if err := demodata.Generate(*out, *seed); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("wrote demo bundle to %s (seed %d)\n", *out, *seed)
}
