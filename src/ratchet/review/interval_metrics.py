"""The metrics `ratchet.review.intervals` can put an interval on, per task.

Each has its value on the full rows (scikit-learn's function, called as
`ratchet.pipeline.metrics` calls it, not rounded) and a kernel that gives its value for
every bootstrap replicate at once (`ratchet.review.weighted`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from ratchet.review import weighted
from ratchet.review.weighted import Kernel


@dataclass(frozen=True)
class Metric:
    """A metric's full-rows value (scikit-learn) and its replicate kernel."""

    point: Callable[[np.ndarray, np.ndarray], float]
    kernel: Callable[[np.ndarray, np.ndarray], Kernel]
    ranks: bool = False  # needs both classes (every class, for multiclass) in y


def _clipped(p: np.ndarray) -> np.ndarray:
    """scikit-learn's log_loss clips probabilities to [eps, 1 - eps] before the log."""
    eps = np.finfo(np.float64).eps
    return np.clip(p, eps, 1 - eps)


def _binary_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return -np.log(np.where(y == 1, _clipped(p), _clipped(1 - p)))


def _counts(y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-row true positive, predicted positive and actual positive indicators."""
    return np.column_stack([(predicted == 1) & (y == 1), predicted == 1, y == 1])


def binary_metrics(threshold: float) -> dict[str, Metric]:
    """Binary metrics of positive-class probabilities; labels are proba >= threshold."""

    def label(p: np.ndarray) -> np.ndarray:
        return (p >= threshold).astype(int)

    def thresholded(score, combine) -> Metric:
        return Metric(
            lambda y, p: score(y, label(p), zero_division=0),
            lambda y, p: weighted.sums(_counts(y, label(p)), combine),
        )

    return {
        "roc_auc": Metric(skm.roc_auc_score, weighted.roc_auc, ranks=True),
        "pr_auc": Metric(skm.average_precision_score, weighted.average_precision, ranks=True),
        "log_loss": Metric(
            lambda y, p: skm.log_loss(y, p, labels=[0, 1]),
            lambda y, p: weighted.mean(_binary_log_loss(y, p)),
        ),
        "brier": Metric(skm.brier_score_loss, lambda y, p: weighted.mean((p - y) ** 2)),
        "f1": thresholded(skm.f1_score, lambda s: weighted.ratio(2 * s[0], s[1] + s[2])),
        "precision": thresholded(skm.precision_score, lambda s: weighted.ratio(s[0], s[1])),
        "recall": thresholded(skm.recall_score, lambda s: weighted.ratio(s[0], s[2])),
        "accuracy": Metric(
            lambda y, p: skm.accuracy_score(y, label(p)),
            lambda y, p: weighted.mean((label(p) == y).astype(float)),
        ),
    }


def _class_counts(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-row, per-class indicators: [true positive (k), predicted (k), actual (k)]."""
    classes = np.arange(proba.shape[1])
    predicted = proba.argmax(axis=1)[:, None] == classes
    actual = y[:, None] == classes
    return np.hstack([predicted & actual, predicted, actual])


def _per_class(k: int, combine) -> Callable[[np.ndarray, np.ndarray], Kernel]:
    def kernel(y: np.ndarray, proba: np.ndarray) -> Kernel:
        return weighted.sums(
            _class_counts(y, proba), lambda s: combine(s[:k], s[k : 2 * k], s[2 * k :])
        )

    return kernel


def _balanced_accuracy(hit, _, actual):
    """Mean recall over the classes that have rows (scikit-learn drops the others)."""
    present = actual > 0
    return (weighted.ratio(hit, actual) * present).sum(axis=0) / present.sum(axis=0)


def _f1(hit, predicted, actual):
    return weighted.ratio(2 * hit, predicted + actual)


def _weighted_f1(hit, predicted, actual):
    return (_f1(hit, predicted, actual) * actual).sum(axis=0) / actual.sum(axis=0)


def _ovr_auc(y: np.ndarray, proba: np.ndarray) -> Kernel:
    """Macro one-vs-rest ROC AUC: the mean of each class's AUC against the rest."""
    kernels = [weighted.roc_auc((y == c).astype(int), proba[:, c]) for c in range(proba.shape[1])]
    return lambda w: np.mean([kernel(w) for kernel in kernels], axis=0)


def multiclass_metrics(k: int) -> dict[str, Metric]:
    """Multiclass metrics of a (rows, k) probability matrix; y holds class numbers 0..k-1."""
    labels = list(range(k))

    def f1(average: str):
        return lambda y, p: skm.f1_score(
            y, p.argmax(axis=1), average=average, labels=labels, zero_division=0
        )

    return {
        "accuracy": Metric(
            lambda y, p: skm.accuracy_score(y, p.argmax(axis=1)),
            lambda y, p: weighted.mean((p.argmax(axis=1) == y).astype(float)),
        ),
        "balanced_accuracy": Metric(
            lambda y, p: skm.balanced_accuracy_score(y, p.argmax(axis=1)),
            _per_class(k, _balanced_accuracy),
        ),
        "macro_f1": Metric(f1("macro"), _per_class(k, lambda *s: _f1(*s).mean(axis=0))),
        "weighted_f1": Metric(f1("weighted"), _per_class(k, _weighted_f1)),
        "log_loss": Metric(
            lambda y, p: skm.log_loss(y, p, labels=labels),
            lambda y, p: weighted.mean(-np.log(_clipped(p[np.arange(y.size), y]))),
        ),
        "roc_auc_ovr": Metric(
            lambda y, p: skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels),
            _ovr_auc,
            ranks=True,
        ),
    }


def _r2(y: np.ndarray, predicted: np.ndarray) -> Kernel:
    """1 - SSE / SST, SST from sums of y centred on its mean (no cancellation); 1 or 0
    when the weighted target is constant, as scikit-learn's force_finite gives."""
    centred = y - y.mean()
    columns = np.column_stack([(y - predicted) ** 2, centred, centred**2, np.ones_like(y)])

    def combine(s: np.ndarray) -> np.ndarray:
        total = s[2] - s[1] ** 2 / s[3]
        constant = np.where(s[0] == 0, 1.0, 0.0)
        return np.where(total > 0, 1 - weighted.ratio(s[0], total), constant)

    return weighted.sums(columns, combine)


def regression_metrics() -> dict[str, Metric]:
    """Regression metrics of predicted numbers."""
    eps = np.finfo(np.float64).eps
    return {
        "rmse": Metric(
            skm.root_mean_squared_error,
            lambda y, p: _then(weighted.mean((y - p) ** 2), np.sqrt),
        ),
        "mae": Metric(skm.mean_absolute_error, lambda y, p: weighted.mean(np.abs(y - p))),
        "r2": Metric(skm.r2_score, _r2),
        "median_ae": Metric(skm.median_absolute_error, lambda y, p: weighted.median(np.abs(y - p))),
        "mape": Metric(
            skm.mean_absolute_percentage_error,
            lambda y, p: weighted.mean(np.abs(y - p) / np.maximum(np.abs(y), eps)),
        ),
    }


def _then(kernel: Kernel, f: Callable[[np.ndarray], np.ndarray]) -> Kernel:
    return lambda w: f(kernel(w))


def for_task(task: str, classes: int, threshold: float) -> dict[str, Metric]:
    """The metrics of one task (binary, multiclass with `classes` classes, regression)."""
    if task == "binary":
        return binary_metrics(threshold)
    if task == "multiclass":
        return multiclass_metrics(classes)
    return regression_metrics()
