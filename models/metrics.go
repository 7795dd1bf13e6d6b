package models

import (
	"fmt"
	"sort"
)

// ROCAUC returns the area under the ROC curve of scores against labels
// (true = outlier): the probability that a random outlier scores higher
// than a random inlier, with ties counted as one half. It is the same
// figure as scikit-learn's roc_auc_score.
func ROCAUC(scores []float64, labels []bool) (float64, error) {
	order, positives, err := rankInput(scores, labels)
	if err != nil {
		return 0, err
	}
	negatives := len(labels) - positives
	// Sum of the mid-ranks of the positives (Mann–Whitney U).
	var rankSum float64
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && scores[order[j]] == scores[order[i]] {
			j++
		}
		midRank := float64(i+j+1) / 2 // ranks i+1 … j
		for _, k := range order[i:j] {
			if labels[k] {
				rankSum += midRank
			}
		}
		i = j
	}
	u := rankSum - float64(positives)*float64(positives+1)/2
	return u / (float64(positives) * float64(negatives)), nil
}

// AveragePrecision returns Σ (Rₙ − Rₙ₋₁) Pₙ over the distinct score
// thresholds from the highest down, where Pₙ and Rₙ are the precision and
// recall of flagging every row scoring at or above the n-th threshold. It
// is the same figure as scikit-learn's average_precision_score.
func AveragePrecision(scores []float64, labels []bool) (float64, error) {
	order, positives, err := rankInput(scores, labels)
	if err != nil {
		return 0, err
	}
	var ap, truePositives, prevRecall float64
	// order is ascending, so walk it from the end.
	for j := len(order); j > 0; {
		i := j - 1
		for i > 0 && scores[order[i-1]] == scores[order[j-1]] {
			i--
		}
		for _, k := range order[i:j] {
			if labels[k] {
				truePositives++
			}
		}
		flagged := float64(len(order) - i)
		recall := truePositives / float64(positives)
		ap += (recall - prevRecall) * truePositives / flagged
		prevRecall = recall
		j = i
	}
	return ap, nil
}

// rankInput checks scores and labels and returns the row indexes in
// ascending score order and the number of positives.
func rankInput(scores []float64, labels []bool) ([]int, int, error) {
	if len(scores) != len(labels) {
		return nil, 0, fmt.Errorf("invalid input: %d scores but %d labels", len(scores), len(labels))
	}
	positives := 0
	for _, l := range labels {
		if l {
			positives++
		}
	}
	if positives == 0 || positives == len(labels) {
		return nil, 0, fmt.Errorf("invalid labels: %d of %d rows are outliers, need both classes", positives, len(labels))
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] < scores[order[b]] })
	return order, positives, nil
}
