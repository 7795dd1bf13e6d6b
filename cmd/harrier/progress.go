package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/normalize"
)

// progress prints one status line while the demo works: on a terminal it
// rewrites the line in place, elsewhere it prints a line every 5 seconds.
type progress struct {
	w       io.Writer
	cfg     *config.Config
	p       *pipeline
	agents  []*collectors.Agent
	tty     bool
	started time.Time

	mu      sync.Mutex
	current string
	done    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, cfg *config.Config, p *pipeline, agents []*collectors.Agent) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, cfg: cfg, p: p, agents: agents, tty: tty, started: time.Now(), done: make(chan struct{})}
}

func (g *progress) start() {
	every := 5 * time.Second
	if g.tty {
		every = 200 * time.Millisecond
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-g.done:
				return
			case <-t.C:
				g.print()
			}
		}
	}()
}

// stage names the step the demo is in and prints it.
func (g *progress) stage(name string) {
	g.mu.Lock()
	g.current = name
	g.mu.Unlock()
	g.print()
}

func (g *progress) stop() {
	g.stopped.Do(func() {
		close(g.done)
		g.wg.Wait()
		if g.tty {
			fmt.Fprint(g.w, "\r\033[K")
		}
	})
}

func (g *progress) produced() int64 {
	var n int64
	for _, a := range g.agents {
		n += a.Stats().Produced
	}
	return n
}

// caughtUp reports whether the normalizer and the scorer have committed
// every message on their topics.
func (g *progress) caughtUp() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k := g.cfg.Kafka
	lag, err := kafka.GroupLag(ctx, k.Brokers, k.TopicPrefix, g.cfg.Normalize.Group, normalize.Topics...)
	if err != nil || lag > 0 {
		return false
	}
	scored, err := g.p.scorer.CaughtUp(ctx)
	return err == nil && scored
}

func (g *progress) print() {
	g.mu.Lock()
	stage := g.current
	g.mu.Unlock()
	n := g.p.normalizer.Stats()
	s := g.p.scorer.Stats()
	a := g.p.alerter.Stats()
	line := fmt.Sprintf("[%5.1fs] %-20s produced %6d  normalized %6d  dead-lettered %d  windows %4d  scored %4d  alerts %d",
		time.Since(g.started).Seconds(), stage, g.produced(), n.Consumed, n.DeadLettered, s.WindowsClosed, s.WindowsScored, a.Raised)
	if g.tty {
		fmt.Fprintf(g.w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(g.w, line)
}
