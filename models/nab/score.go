package nab

import (
	"fmt"
	"math"
	"sort"
)

// CostMatrix weighs the outcomes of NAB's scoring.
type CostMatrix struct {
	TP float64 `json:"tpWeight"`
	FP float64 `json:"fpWeight"`
	FN float64 `json:"fnWeight"`
}

// StandardProfile is NAB's standard application profile.
var StandardProfile = CostMatrix{TP: 1, FP: 0.11, FN: 1}

// probationFraction is the share of each series, capped at
// probationFraction × 5000 rows, that is not scored.
const probationFraction = 0.15

// probationLength returns the number of leading rows that are not scored.
func probationLength(rows int) int {
	return int(math.Min(math.Floor(probationFraction*float64(rows)), probationFraction*5000))
}

// scaledSigmoid maps a position relative to a window's right edge (−1 =
// left edge, 0 = right edge, positive = after the window, in window
// widths) to a reward in (−1, 1): 2σ(−5x) − 1, and −1 from 3 on.
func scaledSigmoid(x float64) float64 {
	if x >= 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

// point is one scorable row: its detector score, the window it lies in
// (−1 outside every window) and the score it adds when detected.
type point struct {
	score  float64
	window int
	reward float64
}

// points returns the scorable rows of s, with window numbers offset by
// firstWindow, and the number of windows that have scorable rows.
func points(s *Series, scores []float64, firstWindow int, cost CostMatrix) ([]point, []int) {
	maxTP := scaledSigmoid(-1)
	probation := probationLength(len(scores))
	var out []point
	seen := map[int]bool{}
	var windows []int
	prevEnd, prevWidth := -1, 0
	w := 0
	for i, score := range scores {
		for w < len(s.Windows) && i > s.Windows[w][1] {
			prevEnd, prevWidth = s.Windows[w][1], s.Windows[w][1]-s.Windows[w][0]+1
			w++
		}
		inside := w < len(s.Windows) && i >= s.Windows[w][0]
		if i < probation {
			continue
		}
		p := point{score: score, window: -1}
		switch {
		case inside:
			width := float64(s.Windows[w][1] - s.Windows[w][0] + 1)
			position := -float64(s.Windows[w][1]-i+1) / width
			p.window = firstWindow + w
			p.reward = scaledSigmoid(position) * cost.TP / maxTP
			if !seen[p.window] {
				seen[p.window] = true
				windows = append(windows, p.window)
			}
		case prevEnd < 0 || prevWidth <= 1:
			p.reward = scaledSigmoid(3) * cost.FP
		default:
			p.reward = scaledSigmoid(float64(i-prevEnd)/float64(prevWidth-1)) * cost.FP
		}
		out = append(out, p)
	}
	return out, windows
}

// Result is the NAB score of a corpus at its best threshold.
type Result struct {
	// Score is 100 × (Raw − Null)/(Perfect − Null): 100 for a perfect
	// detector, 0 for one no better than a constant score.
	Score     float64 `json:"nab_standard"`
	Raw       float64 `json:"raw"`
	Null      float64 `json:"null"`
	Perfect   float64 `json:"perfect"`
	Threshold float64 `json:"threshold"`
	// Detected is the number of windows with a detection at the threshold.
	Detected int `json:"windows_detected"`
	Windows  int `json:"windows"`
	// FalsePositives is the number of rows outside windows at or above the
	// threshold.
	FalsePositives int `json:"false_positives"`
}

// ScoreCorpus returns the NAB score of scores (one slice per series, in
// corpus order) under cost, with the threshold that maximizes the raw score
// over the whole corpus.
func ScoreCorpus(corpus []*Series, scores [][]float64, cost CostMatrix) (Result, error) {
	if len(scores) != len(corpus) {
		return Result{}, fmt.Errorf("%d score series for %d data series", len(scores), len(corpus))
	}
	constant := make([][]float64, len(corpus))
	for i, s := range corpus {
		if len(scores[i]) != len(s.Values) {
			return Result{}, fmt.Errorf("%s: %d scores for %d rows", s.Name, len(scores[i]), len(s.Values))
		}
		constant[i] = make([]float64, len(s.Values))
		for j := range constant[i] {
			constant[i][j] = 0.5
		}
	}
	res := sweep(corpus, scores, cost)
	null := sweep(corpus, constant, cost)
	res.Null = null.Raw
	res.Perfect = float64(res.Windows) * cost.TP
	if res.Perfect > res.Null {
		res.Score = 100 * (res.Raw - res.Null) / (res.Perfect - res.Null)
	}
	return res, nil
}

// sweep lowers the threshold through every distinct score of the corpus
// and returns the best raw score.
func sweep(corpus []*Series, scores [][]float64, cost CostMatrix) Result {
	var all []point
	var windows []int
	first := 0
	for i, s := range corpus {
		p, w := points(s, scores[i], first, cost)
		all = append(all, p...)
		windows = append(windows, w...)
		first += len(s.Windows)
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })

	best := make(map[int]float64, len(windows))
	for _, w := range windows {
		best[w] = -cost.FN
	}
	raw := -cost.FN * float64(len(windows))
	res := Result{Raw: raw, Threshold: math.Inf(1), Windows: len(windows)}
	detected, falsePositives := 0, 0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].score == all[i].score {
			p := all[j]
			if p.window < 0 {
				raw += p.reward
				falsePositives++
			} else if p.reward > best[p.window] {
				if best[p.window] == -cost.FN {
					detected++
				}
				raw += p.reward - best[p.window]
				best[p.window] = p.reward
			}
			j++
		}
		if raw > res.Raw {
			res.Raw, res.Threshold = raw, all[i].score
			res.Detected, res.FalsePositives = detected, falsePositives
		}
		i = j
	}
	return res
}
