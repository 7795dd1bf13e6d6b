package nab

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// DetectorName names the detector in result file names.
const DetectorName = "harrier"

// DetectCorpus runs a Detector over each series, on all cores, and returns
// the scores in corpus order.
func DetectCorpus(corpus []*Series, cfg DetectorConfig) [][]float64 {
	scores := make([][]float64, len(corpus))
	work := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				scores[i] = DetectSeries(corpus[i], cfg)
			}
		})
	}
	for i := range corpus {
		work <- i
	}
	close(work)
	wg.Wait()
	return scores
}

// WriteCorpusResults writes one NAB result file per series under outDir,
// laid out as NAB's results directory for one detector:
// outDir/<category>/harrier_<file>.csv.
func WriteCorpusResults(outDir string, corpus []*Series, scores [][]float64) error {
	for i, s := range corpus {
		dir, file := filepath.Split(filepath.FromSlash(s.Name))
		path := filepath.Join(outDir, dir, DetectorName+"_"+file)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create results directory: %w", err)
		}
		fh, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create result file: %w", err)
		}
		err = s.WriteResults(fh, scores[i])
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
