#!/usr/bin/env python3
"""tests/golden/gen_metrics.py — writes tests/golden/metrics_cases.txt, the reference values for
the classification metrics in plugins/metrics (read by tests/unit/test_metrics.c).

Run with Debian's python3 (packages python3-sklearn, python3-numpy), from the source root:

    python3 tests/golden/gen_metrics.py            # rewrites tests/golden/metrics_cases.txt

Semantics are torchmetrics' Multiclass* metrics (multidim_average="global"); expected values come
from scikit-learn wherever it has the metric:

  - top_k == 1: accuracy (micro) = accuracy_score; precision / recall / f1 / fbeta =
    *_score(average=..., zero_division=...); macro accuracy / weighted accuracy / per-class
    accuracy = recall_score (torchmetrics' multiclass accuracy is per-class recall);
    specificity = tn / (tn + fp) from multilabel_confusion_matrix; confusion_matrix =
    confusion_matrix(normalize=...).
  - macro: torchmetrics leaves out classes with tp + fp + fn == 0 (in neither targets nor
    predictions). scikit-learn averages over `labels`, so macro passes labels = the classes present
    in preds U targets; micro, weighted and none pass labels = range(num_classes).
  - ignore_index: samples whose target equals it are dropped before anything is counted.
  - top_k > 1: micro accuracy = top_k_accuracy_score. The other top-k values come from a numpy
    mirror of torchmetrics' stat-score reduction (`mirror` below): a sample's top-k classes are
    all "predicted"; the target counts tp if among them, else fn; every other predicted class
    counts fp. Macro then leaves out classes with tp + fn == 0 for accuracy / precision / recall,
    and tp + fp + fn == 0 for f1 / fbeta / specificity (as torchmetrics does). The mirror is
    checked against scikit-learn on every top_k == 1 case before anything is written.

Scores are distinct integers per row (only their order matters for these metrics), so argmax and
top-k have no ties. Fixture format (whitespace-separated):

    D <num_classes> <n>                       a data set; the C lines below use it
    T <n targets>                              (may contain -1 where ignore_index = -1)
    S <n * num_classes scores, row-major>
    C <metric> <average|-> <top_k> <ignore_index|-> <zero_division> <beta|-> <normalize|->
      <n_outputs> <expected values, %.17g>
"""
import os
import sys
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, fbeta_score,
                             multilabel_confusion_matrix, precision_score, recall_score,
                             top_k_accuracy_score)

warnings.simplefilter("ignore", UndefinedMetricWarning)
warnings.simplefilter("ignore", RuntimeWarning)

STAT_METRICS = ["accuracy", "precision", "recall", "f1", "fbeta", "specificity"]
AVERAGES = ["micro", "macro", "weighted", "none"]
NORMALIZE = ["none", "true", "pred", "all"]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_cases.txt")


def safe(num, den, zd):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1), float(zd))


def per_class(metric, tp, fp, fn, tn, zd, beta):
    if metric in ("accuracy", "recall"):
        return safe(tp, tp + fn, zd)
    if metric == "precision":
        return safe(tp, tp + fp, zd)
    if metric in ("f1", "fbeta"):
        b2 = 1.0 if metric == "f1" else beta * beta
        return safe((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp, zd)
    if metric == "specificity":
        return safe(tn, tn + fp, zd)
    raise ValueError(metric)


def mirror(metric, tp, fp, fn, tn, average, zd, beta, top_k):
    """torchmetrics' multiclass reduction from per-class counts (float64)."""
    if average == "micro":
        return np.array([per_class(metric, tp.sum(), fp.sum(), fn.sum(), tn.sum(), zd, beta)])
    score = per_class(metric, tp, fp, fn, tn, zd, beta)
    if average == "none":
        return score
    if average == "weighted":
        w = (tp + fn).astype(np.float64)
    else:
        w = np.ones_like(score)
        if top_k == 1 or metric in ("f1", "fbeta", "specificity"):
            w[(tp + fp + fn) == 0] = 0.0
        else:
            w[(tp + fn) == 0] = 0.0
    return np.array([float(safe((w * score).sum(), w.sum(), 0)[()])])


def counts(y, scores, top_k, C):
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    pred = np.zeros(scores.shape, dtype=bool)
    pred[np.arange(len(y))[:, None], order] = True
    true = np.zeros(scores.shape, dtype=bool)
    true[np.arange(len(y)), y] = True
    tp = (pred & true).sum(0)
    fp = (pred & ~true).sum(0)
    fn = (~pred & true).sum(0)
    tn = (~pred & ~true).sum(0)
    return tp, fp, fn, tn


def sklearn_value(metric, y, p, C, average, zd, beta):
    labels_all = list(range(C))
    if average == "macro":
        labels = sorted(set(y.tolist()) | set(p.tolist()))
    else:
        labels = labels_all
    avg = None if average == "none" else average
    if metric == "specificity":
        mcm = multilabel_confusion_matrix(y, p, labels=labels_all)
        tn, fp, fn, tp = mcm[:, 0, 0], mcm[:, 0, 1], mcm[:, 1, 0], mcm[:, 1, 1]
        return mirror("specificity", tp, fp, fn, tn, average, zd, beta, 1)
    kw = dict(labels=labels, average=avg, zero_division=zd)
    if metric == "accuracy":
        if average == "micro":
            return np.array([accuracy_score(y, p)])
        v = recall_score(y, p, **kw)
    elif metric == "precision":
        v = precision_score(y, p, **kw)
    elif metric == "recall":
        v = recall_score(y, p, **kw)
    elif metric == "f1":
        v = f1_score(y, p, **kw)
    else:
        v = fbeta_score(y, p, beta=beta, **kw)
    return np.atleast_1d(np.asarray(v, dtype=np.float64))


def expected(metric, y, scores, C, average, top_k, zd, beta, normalize):
    if metric == "confusion_matrix":
        p = scores.argmax(1)
        cm = confusion_matrix(y, p, labels=list(range(C)),
                              normalize=None if normalize == "none" else normalize)
        return cm.astype(np.float64).ravel()
    tp, fp, fn, tn = counts(y, scores, top_k, C)
    ours = mirror(metric, tp, fp, fn, tn, average, zd, beta, top_k)
    if top_k > 1:
        if metric == "accuracy" and average == "micro":
            return np.array([top_k_accuracy_score(y, scores, k=top_k, labels=list(range(C)))])
        return ours
    ref = sklearn_value(metric, y, scores.argmax(1), C, average, zd, beta)
    if ref.shape != ours.shape or np.max(np.abs(ref - ours)) > 1e-12:
        sys.exit(f"gen_metrics: mirror disagrees with scikit-learn on {metric} {average}: "
                 f"{ours} vs {ref}")
    return ref


def make_scores(rng, n, C):
    """(n, C) distinct integers per row in [-500, 500]."""
    return np.stack([rng.choice(1001, C, replace=False) - 500 for _ in range(n)]).astype(np.int64)


def promote(scores, rows, cls):
    """Make class cls[i] the argmax of row rows[i] by swapping it with the row's maximum."""
    for r, c in zip(rows, cls):
        m = scores[r].argmax()
        scores[r, m], scores[r, c] = scores[r, c], scores[r, m]


def make_dataset(rng, kind):
    C = int(rng.integers(2, 21))
    n = int(rng.integers(1, 4)) if kind == "tiny" else int(rng.integers(20, 161))
    scores = make_scores(rng, n, C)
    y = rng.integers(0, C, n)
    ignore = None  # (value, always) — always: targets hold a value outside [0, C)
    if kind == "missing":
        keep = rng.choice(C, max(1, C // 2), replace=False)
        y = rng.choice(keep, n)
        other = rng.choice(C, max(1, C // 3), replace=False)
        hit = rng.random(n) < 0.5
        promote(scores, np.nonzero(hit)[0], y[hit])
        miss = np.nonzero(~hit)[0]
        promote(scores, miss, rng.choice(other, len(miss)))
    elif kind == "one_class_target":
        y[:] = rng.integers(0, C)
        hit = rng.random(n) < 0.6
        promote(scores, np.nonzero(hit)[0], y[hit])
    elif kind == "one_class_pred":
        promote(scores, np.arange(n), np.full(n, rng.integers(0, C)))
    elif kind == "perfect":
        promote(scores, np.arange(n), y)
    else:
        hit = rng.random(n) < rng.uniform(0.2, 0.9)
        promote(scores, np.nonzero(hit)[0], y[hit])
    if kind == "ignore_in":
        ignore = (int(rng.integers(0, C)), False)
    elif kind == "ignore_out":
        drop = rng.random(n) < 0.3
        drop[0] = False  # keep at least one sample
        y = np.where(drop, -1, y)
        ignore = (-1, True)
    return C, scores, y, ignore


def fmt(v):
    return "%.17g" % v


def main():
    rng = np.random.default_rng(20240607)
    kinds = ["random", "missing", "one_class_target", "one_class_pred", "perfect",
             "ignore_in", "ignore_out", "tiny"]
    lines = ["# Golden values for plugins/metrics; written by tests/golden/gen_metrics.py "
             "(see its docstring for the format). Do not edit."]
    n_cases = 0
    for d in range(48):
        C, scores, y, ignore = make_dataset(rng, kinds[d % len(kinds)])
        n = len(y)
        lines.append(f"D {C} {n}")
        lines.append("T " + " ".join(str(int(t)) for t in y))
        lines.append("S " + " ".join(str(int(s)) for s in scores.ravel()))
        for metric in STAT_METRICS + ["confusion_matrix"]:
            averages = ["-"] if metric == "confusion_matrix" else AVERAGES
            for average in averages:
                ii = None
                if ignore is not None and (ignore[1] or rng.random() < 0.7):
                    ii = ignore[0]
                keep = y != ii if ii is not None else np.ones(n, dtype=bool)
                if not keep.any():  # every target ignored: not a case scikit-learn can score
                    ii, keep = None, np.ones(n, dtype=bool)
                yk, sk = y[keep], scores[keep].astype(np.float64)
                top_k = 1
                if metric != "confusion_matrix" and C >= 3 and rng.random() < 0.3:
                    top_k = int(rng.integers(2, min(5, C) + 1))
                zd = int(rng.integers(0, 2)) if metric != "confusion_matrix" else 0
                beta = float(rng.choice([0.5, 2.0, 0.25, 3.0])) if metric == "fbeta" else None
                norm = str(rng.choice(NORMALIZE)) if metric == "confusion_matrix" else None
                vals = expected(metric, yk, sk, C, average, top_k, zd, beta, norm)
                lines.append(" ".join([
                    "C", metric, average, str(top_k), "-" if ii is None else str(ii), str(zd),
                    "-" if beta is None else fmt(beta), "-" if norm is None else norm,
                    str(len(vals))] + [fmt(v) for v in vals]))
                n_cases += 1
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"gen_metrics: wrote {n_cases} cases over 48 data sets to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
