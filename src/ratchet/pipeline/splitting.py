"""Seeded train/test row positions, the same ones scikit-learn's `train_test_split` picks.

The featurize stage needs nothing else from scikit-learn, and importing
`sklearn.model_selection` costs about 1.5 s of CPU per run (it loads scipy.stats and most
of scikit-learn). These few lines of NumPy reproduce `ShuffleSplit` and
`StratifiedShuffleSplit` (scikit-learn 1.x) draw for draw: same seed, same rows, so the
split, the model and every metric are unchanged. tests/test_splitting.py holds them to
scikit-learn's own function on many sizes, shares, seeds and class balances.
"""

from __future__ import annotations

import math

import numpy as np


class SplitError(ValueError):
    """The sizes cannot be split as asked (the message says why)."""


def sizes(n_rows: int, share: float) -> tuple[int, int]:
    """(train rows, held-out rows): the held-out share rounded up, as scikit-learn does."""
    n_test = math.ceil(share * n_rows)
    n_train = n_rows - n_test
    if n_train <= 0 or n_test <= 0:
        raise SplitError(f"leaves {max(n_train, 0)} train and {max(n_test, 0)} held-out rows")
    return n_train, n_test


def shuffled(n_rows: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, held-out positions) of a plain seeded shuffle (`ShuffleSplit`)."""
    n_train, n_test = sizes(n_rows, share)
    permutation = np.random.RandomState(seed).permutation(n_rows)
    return permutation[n_test : n_test + n_train], permutation[:n_test]


def stratified(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, held-out positions) keeping each class's share in both parts
    (`StratifiedShuffleSplit`, one split)."""
    n_train, n_test = sizes(len(labels), share)
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise SplitError("a class has a single row")
    if n_train < len(counts) or n_test < len(counts):
        raise SplitError(f"{n_train} train and {n_test} held-out rows for {len(counts)} classes")
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i, rows in enumerate(by_class):
        drawn = rows.take(rng.permutation(counts[i]), mode="clip")
        train.extend(drawn[: n_i[i]])
        test.extend(drawn[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Rows to take from each class: the floored proportional share, the remaining rows to
    the largest remainders, ties broken by `rng` (scikit-learn's `_approximate_mode`)."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            take = min(len(tied), need)
            floored[rng.choice(tied, size=take, replace=False)] += 1
            need -= take
            if need == 0:
                break
    return floored.astype(int)
