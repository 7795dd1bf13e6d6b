package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"

	"github.com/harrierhq/harrier/collectors/inspect"
	"github.com/harrierhq/harrier/internal/config"
)

func init() {
	var format string
	register(&command{
		name:    "parse",
		summary: "Print the records that files or folders yield, as JSON lines in the unified schema; rejected input goes to stderr.",
		setup: func(fs *flag.FlagSet, _ *config.Loader, _ *cmdOptions) {
			fs.StringVar(&format, "format", string(inspect.FormatAuto),
				"input format: auto, docker, cri, trivy, grype, clair, anchore, cgroup, host or posture (a host root's security settings); auto picks one per path and never picks posture")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			return runParse(ctx, env, format)
		},
	})
}

// runParse prints one JSON line per row on stdout, each with a field
// "table", and one JSON line per rejected input on stderr, each with a
// field "reason". It returns an error, which makes the exit status 1, when
// anything was rejected.
func runParse(ctx context.Context, env *cmdEnv, format string) error {
	f, err := inspect.ParseFormat(format)
	if err != nil {
		return err
	}
	if len(env.args) == 0 {
		return errors.New("missing PATH: usage: harrier parse [--format FORMAT] PATH...")
	}

	// The parsing runs in its own goroutine because a read from a FIFO, a
	// device or a stalled network file system does not return on a signal.
	// On a signal runParse returns at once and the process exits, while
	// the goroutine may still be blocked. The gate drops its later output.
	gate := &outputGate{}
	in := inspect.New(f, gate.writer(env.stdout), gate.writer(env.stderr))
	done := make(chan error, 1)
	go func() {
		done <- parsePaths(ctx, in, env.args)
	}()

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		gate.close()
		return fmt.Errorf("stopped before reading every path: %w", context.Cause(ctx))
	}
}

func parsePaths(ctx context.Context, in *inspect.Inspector, paths []string) error {
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := in.Path(path); err != nil {
			return err
		}
	}
	if n := in.Stats().Rejected; n > 0 {
		return fmt.Errorf("rejected %s; each is a JSON line with a reason above", plural(int64(n), "input", "inputs"))
	}
	return nil
}

// outputGate serializes writes to the writers it wraps and drops every
// write after close, so that a goroutine left running cannot write once
// its caller has returned.
type outputGate struct {
	mu     sync.Mutex
	closed bool
}

func (g *outputGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

func (g *outputGate) writer(w io.Writer) io.Writer {
	return gatedWriter{gate: g, w: w}
}

type gatedWriter struct {
	gate *outputGate
	w    io.Writer
}

func (w gatedWriter) Write(p []byte) (int, error) {
	w.gate.mu.Lock()
	defer w.gate.mu.Unlock()
	if w.gate.closed {
		return 0, errors.New("output closed after a signal")
	}
	return w.w.Write(p)
}
