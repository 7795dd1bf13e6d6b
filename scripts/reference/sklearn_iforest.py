#!/usr/bin/env python3
"""Score an outlier CSV with scikit-learn's IsolationForest.

Reads a CSV with columns f0..fN,label (label 1 = outlier), fits
IsolationForest(n_estimators=100, max_samples=256) on every row once per
seed, scores every row, and prints one JSON object: the mean ROC AUC and
average precision over the seeds, the per-seed values, and the fit and
score time in microseconds per row. `harrier eval outliers` runs this
script as its reference, and the output for the bundled sets is kept in
models/testdata/outliers/sklearn_reference.json.
"""

import argparse
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("csv", help="CSV file with columns f0..fN,label")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--runs", type=int, default=5, help="number of seeds")
    parser.add_argument("--single-rows", type=int, default=200,
                        help="rows scored one call each to time single-row latency")
    parser.add_argument("--n-jobs", type=int, default=-1, help="scikit-learn n_jobs (-1 = all cores)")
    args = parser.parse_args()

    data = np.genfromtxt(args.csv, delimiter=",", names=True)
    names = data.dtype.names
    if not names or names[-1] != "label":
        sys.exit(f"invalid header {names}: want f0..fN,label")
    X = np.column_stack([data[n] for n in names[:-1]]).astype(np.float64)
    y = data["label"].astype(int)

    runs = []
    for seed in range(args.seed, args.seed + args.runs):
        model = IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=args.n_jobs)
        start = time.perf_counter()
        model.fit(X)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        # score_samples returns the negated anomaly score of Liu, Ting and Zhou.
        scores = -model.score_samples(X)
        score_seconds = time.perf_counter() - start
        single = X[: args.single_rows]
        start = time.perf_counter()
        for row in single:
            model.score_samples(row.reshape(1, -1))
        single_seconds = time.perf_counter() - start
        runs.append({
            "seed": seed,
            "auc": roc_auc_score(y, scores),
            "ap": average_precision_score(y, scores),
            "fit_us_per_row": fit_seconds * 1e6 / len(X),
            "score_us_per_row": score_seconds * 1e6 / len(X),
            "single_row_us": single_seconds * 1e6 / max(len(single), 1),
        })

    def mean(key):
        return float(np.mean([r[key] for r in runs]))

    print(json.dumps({
        "sklearn_version": sklearn.__version__,
        "rows": int(len(X)),
        "auc": mean("auc"),
        "ap": mean("ap"),
        "fit_us_per_row": mean("fit_us_per_row"),
        "score_us_per_row": mean("score_us_per_row"),
        "single_row_us": mean("single_row_us"),
        "n_jobs": args.n_jobs,
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
