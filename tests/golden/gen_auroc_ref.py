#!/usr/bin/env python3
"""tests/golden/gen_auroc_ref.py — writes tests/golden/auroc_cases.txt, the reference values for
the auroc and average_precision metrics of plugins/metrics (read by tests/unit/test_auroc.c).

Run with Debian's python3 (packages python3-sklearn, python3-numpy), from the source root:

    python3 tests/golden/gen_auroc_ref.py          # rewrites tests/golden/auroc_cases.txt

Semantics are torchmetrics' MulticlassAUROC / MulticlassAveragePrecision (one-vs-rest,
average macro / weighted / none), on probabilities: softmax (float64) of the float32 scores
when a dataset holds logits, the scores themselves when it holds probabilities.

- thresholds None (exact): per class c, scikit-learn's roc_auc_score(y == c, p[:, c]) and
  average_precision_score(y == c, p[:, c]); macro = their mean, weighted = weighted by
  bincount(y). Where every class is present and the rows are probabilities, the averages are
  checked against roc_auc_score(y, p, multi_class="ovr", average=...) and
  average_precision_score(one_hot(y), p, average=...) before anything is written.
  A class absent from y (scikit-learn raises for AUROC and says 0 for AP): torchmetrics'
  behaviour, AUROC 0 and kept in the macro mean (weight 0 in weighted); AP NaN and left out of
  macro and weighted.
- thresholds T (binned): numpy mirror of torchmetrics' binned formulas (torchmetrics is not a
  Debian package): thresholds = numpy.linspace(0, 1, T); per threshold and class the counts
  tp, fp, fn, tn of (p >= threshold) against (y == c); tpr = tp/(tp+fn), fpr = fp/(fp+tn) (0 when
  0/0), flipped to descending thresholds, AUROC = trapezoid(tpr, fpr); precision = tp/(tp+fp),
  recall = tp/(tp+fn) with (1, 0) appended and 0/0 taken as 0, AP = -sum(diff(recall) *
  precision[:-1]); weights = the classes' positives.

Samples whose target is ignore_index (-1 here) are dropped first.

Fixture format (whitespace-separated, '#' lines are comments):
  dataset NAME C N PROBS        PROBS 1: rows are probabilities, 0: logits
  N lines: TARGET S_0 ... S_{C-1}   (float32 values, printed exactly)
  case DATASET METRIC AVERAGE THRESHOLDS IGNORE BATCHES RESUME N_OUT V_0 ... V_{N_OUT-1}
      METRIC auroc | average_precision; THRESHOLDS None or T; IGNORE none or an integer;
      BATCHES the update() sizes, comma-separated, summing to N; RESUME the number of batches
      after which the test saves the state to a checkpoint and resumes from it; V_k repr()
      doubles, nan for NaN.
"""
import sys
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

OUT = "tests/golden/auroc_cases.txt"
AVERAGES = ("macro", "weighted", "none")


def probs(scores, are_probs):
    x = scores.astype(np.float64)
    if are_probs:
        return x
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reduce(res, weights, average):
    if average == "none":
        return list(res)
    keep = ~np.isnan(res)
    if average == "macro":
        return [float(res[keep].mean()) if keep.any() else float("nan")]
    w = weights[keep]
    w = w / w.sum() if w.sum() != 0 else np.zeros_like(w)
    return [float((res[keep] * w).sum())]


def exact(metric, p, y, C):
    res = np.empty(C)
    for c in range(C):
        pos = (y == c).astype(int)
        if metric == "auroc":
            # torchmetrics: 0 without positives or without negatives (scikit-learn raises)
            res[c] = roc_auc_score(pos, p[:, c]) if 0 < pos.sum() < len(y) else 0.0
        else:
            res[c] = average_precision_score(pos, p[:, c]) if pos.sum() > 0 else np.nan
    return res


def binned(metric, p, y, C, T):
    thr = np.linspace(0, 1, T)
    res = np.empty(C)
    weights = np.empty(C)
    for c in range(C):
        tgt = y == c
        pred = p[:, c][:, None] >= thr[None, :]  # (n, T)
        tp = (pred & tgt[:, None]).sum(0).astype(float)
        fp = (pred & ~tgt[:, None]).sum(0).astype(float)
        fn = (~pred & tgt[:, None]).sum(0).astype(float)
        tn = (~pred & ~tgt[:, None]).sum(0).astype(float)
        weights[c] = tp[0] + fn[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            if metric == "auroc":
                tpr = np.where(tp + fn != 0, tp / (tp + fn), 0.0)[::-1]
                fpr = np.where(fp + tn != 0, fp / (fp + tn), 0.0)[::-1]
                res[c] = float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2.0))
            else:
                prec = np.where(tp + fp != 0, tp / (tp + fp), np.nan)
                rec = np.where(tp + fn != 0, tp / (tp + fn), np.nan)
                prec = np.nan_to_num(np.concatenate([prec, [1.0]]), nan=0.0)
                rec = np.nan_to_num(np.concatenate([rec, [0.0]]), nan=0.0)
                res[c] = float(-np.sum((rec[1:] - rec[:-1]) * prec[:-1]))
    return res, weights


def cross_check(p, y, C):
    """The per-class route against scikit-learn's own multiclass averages."""
    onehot = np.eye(C)[y]
    w = np.bincount(y, minlength=C).astype(float)
    for avg in ("macro", "weighted"):
        ours = reduce(exact("auroc", p, y, C), w, avg)[0]
        ref = roc_auc_score(y, p, multi_class="ovr", average=avg, labels=list(range(C)))
        assert abs(ours - ref) < 1e-13, ("auroc", avg, ours, ref)
        ours = reduce(exact("average_precision", p, y, C), w, avg)[0]
        ref = average_precision_score(onehot, p, average=avg)
        assert abs(ours - ref) < 1e-13, ("average_precision", avg, ours, ref)


def make_datasets(rng):
    ds = []
    # 1. three classes, logits, all present
    n, C = 60, 3
    ds.append(("logits3", C, rng.normal(size=(n, C)).astype(np.float32),
               rng.integers(0, C, n), 0))
    # 2. ties: probabilities on a grid of 1/8 (exact in float32), many equal scores; binned
    #    thresholds (T = 5, 9) fall exactly on some of them
    n, C = 120, 4
    ds.append(("ties4", C, (rng.integers(0, 9, size=(n, C)) / 8.0).astype(np.float32),
               rng.integers(0, C, n), 1))
    # 3. logits with repeated rows (equal probabilities) and class 2 absent from the targets
    n, C = 80, 4
    base = rng.normal(size=(20, C)).astype(np.float32)
    y = rng.choice([0, 1, 3], size=n)
    ds.append(("absent4", C, base[rng.integers(0, 20, n)], y, 0))
    # 4. ten classes, the tutorial's width
    n, C = 300, 10
    ds.append(("logits10", C, (rng.normal(size=(n, C)) * 2).astype(np.float32),
               rng.integers(0, C, n), 0))
    # 5. ignore_index -1 on a quarter of the samples
    n, C = 100, 5
    y = rng.integers(0, C, n)
    y[rng.random(n) < 0.25] = -1
    ds.append(("ignore5", C, rng.normal(size=(n, C)).astype(np.float32), y, 0))
    return ds


def batches(n, rng):
    cuts = np.sort(rng.choice(np.arange(1, n), size=4, replace=False))
    sizes = np.diff(np.concatenate([[0], cuts, [n]]))
    return [int(s) for s in sizes]


def fmt(v):
    return "nan" if np.isnan(v) else repr(float(v))


def main():
    rng = np.random.default_rng(20240612)
    lines = ["# tests/golden/auroc_cases.txt — written by tests/golden/gen_auroc_ref.py; "
             "do not edit"]
    for name, C, scores, y, are_probs in make_datasets(rng):
        n = len(y)
        lines.append(f"dataset {name} {C} {n} {are_probs}")
        for i in range(n):
            lines.append(" ".join([str(int(y[i]))] + [repr(float(s)) for s in scores[i]]))
        ignore = -1 if (y == -1).any() else None
        keep = y != -1 if ignore is not None else np.ones(n, bool)
        p, yk = probs(scores, are_probs)[keep], y[keep]
        if are_probs == 0 and len(np.unique(yk)) == C:
            cross_check(p, yk, C)
        weights = np.bincount(yk, minlength=C).astype(float)
        for metric in ("auroc", "average_precision"):
            for thresholds in (None, 5, 9, 100):
                if thresholds is None:
                    res, w = exact(metric, p, yk, C), weights
                else:
                    res, w = binned(metric, p, yk, C, thresholds)
                for avg in AVERAGES:
                    vals = reduce(res, w, avg)
                    sizes = batches(n, rng)
                    resume = int(rng.integers(1, len(sizes)))
                    lines.append(
                        f"case {name} {metric} {avg} {thresholds} "
                        f"{'none' if ignore is None else ignore} {','.join(map(str, sizes))} "
                        f"{resume} {len(vals)} " + " ".join(fmt(v) for v in vals))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    main()
