package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultKeepVersions is the number of versions per model that a Registry
// keeps by default.
const DefaultKeepVersions = 10

// FleetWorkload is the Workload of the fleet model in ModelInfo.
const FleetWorkload = "fleet"

// ModelInfo is the metadata of one fitted model version, stored beside the
// model as <version>.json.
type ModelInfo struct {
	// Version names the model in the scores table, in alerts and in file
	// names: "iforest-" and 12 hex digits.
	Version string `json:"version"`
	// Workload is the workload key the model was trained on, or "fleet".
	Workload string `json:"workload"`
	// Algorithm is "isolation-forest".
	Algorithm string `json:"algorithm"`
	// CreatedAt is the wall-clock time of the fit.
	CreatedAt time.Time `json:"created_at"`
	// Reason is the trigger of the fit: "first fit", "training set grew",
	// "scheduled" or "image digest changed".
	Reason string `json:"reason"`
	// TrainingFrom and TrainingTo are the event-time range of the training
	// windows: the start of the oldest and the end of the newest.
	TrainingFrom time.Time `json:"training_from"`
	TrainingTo   time.Time `json:"training_to"`
	// TrainingWindows is the number of training windows.
	TrainingWindows int `json:"training_windows"`
	// ImageIDs lists the image digests of the training windows.
	ImageIDs []string `json:"image_ids,omitempty"`
	// Features names the columns of the rows the forest scores.
	Features []string `json:"features"`
	// Trees, Subsample, Seed, Contamination and ExtendRange are the forest
	// configuration.
	Trees         int     `json:"trees"`
	Subsample     int     `json:"subsample"`
	Seed          int64   `json:"seed"`
	Contamination float64 `json:"contamination"`
	ExtendRange   bool    `json:"extend_range"`
	// Threshold is the score at or above which a window is anomalous.
	Threshold float64 `json:"threshold"`
	// Metrics describe the fit.
	Metrics ModelMetrics `json:"metrics"`
}

// ModelMetrics are measured when a model is fitted.
type ModelMetrics struct {
	// ScoreMedian, ScoreP99 and ScoreMax summarize the scores of the
	// training windows.
	ScoreMedian float64 `json:"score_median"`
	ScoreP99    float64 `json:"score_p99"`
	ScoreMax    float64 `json:"score_max"`
	// FlaggedShare is the share of training windows scoring at or above the
	// threshold, about Contamination unless many windows tie.
	FlaggedShare float64 `json:"flagged_share"`
	// FitSeconds is the wall-clock time of the fit.
	FitSeconds float64 `json:"fit_seconds"`
}

// Registry stores fitted models as versioned files in one folder: the
// forest as <version>.forest (MarshalBinary) and its metadata as
// <version>.json. It keeps the newest Keep versions of each workload and
// deletes older ones. A Registry is safe for concurrent use.
type Registry struct {
	dir  string
	keep int

	mu sync.Mutex
	// byWorkload lists the versions of each workload, oldest first.
	byWorkload map[string][]ModelInfo
}

// OpenRegistry creates dir if needed and reads the metadata already in it.
// keep is the number of versions kept per workload; 0 means
// DefaultKeepVersions.
func OpenRegistry(dir string, keep int) (*Registry, error) {
	if dir == "" {
		return nil, errors.New("invalid models folder: empty path")
	}
	if keep <= 0 {
		keep = DefaultKeepVersions
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create models folder: %w", err)
	}
	infos, err := ListModels(dir)
	if err != nil {
		return nil, err
	}
	r := &Registry{dir: dir, keep: keep, byWorkload: make(map[string][]ModelInfo)}
	for _, info := range infos {
		r.byWorkload[info.Workload] = append(r.byWorkload[info.Workload], info)
	}
	return r, nil
}

// Dir returns the registry's folder.
func (r *Registry) Dir() string {
	return r.dir
}

// Save writes a model version and its metadata, then deletes the oldest
// versions of the same workload beyond the number kept. The forest file is
// written before the metadata, and each through a temporary file and a
// rename, so a listed version always has its forest.
func (r *Registry) Save(info ModelInfo, forest *IsolationForest) error {
	if !validVersion(info.Version) {
		return fmt.Errorf("invalid model version %q: must be letters, digits and dashes", info.Version)
	}
	data, err := forest.MarshalBinary()
	if err != nil {
		return err
	}
	meta, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode metadata of model %s: %w", info.Version, err)
	}
	if err := writeFileAtomic(filepath.Join(r.dir, info.Version+".forest"), data); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(r.dir, info.Version+".json"), append(meta, '\n')); err != nil {
		return err
	}

	r.mu.Lock()
	defer r.mu.Unlock()

	versions := slices.DeleteFunc(r.byWorkload[info.Workload], func(m ModelInfo) bool { return m.Version == info.Version })
	versions = append(versions, info)
	var errs []error
	for len(versions) > r.keep {
		old := versions[0].Version
		versions = versions[1:]
		for _, ext := range []string{".json", ".forest"} {
			if err := os.Remove(filepath.Join(r.dir, old+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("delete old model version: %w", err))
			}
		}
	}
	r.byWorkload[info.Workload] = versions
	return errors.Join(errs...)
}

// ListModels reads the metadata of every model in dir, sorted by workload
// (the fleet model first) and then by creation time. A missing folder
// holds no models.
func ListModels(dir string) ([]ModelInfo, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list models in %s: %w", dir, err)
	}
	var infos []ModelInfo
	for _, p := range paths {
		info, err := readModelInfo(p)
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b ModelInfo) int {
		if c := compareWorkloads(a.Workload, b.Workload); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return infos, nil
}

// LoadModel reads one model version from dir.
func LoadModel(dir, version string) (ModelInfo, *IsolationForest, error) {
	if !validVersion(version) {
		return ModelInfo{}, nil, fmt.Errorf("invalid model version %q: must be letters, digits and dashes", version)
	}
	info, err := readModelInfo(filepath.Join(dir, version+".json"))
	if err != nil {
		return ModelInfo{}, nil, err
	}
	path := filepath.Join(dir, version+".forest")
	data, err := os.ReadFile(path)
	if err != nil {
		return ModelInfo{}, nil, fmt.Errorf("read model: %w", err)
	}
	var f IsolationForest
	if err := f.UnmarshalBinary(data); err != nil {
		return ModelInfo{}, nil, fmt.Errorf("read model %s: %w", path, err)
	}
	return info, &f, nil
}

func readModelInfo(path string) (ModelInfo, error) {
	var info ModelInfo
	data, err := os.ReadFile(path)
	if err != nil {
		return info, fmt.Errorf("read model metadata: %w", err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("invalid model metadata %s: %w", path, err)
	}
	if info.Version == "" {
		return info, fmt.Errorf("invalid model metadata %s: missing field version", path)
	}
	return info, nil
}

func compareWorkloads(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == FleetWorkload:
		return -1
	case b == FleetWorkload:
		return 1
	}
	return strings.Compare(a, b)
}

// validVersion reports whether v is safe as a file name stem.
func validVersion(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// writeFileAtomic writes data to a temporary file in the same folder and
// renames it to path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
