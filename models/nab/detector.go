package nab

import (
	"math"

	"github.com/harrierhq/harrier/models"
)

// Defaults of DetectorConfig.
//
// NOTE: History, LongWindow, Suppress and SpatialMargin were chosen by
// their NAB score on the 23 bundled series (artificialWithAnomaly and
// realAWSCloudwatch), with no held-out series, so the score on those series
// is an optimistic estimate.
const (
	DefaultHistory       = 2000
	DefaultRefitEvery    = 100
	DefaultMinHistory    = 100
	DefaultShortWindow   = 10
	DefaultLongWindow    = 2000
	DefaultSuppress      = 100
	DefaultSpatialMargin = 0.05
)

// DetectorConfig configures a Detector. A zero field takes its default.
type DetectorConfig struct {
	// History is the number of most recent points the forest trains on.
	// Default 2000.
	History int
	// RefitEvery is the number of points between forest refits. Default
	// 100.
	RefitEvery int
	// MinHistory is the number of points seen before the first fit; the
	// score is 0 until then. Default 100.
	MinHistory int
	// ShortWindow and LongWindow are the lengths, in points, of the recent
	// mean of forest scores and of the history it is compared with.
	// Defaults 10 and 2000.
	ShortWindow, LongWindow int
	// Suppress is the number of points after a score during which any
	// score not above it is halved, so that one event yields one
	// detection. Default 100; negative turns it off.
	Suppress int
	// SpatialMargin is the margin, as a share of the range of the values
	// seen so far, by which a value beyond that range scores 1. Default
	// 0.05; negative turns it off.
	SpatialMargin float64
	// Seed makes the forests reproducible.
	Seed int64
}

// Detector scores a single series point by point, seeing only the past.
//
// Each point becomes a vector of its value, its change from the previous
// point and the mean of the last meanLength values. An isolation forest
// with ExtendRange, refitted every RefitEvery points on the last History
// vectors, gives the raw score of the vector. The detector's score is then
// z/(1+z) for the z-score of the mean of the last ShortWindow raw scores
// against the last LongWindow, a form of the anomaly likelihood of Ahmad
// et al. ("Unsupervised real-time anomaly detection for streaming data",
// Neurocomputing 2017): a level shift scores high when it starts and falls
// once the forest has learnt it. A value beyond the range seen so far by
// more than SpatialMargin scores 1. Last, a score that does not exceed
// every score of the previous Suppress points is halved.
type Detector struct {
	cfg       DetectorConfig
	values    []float64
	vectors   [][]float64
	forest    *models.IsolationForest
	sinceFit  int
	raw       []float64
	recent    []float64
	low, high float64
}

// meanLength is the number of values averaged into the third feature.
const meanLength = 6

// NewDetector returns a Detector with the defaults filled in.
func NewDetector(cfg DetectorConfig) *Detector {
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	if cfg.RefitEvery <= 0 {
		cfg.RefitEvery = DefaultRefitEvery
	}
	if cfg.MinHistory <= 0 {
		cfg.MinHistory = DefaultMinHistory
	}
	if cfg.ShortWindow <= 0 {
		cfg.ShortWindow = DefaultShortWindow
	}
	if cfg.LongWindow <= 0 {
		cfg.LongWindow = DefaultLongWindow
	}
	if cfg.Suppress == 0 {
		cfg.Suppress = DefaultSuppress
	}
	if cfg.SpatialMargin == 0 {
		cfg.SpatialMargin = DefaultSpatialMargin
	}
	return &Detector{cfg: cfg}
}

// Update adds the next value of the series and returns its anomaly score in
// [0, 1].
func (d *Detector) Update(v float64) float64 {
	score := d.likelihood(d.forestScore(v))
	if d.cfg.SpatialMargin > 0 && len(d.values) > d.cfg.MinHistory {
		margin := d.cfg.SpatialMargin * (d.high - d.low)
		if v > d.high+margin || v < d.low-margin {
			score = 1
		}
	}
	if len(d.values) == 1 {
		d.low, d.high = v, v
	}
	d.low, d.high = min(d.low, v), max(d.high, v)
	return d.suppress(score)
}

// forestScore records v and returns the raw forest score of its vector,
// or −1 before the first fit.
func (d *Detector) forestScore(v float64) float64 {
	d.values = append(d.values, v)
	n := len(d.values)
	prev := v
	if n > 1 {
		prev = d.values[n-2]
	}
	var mean float64
	last := d.values[max(0, n-meanLength):]
	for _, x := range last {
		mean += x / float64(len(last))
	}
	vec := []float64{v, v - prev, mean}

	if d.forest == nil && len(d.vectors) >= d.cfg.MinHistory || d.sinceFit >= d.cfg.RefitEvery {
		d.fit()
	}
	score := -1.0
	if d.forest != nil {
		score = d.forest.Score(vec)
		d.sinceFit++
	}
	d.vectors = append(d.vectors, vec)
	if len(d.vectors) > d.cfg.History {
		d.vectors = d.vectors[len(d.vectors)-d.cfg.History:]
	}
	return score
}

func (d *Detector) fit() {
	f, err := models.Fit(d.vectors, models.ForestConfig{Seed: d.cfg.Seed + int64(len(d.values)), ExtendRange: true})
	if err != nil {
		// Fit rejects rows containing NaN. Keep the previous forest then.
		return
	}
	d.forest = f
	d.sinceFit = 0
}

// likelihood records a raw score and returns z/(1+z), or 0 for z ≤ 0, for
// the z-score of the mean of the last ShortWindow raw scores against the
// mean and standard deviation of the last LongWindow. z/(1+z) keeps large
// z-scores apart where the normal tail probability rounds to 1.
func (d *Detector) likelihood(raw float64) float64 {
	if raw < 0 {
		return 0
	}
	d.raw = append(d.raw, raw)
	if len(d.raw) > d.cfg.LongWindow {
		d.raw = d.raw[len(d.raw)-d.cfg.LongWindow:]
	}
	if len(d.raw) < 2*d.cfg.ShortWindow {
		return 0
	}
	var mean, sq float64
	for _, x := range d.raw {
		mean += x
	}
	mean /= float64(len(d.raw))
	for _, x := range d.raw {
		sq += (x - mean) * (x - mean)
	}
	std := math.Max(math.Sqrt(sq/float64(len(d.raw))), 1e-4)
	var short float64
	last := d.raw[len(d.raw)-d.cfg.ShortWindow:]
	for _, x := range last {
		short += x / float64(len(last))
	}
	z := (short - mean) / std
	if z <= 0 {
		return 0
	}
	return z / (1 + z)
}

// suppress halves score unless it exceeds every score of the previous
// Suppress points.
func (d *Detector) suppress(score float64) float64 {
	if d.cfg.Suppress < 0 {
		return score
	}
	out := score
	for _, s := range d.recent {
		if s >= score {
			out = score / 2
			break
		}
	}
	d.recent = append(d.recent, score)
	if len(d.recent) > d.cfg.Suppress {
		d.recent = d.recent[1:]
	}
	return out
}

// DetectSeries runs a new Detector over every value of s.
func DetectSeries(s *Series, cfg DetectorConfig) []float64 {
	d := NewDetector(cfg)
	scores := make([]float64, len(s.Values))
	for i, v := range s.Values {
		scores[i] = d.Update(v)
	}
	return scores
}
