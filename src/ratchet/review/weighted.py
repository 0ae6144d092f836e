"""Metrics as weighted sums over rows, evaluated for a block of bootstrap replicates at once.

A bootstrap replicate is a column of row weights: how often the resample drew each row.
Every metric here is built once from the truth and one model's predictions (a `Kernel`)
and then maps a weight matrix of shape (rows, replicates) to one value per replicate.
Drawing a resample therefore never copies or re-sorts the data: ranking metrics sort the
scores once, and each replicate only sums its weights in that fixed order. With all
weights 1 a kernel gives the metric on the full rows; with any weights it gives what
scikit-learn gives with that `sample_weight` (the tests hold it to that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.stats import poisson

Kernel = Callable[[np.ndarray], np.ndarray]
"""Weights (rows, replicates) -> one metric value per replicate."""

# Poisson(1) weights from 16 random bits: weight k owns round(p_k * 2**16) of the 2**16
# values a draw can take (largest remainders round up). Each probability is within 2**-16
# of Poisson's, far below the bootstrap's own Monte Carlo error, and a weight costs 2
# random bytes and a look-up in a 64 KB table. float32 holds the whole numbers exactly
# and halves the memory every kernel reads.
_CELLS = 1 << 16


def _cell_weights() -> np.ndarray:
    exact = poisson.pmf(np.arange(16), 1.0) * _CELLS
    owned = np.floor(exact).astype(np.int64)
    owned[np.argsort(owned - exact, kind="stable")[: _CELLS - owned.sum()]] += 1
    return np.repeat(np.arange(owned.size, dtype=np.uint8), owned)


_CELL_WEIGHT = _cell_weights()


def poisson_weights(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """Poisson(1) weights for `n` replicates: a (rows, n) float32 matrix, a column each."""
    # Raw 64-bit words cut in four: half the time of integers(..., dtype=uint16).
    words = rng.bit_generator.random_raw(-(-rows * n // 4))
    cells = words.view(np.uint16)[: rows * n].reshape(rows, n)
    return np.take(_CELL_WEIGHT, cells).astype(np.float32)


def exact(weights: np.ndarray) -> np.ndarray:
    """Weights whose running sums stay exact: float32 counts whole numbers exactly up to
    2**24, so past 2**23 rows (a sum near 2**24 becomes likely) use float64."""
    return weights if weights.shape[0] < 1 << 23 else weights.astype(np.float64)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass(frozen=True)
class Sums:
    """A metric that is a function of weighted column sums (means, counts, ratios).

    `columns` is (m, rows); `combine` turns the (m, replicates) sums into values.
    """

    columns: np.ndarray
    combine: Callable[[np.ndarray], np.ndarray]

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        return self.combine(self.columns @ weights.astype(np.float64))


def sums(columns: np.ndarray, combine: Callable[[np.ndarray], np.ndarray]) -> Sums:
    """`Sums` of per-row columns given as (rows, m)."""
    return Sums(np.ascontiguousarray(np.asarray(columns, dtype=np.float64).T), combine)


class Batch:
    """Several kernels on the same weights, every `Sums` kernel in one matrix product, so
    a block of weights is read once for all of them (log loss and Brier, base and new).
    The columns are kept only stacked, and a column of ones (a mean's denominator, the
    total weight) only once: at a million rows each column is 8 MB read every block."""

    def __init__(self, kernels: list[Kernel]) -> None:
        self.others = [(i, k) for i, k in enumerate(kernels) if not isinstance(k, Sums)]
        self.size = len(kernels)
        stacked: list[np.ndarray] = []
        ones: int | None = None
        self.combines = []
        for i, kernel in enumerate(kernels):
            if not isinstance(kernel, Sums):
                continue
            picks = []
            for column in kernel.columns:
                if ones is not None and np.all(column == 1.0):
                    picks.append(ones)
                    continue
                if np.all(column == 1.0):
                    ones = len(stacked)
                picks.append(len(stacked))
                stacked.append(column)
            self.combines.append((i, np.array(picks), kernel.combine))
        self.stacked = np.vstack(stacked) if stacked else None

    def __call__(self, weights: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = [np.empty(0)] * self.size
        if self.stacked is not None:
            summed = self.stacked @ weights.astype(np.float64)
            for i, picks, combine in self.combines:
                out[i] = combine(summed[picks])
        for i, kernel in self.others:
            out[i] = kernel(weights)
        return out


def mean(values: np.ndarray) -> Sums:
    """The weighted mean of per-row values (log loss, Brier score, accuracy, MAE)."""
    return sums(np.column_stack([values, np.ones_like(values)]), lambda s: s[0] / s[1])


@dataclass(frozen=True)
class Ranking:
    """Rows ranked by score, highest first, cut at every score a positive row has.

    For the M distinct scores held by at least one positive row (highest first), one
    sparse product gives, per replicate: P (M) positive weight at each such score;
    B (M + 1) negative weight strictly between consecutive ones (B[0] above the highest,
    B[M] below the lowest); T (M) negative weight tied with each.
    """

    aggregate: sparse.csr_matrix
    groups: int

    def parts(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.groups
        summed = (self.aggregate @ exact(weights)).astype(np.float64)
        return summed[:m], summed[m : 2 * m + 1], summed[2 * m + 1 :]


def ranking(positive: np.ndarray, score: np.ndarray) -> Ranking:
    """Sort once; assign every row to the P, B or T sum it feeds (see `Ranking`)."""
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    group = np.concatenate([[0], np.cumsum(ranked[1:] != ranked[:-1])])
    is_pos = positive[order]
    pos_groups = np.unique(group[is_pos])
    m = pos_groups.size
    slot = np.searchsorted(pos_groups, group)  # positive groups above or at this row
    tied = (slot < m) & (pos_groups[np.minimum(slot, m - 1)] == group)
    target = np.where(is_pos, slot, np.where(tied, 2 * m + 1 + slot, m + slot))
    data = np.ones(score.size, dtype=np.float32)  # float32 weights sum exactly (whole numbers)
    aggregate = sparse.csr_matrix((data, (target, order)), shape=(3 * m + 1, score.size))
    return Ranking(aggregate, m)


def _above_each(ranks: Ranking, weights: np.ndarray):
    """P, T and the negative weight at or above each positive score (false positives)."""
    p, b, t = ranks.parts(weights)
    at_or_above = np.cumsum(b[:-1] + t, axis=0)
    return p, t, at_or_above, b.sum(axis=0) + t.sum(axis=0)


def roc_auc(y: np.ndarray, score: np.ndarray) -> Kernel:
    """ROC AUC: the weighted share of (positive, negative) pairs ranked right, ties half.

    AUC(y, s) = AUC(1 - y, -s), so the rarer class plays the positive: the running sums
    then run over its scores only.
    """
    positive = np.asarray(y) == 1
    if positive.sum() > (~positive).sum():
        positive, score = ~positive, -np.asarray(score, dtype=np.float64)
    ranks = ranking(positive, np.asarray(score, dtype=np.float64))

    def kernel(weights: np.ndarray) -> np.ndarray:
        p, t, above, negatives = _above_each(ranks, weights)
        wrong = np.einsum("ij,ij->j", p, above - 0.5 * t)
        return 1.0 - wrong / (p.sum(axis=0) * negatives)

    return kernel


def average_precision(y: np.ndarray, score: np.ndarray) -> Kernel:
    """Average precision as scikit-learn defines it: sum over thresholds of
    (recall step) x precision, one threshold per distinct score."""
    ranks = ranking(np.asarray(y) == 1, np.asarray(score, dtype=np.float64))

    def kernel(weights: np.ndarray) -> np.ndarray:
        p, _, above, _ = _above_each(ranks, weights)
        true_pos = np.cumsum(p, axis=0)
        precision = ratio(true_pos, true_pos + above)
        return np.einsum("ij,ij->j", p, precision) / p.sum(axis=0)

    return kernel


def median(values: np.ndarray) -> Kernel:
    """The weighted median (scikit-learn's averaged inverted CDF at 50 %).

    With whole-number weights it is the median of the resample: the two middle values
    averaged when the total weight is even and the middle falls between them.
    """
    order = np.argsort(values, kind="stable")
    ranked = np.asarray(values, dtype=np.float64)[order]

    def kernel(weights: np.ndarray) -> np.ndarray:
        running = np.cumsum(exact(weights)[order], axis=0)
        half = running[-1] / 2.0
        low = (running < half).sum(axis=0)
        high = (running <= half).sum(axis=0)
        top = ranked.size - 1
        return 0.5 * (ranked[np.minimum(low, top)] + ranked[np.minimum(high, top)])

    return kernel
