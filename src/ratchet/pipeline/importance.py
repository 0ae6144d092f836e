"""Permutation importance of a fitted Pipeline, at a cost bounded by params, not by the data.

How much the task's score (ROC AUC, log loss, RMSE) worsens when one feature's values are
shuffled among the held-out rows. Two things keep it cheap:

- at most `evaluate.importance_rows` rows (a seeded sample): the score is predicted
  (features x repeats + 1) times, so the cost is bounded whatever the test split's size;
- the rows go through the preprocessing once. Ratchet's preprocessing works column by
  column (ordinal or one-hot codes, imputing, scaling), so shuffling a raw column is
  shuffling the encoded columns it becomes: the model's own step then scores encoded
  arrays, without the column transformer and pandas on each of those predictions.

The shuffles, seeds and scorers are scikit-learn's `permutation_importance`, draw for
draw, so the numbers are the ones it gives (tests/test_importance.py compares them). A
preprocessing this module cannot map column by column falls back to that function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

# Transformers whose every output column depends on one input column.
_COLUMNWISE = (OrdinalEncoder, SimpleImputer, StandardScaler)


def sample_positions(n_rows: int, rows: int, seed: int) -> np.ndarray | None:
    """Positions of at most `rows` of `n_rows` rows (seeded, in table order); None = all."""
    if n_rows <= rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, rows, replace=False))


def encoded_blocks(pre: object, columns: list[str]) -> list[np.ndarray] | None:
    """Per input column, the columns of `pre.transform`'s output that encode it alone;
    None when the preprocessing is not a column-by-column ColumnTransformer."""
    if not isinstance(pre, ColumnTransformer):
        return None
    blocks: dict[str, np.ndarray] = {}
    for name, transformer, names in pre.transformers_:
        if transformer == "drop" or not len(names):
            continue
        out = pre.output_indices_[name]
        widths = _widths(transformer, list(names))
        if widths is None or sum(widths) != out.stop - out.start:
            return None
        ends = out.start + np.cumsum(widths)
        for column, end, width in zip(names, ends, widths, strict=True):
            blocks[column] = np.arange(end - width, end)
    if sorted(blocks) != sorted(columns):
        return None
    return [blocks[c] for c in columns]


def _widths(transformer: object, names: list[str]) -> list[int] | None:
    if transformer == "passthrough" or isinstance(transformer, _COLUMNWISE):
        return [1] * len(names)
    # A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer.
    if isinstance(transformer, FunctionTransformer) and transformer.func is None:
        return [1] * len(names)
    if isinstance(transformer, Pipeline):
        steps = [_widths(step, names) for _, step in transformer.steps]
        return steps[-1] if all(s == [1] * len(names) for s in steps) else None
    if (
        isinstance(transformer, OneHotEncoder)
        and transformer.drop is None
        and getattr(transformer, "_infrequent_enabled", False) is False
    ):
        return [len(categories) for categories in transformer.categories_]
    return None


def permutation_means(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    scoring: str,
    repeats: int,
    seed: int,
    encoded: np.ndarray | None = None,
) -> np.ndarray:
    """Mean score drop per column of X over `repeats` shuffles (scikit-learn's
    `permutation_importance(...).importances_mean`). `encoded`: X already transformed by
    the pipeline's preprocessing, when the caller has it."""
    blocks = encoded_blocks(pipeline[:-1][0], list(X.columns)) if len(pipeline) == 2 else None
    if blocks is None:
        from sklearn.inspection import permutation_importance

        return permutation_importance(
            pipeline, X, y, scoring=scoring, n_repeats=repeats, random_state=seed, n_jobs=1
        ).importances_mean
    estimator, scorer = pipeline[-1], get_scorer(scoring)
    X_encoded = pipeline[:-1].transform(X) if encoded is None else encoded
    X_encoded = np.array(X_encoded, dtype="float64")  # our own copy: shuffled in place
    # permutation_importance draws one seed, then replays it for every column.
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    baseline = scorer(estimator, X_encoded, y)
    means = np.empty(len(blocks))
    for j, block in enumerate(blocks):
        original = X_encoded[:, block].copy()
        rng = np.random.RandomState(column_seed)
        order = np.arange(len(X_encoded))
        drops = []
        for _ in range(repeats):
            rng.shuffle(order)
            # As scikit-learn does: each repeat shuffles the already shuffled column.
            X_encoded[:, block] = X_encoded[np.ix_(order, block)]
            drops.append(baseline - scorer(estimator, X_encoded, y))
        X_encoded[:, block] = original
        means[j] = np.mean(drops)
    return means
