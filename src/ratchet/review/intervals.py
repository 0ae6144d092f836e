"""How sure is a metric's change? Paired intervals for two models scored on the same rows.

The gate scores the base model and this change's model on the same held-out rows. Most of
a metric's noise (which rows happen to be held out) is shared by the two models, so the
change is judged on the pair, usually far tighter than two separate intervals:

- `method="bootstrap"` (any metric): each replicate resamples the rows once, as Poisson(1)
  row weights (the Poisson bootstrap: the same large-sample behaviour as drawing n rows
  with replacement, but every row's weight is drawn on its own, so replicates vectorise),
  and evaluates both models on that same resample. The interval is the percentile
  interval of new - base over the replicates. Metrics are weighted sums in a fixed row
  order (`ratchet.review.weighted`): no replicate copies or re-sorts the data, and a
  block of replicates is a few matrix products. Seeded: the same arguments give the same
  interval. `paired_deltas` judges several metrics on one set of replicates.
- `method="delong"` (binary roc_auc, and its default): DeLong, DeLong & Clarke-Pearson
  (1988), the exact variance of the difference of two correlated AUCs computed from each
  row's placement value, with a normal interval. It needs no resampling, so it is
  deterministic, O(n log n), and free of Monte Carlo error; for AUC it is the standard.

Point values are scikit-learn's functions on the full rows, called as
`ratchet.pipeline.metrics` calls them but not rounded. Pure: arrays in, `Delta` out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata
from threadpoolctl import threadpool_limits

from ratchet.core.errors import RatchetError
from ratchet.review import interval_metrics, weighted
from ratchet.review.interval_metrics import Metric

TASKS = ("binary", "multiclass", "regression")
METHODS = ("bootstrap", "delong")
# Weights drawn at a time (rows x replicates): 8 MB a block (float32), so memory stays
# bounded at any size and a block stays warm in cache while every metric reads it.
BLOCK_CELLS = 1 << 21
# Blocks run in parallel, one a core (4 at most: memory stays a few hundred MB).
WORKERS = min(4, getattr(os, "process_cpu_count", os.cpu_count)() or 1)


@dataclass(frozen=True)
class Delta:
    """One metric's change from the base model to the new one, with its interval."""

    metric: str
    base: float
    new: float
    delta: float  # new - base
    low: float
    high: float
    method: str  # "bootstrap" or "delong"
    replicates: int  # bootstrap replicates behind the interval (0 for delong)
    rows: int


def paired_delta(metric: str, *args: Any, **kwargs: Any) -> Delta:
    """The change in `metric` from `base` to `new` predictions on the same rows: one
    metric of `paired_deltas` (same arguments after the metric)."""
    return paired_deltas([metric], *args, **kwargs)[0]


def paired_deltas(
    metrics: Sequence[str],
    task: str,
    y: np.ndarray,
    base: np.ndarray,
    new: np.ndarray,
    *,
    replicates: int = 1000,
    seed: int = 0,
    threshold: float = 0.5,
    confidence: float = 0.95,
    method: str | None = None,
) -> list[Delta]:
    """The change in each metric from `base` to `new` predictions on the same rows.

    `base`/`new`: binary, positive-class probabilities (rows,); multiclass, a probability
    matrix (rows, k) with y in 0..k-1; regression, predicted numbers. `method` None picks
    DeLong for binary roc_auc and the paired bootstrap otherwise. Bootstrapped metrics
    share the same replicates: their intervals come from the same resamples.
    """
    y, base, new = _checked(task, y, base, new)
    _check_settings(replicates, confidence, method)
    classes = base.shape[1] if task == "multiclass" else 2
    table = interval_metrics.for_task(task, classes, threshold)
    chosen = {name: _method(name, task, method) for name in metrics}
    for name in metrics:
        _check_metric(name, task, table, chosen[name], y, classes)
    boot = [name for name in metrics if chosen[name] == "bootstrap"]
    deltas = _bootstrap([table[name] for name in boot], y, base, new, replicates, seed)
    spread = dict(zip(boot, deltas, strict=True))
    return [
        _delong_delta(table[name], y, base, new, confidence)
        if chosen[name] == "delong"
        else _bootstrap_delta(name, table[name], y, base, new, spread[name], confidence)
        for name in metrics
    ]


def _method(metric: str, task: str, method: str | None) -> str:
    if method is not None:
        return method
    return "delong" if (task, metric) == ("binary", "roc_auc") else "bootstrap"


def _bootstrap(
    chosen: list[Metric], y: np.ndarray, base: np.ndarray, new: np.ndarray, n: int, seed: int
) -> np.ndarray:
    """new - base for every metric and replicate: (metrics, replicates)."""
    out = np.empty((len(chosen), n))
    if not chosen:
        return out
    if base.ndim == 1:
        y, base, new = _by_base_score(y, base, new)
    batch = weighted.Batch([m.kernel(y, p) for m in chosen for p in (base, new)])
    block = max(1, min(n, BLOCK_CELLS // y.size))
    starts = range(0, n, block)

    def run(start: int, seeds: np.random.SeedSequence) -> None:
        weights = weighted.poisson_weights(
            np.random.default_rng(seeds), y.size, min(block, n - start)
        )
        with np.errstate(divide="ignore", invalid="ignore"):  # an empty class: NaN, dropped
            values = batch(weights)
        out[:, start : start + weights.shape[1]] = np.subtract(values[1::2], values[0::2])

    # Blocks are independent (own seed each), so they run on every core and the result
    # does not depend on which thread ran which: numpy and scipy release the GIL. BLAS
    # gets one thread a block: its own threads fight ours (20-100x slower, measured).
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(run, starts, np.random.SeedSequence(seed).spawn(len(starts))))
    return out


def _by_base_score(y: np.ndarray, base: np.ndarray, new: np.ndarray):
    """The rows in the base model's score order. The bootstrap does not care about row
    order (every row's weight is drawn on its own), but memory does: ranking the base
    model then reads a block's weights front to back, and ranking the new model, which
    mostly agrees with the base, nearly so: cache hits where random order misses."""
    order = np.argsort(base, kind="stable")
    return y[order], base[order], new[order]


def _bootstrap_delta(name, metric, y, base, new, spread, confidence) -> Delta:
    """Percentile interval over the replicates where the metric is defined (a resample
    can leave a class without weight, which leaves e.g. its AUC undefined)."""
    kept = spread[np.isfinite(spread)]
    if kept.size == 0:
        raise RatchetError(f"{name}: undefined in every bootstrap replicate (too few rows)")
    tail = (1 - confidence) / 2
    low, high = np.quantile(kept, [tail, 1 - tail])
    before, after = float(metric.point(y, base)), float(metric.point(y, new))
    return Delta(name, before, after, after - before, float(low), float(high), "bootstrap",
                 int(kept.size), int(y.size))  # fmt: skip


def placements(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values from midranks (Sun & Xu 2014), ties counting half.

    For each positive: the share of negatives it outranks; for each negative: the share
    of positives that outrank it. Each has mean AUC.
    """
    pos = y == 1
    ranks = rankdata(score)
    m, n = int(pos.sum()), int((~pos).sum())
    positives = (ranks[pos] - rankdata(score[pos])) / n
    negatives = 1.0 - (ranks[~pos] - rankdata(score[~pos])) / m
    return positives, negatives


def delong(y: np.ndarray, base: np.ndarray, new: np.ndarray) -> tuple[float, float, float]:
    """AUC of base, AUC of new, and DeLong's standard error of their difference.

    The variance of a difference of the two correlated AUCs is the variance of the
    placement differences, per class, over that class's size.
    """
    base_pos, base_neg = placements(y, base)
    new_pos, new_neg = placements(y, new)
    d_pos, d_neg = new_pos - base_pos, new_neg - base_neg
    variance = d_pos.var(ddof=1) / d_pos.size + d_neg.var(ddof=1) / d_neg.size
    return float(base_pos.mean()), float(new_pos.mean()), float(np.sqrt(variance))


def _delong_delta(metric: Metric, y, base, new, confidence) -> Delta:
    """A normal interval around scikit-learn's change (DeLong's AUCs equal it to rounding)."""
    se = delong(y, base, new)[2]
    before, after = float(metric.point(y, base)), float(metric.point(y, new))
    half = norm.ppf(1 - (1 - confidence) / 2) * se
    delta = after - before
    low, high = float(max(delta - half, -1.0)), float(min(delta + half, 1.0))
    return Delta("roc_auc", before, after, delta, low, high, "delong", 0, int(y.size))


def _checked(task: str, y, base, new) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three arrays as numpy, or one clear error about their shapes or values."""
    if task not in TASKS:
        raise RatchetError(f"task {task!r}: expected one of {', '.join(TASKS)}")
    y = np.asarray(y)
    base, new = np.asarray(base, dtype=np.float64), np.asarray(new, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise RatchetError(f"y: expected a non-empty 1-D array, got shape {y.shape}")
    dims = 2 if task == "multiclass" else 1
    for name, pred in (("base", base), ("new", new)):
        if pred.ndim != dims or pred.shape[0] != y.size:
            expected = f"({y.size},)" if dims == 1 else f"({y.size}, classes)"
            raise RatchetError(
                f"{name}: predictions of shape {pred.shape}, expected {expected}: "
                f"one per row of y ({task})"
            )
        if not np.isfinite(pred).all():
            raise RatchetError(f"{name}: predictions must be finite (found NaN or infinity)")
    if base.shape != new.shape:
        raise RatchetError(f"base and new: shapes differ ({base.shape} vs {new.shape})")
    return _checked_truth(task, y, base), base, new


def _checked_truth(task: str, y: np.ndarray, base: np.ndarray) -> np.ndarray:
    if task == "regression":
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            raise RatchetError("y: the target must be finite (found NaN or infinity)")
        return y
    k = base.shape[1] if task == "multiclass" else 2
    if not np.isin(y, np.arange(k)).all():
        raise RatchetError(f"y: {task} labels must be class numbers 0..{k - 1}")
    return y.astype(np.int64)


def _check_settings(replicates: int, confidence: float, method: str | None) -> None:
    if method is not None and method not in METHODS:
        raise RatchetError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    if replicates < 1:
        raise RatchetError(f"replicates: must be at least 1, got {replicates}")
    if not 0 < confidence < 1:
        raise RatchetError(f"confidence: must be between 0 and 1, got {confidence}")


def _check_metric(
    name: str, task: str, table: dict[str, Metric], method: str, y: np.ndarray, classes: int
) -> None:
    if name not in table:
        raise RatchetError(f"metric {name!r}: unknown for {task}; known: {', '.join(table)}")
    if method == "delong" and (task, name) != ("binary", "roc_auc"):
        raise RatchetError(f"metric {name!r}: DeLong applies only to binary roc_auc")
    if table[name].ranks:
        _check_classes(name, y, classes, method == "delong")
    if name == "mape" and np.any(y == 0):
        raise RatchetError("metric 'mape': undefined where the target is 0 (y has zeros)")


def _check_classes(name: str, y: np.ndarray, k: int, pairs: bool) -> None:
    """A ranking metric compares classes: each must have rows (two, for DeLong's variance)."""
    counts = np.bincount(y, minlength=k)
    least = 2 if pairs else 1
    if counts.min() < least:
        missing = int(np.argmin(counts))
        raise RatchetError(
            f"metric {name!r}: needs at least {least} row(s) of every class in y; "
            f"class {missing} has {counts[missing]}"
        )
