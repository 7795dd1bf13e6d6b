package demodata

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The demo's Kubernetes pod.
const (
	PodNamespace  = "payments"
	PodName       = "ledger-5d8c7"
	PodContainer  = "ledger"
	criPartialPct = 10
)

// PodDir returns the name of the pod's log directory for seed.
func PodDir(seed int64) string {
	return PodNamespace + "_" + PodName + "_" + PodUID(seed)
}

func (g *generator) writeCRI() error {
	id := ContainerID(g.seed, "cri/"+PodContainer)
	rel := filepath.Join("pods", PodDir(g.seed), PodContainer, "0.log")
	pool := &cycle{pool: g.samples.bgl, rng: g.rng}

	var buf bytes.Buffer
	records := 0
	for m := 0; m < Minutes; m++ {
		for _, t := range g.minuteTimes(m, 13+g.rng.IntN(5)) {
			msg := pool.take()
			stream := streamOf(msg)
			// containerd splits a line it reads in several pieces: all
			// but the last are tagged P.
			if len(msg) > 20 && g.rng.IntN(100) < criPartialPct {
				cut := len(msg) / 2
				fmt.Fprintf(&buf, "%s %s P %s\n", t.Format(time.RFC3339Nano), stream, msg[:cut])
				t = t.Add(3 * time.Microsecond)
				msg = msg[cut:]
			}
			fmt.Fprintf(&buf, "%s %s F %s\n", t.Format(time.RFC3339Nano), stream, msg)
			records++
		}
	}
	g.logRecords[PodContainer] = records

	if err := writeFile(filepath.Join(g.dir, "cri", rel), buf.Bytes()); err != nil {
		return err
	}

	linkDir := filepath.Join(g.dir, "cri", "containers")
	if err := os.MkdirAll(linkDir, 0o755); err != nil {
		return fmt.Errorf("create %q: %w", linkDir, err)
	}
	link := filepath.Join(linkDir, PodName+"_"+PodNamespace+"_"+PodContainer+"-"+id+".log")
	if err := os.Symlink(filepath.Join("..", rel), link); err != nil {
		return fmt.Errorf("create symlink %q: %w", link, err)
	}
	return nil
}
