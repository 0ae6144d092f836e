"""A fast inference form of a fitted gradient-boosting pipeline, derived at load time.

scikit-learn spends most of a small prediction on per-call work: the ColumnTransformer
validates and copies a pandas table, HistGradientBoosting re-encodes its categories
through a second ColumnTransformer, and each of the 200 trees is one OpenMP call. The
trees themselves are a few microseconds of work for one row. `compile` reads the fitted
pipeline once and keeps what prediction needs as arrays:

- the preprocessing as one lookup table per categorical column (the feature table's
  category code -> the code the trees split on, through both fitted ordinal encoders,
  NaN for missing or unseen) and the numeric columns copied as they are, in the trees'
  column order;
- the trees, walked either all at once with numpy (every tree and row one level per
  step: best for a few rows) or with scikit-learn's own `TreePredictor`, one call per
  tree over all rows, as scikit-learn makes it (best for many);
- the sums in scikit-learn's order (0, + baseline, + tree 1, + tree 2, ...), passed
  through the estimator's own loss and link functions.

Outputs are therefore bit-equal to the pipeline's (tests/test_compiled.py checks it per
task on thousands of rows). Nothing is stored: the model file stays the one skops
artifact, and this form is rebuilt from it whenever it is loaded. A pipeline of another
shape (a linear model, another transformer) is not compiled: `compile` returns None with
the reason (`why_not`), and callers use the pipeline itself. A feature table the
compiled form was not built for (a column of another dtype) falls back the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from ratchet.core.errors import RatchetError

# Up to this many rows the numpy walk of all trees at once beats one TreePredictor call
# per tree (benchmarks/serve.py measures both: ~0.2 ms vs ~0.9-1.2 ms for one row; at 64
# rows numpy is already slower).
NUMPY_MAX_ROWS = 16
# RATCHET_PREDICT=pipeline forces scikit-learn's own path (benchmarks' "before" figures).
ENV_VAR = "RATCHET_PREDICT"


@dataclass(frozen=True)
class _Column:
    name: str
    codes: dict | None  # categorical: category -> the code the trees split on; None: numeric


class Compiled:
    """Arrays of one fitted HistGradientBoosting pipeline; `raw`, `predict_proba`, `predict`."""

    def __init__(self, pipeline: Pipeline, columns: list[_Column]) -> None:
        est = pipeline[-1]
        self.estimator = est
        self.columns = columns
        self._lookups: dict[tuple, np.ndarray] = {}
        self.baseline = np.asarray(est._baseline_prediction, dtype="float64").ravel()
        self.k = est.n_trees_per_iteration_
        self.predictors = est._predictors
        self.known_bitsets, self.f_idx_map = est._bin_mapper.make_known_categories_bitsets()
        self._flatten([t for iteration in est._predictors for t in iteration])

    def _flatten(self, trees: list) -> None:
        """All trees' nodes in one set of arrays, children and bitset rows offset per tree."""
        for number, tree in enumerate(trees, 1):
            _check_tree(tree, number, len(self.columns))
        offsets = np.cumsum([0] + [len(t.nodes) for t in trees])[:-1]
        bit_offsets = np.cumsum([0] + [len(t.raw_left_cat_bitsets) for t in trees])[:-1]
        nodes = np.concatenate([t.nodes for t in trees])
        per_node = np.repeat(offsets, [len(t.nodes) for t in trees])
        self.roots = offsets.astype(np.intp)
        self.leaf = nodes["is_leaf"].astype(bool)
        self.value = nodes["value"].astype("float64")
        self.feature = nodes["feature_idx"].astype(np.intp)
        self.threshold = nodes["num_threshold"].astype("float64")
        self.missing_left = nodes["missing_go_to_left"].astype(bool)
        self.left = (nodes["left"] + per_node).astype(np.intp)
        self.right = (nodes["right"] + per_node).astype(np.intp)
        self.categorical = nodes["is_categorical"].astype(bool)
        # Row of a categorical split's left set; numerical nodes point at an empty set.
        bitset = nodes["bitset_idx"] + np.repeat(bit_offsets, [len(t.nodes) for t in trees])
        self.bitset = np.where(self.categorical, bitset + 1, 0).astype(np.intp)
        self.left_bitsets = np.concatenate(
            [np.zeros((1, 8), dtype=np.uint32), *(t.raw_left_cat_bitsets for t in trees)]
        )
        self.any_categorical = bool(self.categorical.any())
        self.depth = max(int(t.nodes["depth"].max()) for t in trees)
        # Trees of class k, in iteration order: column k of the raw predictions sums these.
        self.of_class = [np.arange(k, len(trees), self.k) for k in range(self.k)]

    # --- preprocessing ------------------------------------------------------------------

    def matrix(self, feats: pd.DataFrame) -> np.ndarray | None:
        """The trees' input (rows x features, float64), or None for a table this form was
        not built for (the caller then uses the pipeline, which knows what to do)."""
        X = np.empty((len(feats), len(self.columns)), dtype="float64")
        for j, col in enumerate(self.columns):
            if col.name not in feats.columns:
                return None
            values = feats[col.name]
            if col.codes is None:
                if values.dtype != "float64":
                    return None
                X[:, j] = values.to_numpy()
            else:
                if not isinstance(values.dtype, pd.CategoricalDtype):
                    return None
                X[:, j] = self._lookup(col, values.dtype)[values.cat.codes.to_numpy() + 1]
        return X

    def _lookup(self, col: _Column, dtype: pd.CategoricalDtype) -> np.ndarray:
        """Table code + 1 -> tree code (index 0: a missing value, code -1), NaN for a
        category the model never saw: built once per column and set of categories."""
        key = (col.name, tuple(dtype.categories))
        lookup = self._lookups.get(key)
        if lookup is None:
            codes = [col.codes.get(v, np.nan) for v in key[1]]
            lookup = self._lookups[key] = np.array([np.nan, *codes], dtype="float64")
        return lookup

    # --- trees --------------------------------------------------------------------------

    def raw(self, X: np.ndarray, n_threads: int | None = None) -> np.ndarray:
        """Raw predictions (rows x trees per iteration), summed as scikit-learn sums them."""
        if len(X) <= NUMPY_MAX_ROWS:
            return self._raw_numpy(X)
        return self._raw_trees(X, n_threads)

    def _raw_numpy(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self.depth):
            feature = self.feature[node]
            x = X[rows, feature]
            missing = np.isnan(x)
            with np.errstate(invalid="ignore"):
                go_left = x <= self.threshold[node]
            if self.any_categorical:
                go_left = np.where(
                    self.categorical[node], self._categorical_left(node, feature, x), go_left
                )
            go_left = np.where(missing, self.missing_left[node], go_left)
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(self.leaf[node], node, step)
        values = self.value[node]
        out = np.empty((n, self.k), dtype="float64")
        for k, trees in enumerate(self.of_class):
            # Left to right, as raw_predictions[:, k] += tree(X) is: cumsum is sequential.
            terms = np.concatenate(
                [np.zeros((n, 1)), np.full((n, 1), self.baseline[k]), values[:, trees]], axis=1
            )
            out[:, k] = np.cumsum(terms, axis=1)[:, -1]
        return out

    def _categorical_left(self, node: np.ndarray, feature: np.ndarray, x: np.ndarray):
        """Where a categorical split sends x, as scikit-learn's _predict_one_from_raw_data:
        a category in the split's left set goes left, any other known one right, and a
        negative or unknown one the way missing values go."""
        usable = self.categorical[node] & (x >= 0)  # False for NaN
        code = np.where(usable, x, 0).astype(np.intp)  # codes < 256 (max_bins): exact
        word, bit = code >> 5, (code & 31).astype(np.uint32)
        in_left = (self.left_bitsets[self.bitset[node], word] >> bit) & 1
        known = (self.known_bitsets[self.f_idx_map[feature], word] >> bit) & 1
        missing_way = self.missing_left[node]
        return np.where(usable, np.where(in_left == 1, True, np.where(known == 1, False,
                        missing_way)), missing_way)  # fmt: skip

    def _raw_trees(self, X: np.ndarray, n_threads: int | None) -> np.ndarray:
        # One OpenMP region per tree over all rows, as scikit-learn: with passive OpenMP
        # waiting (`ratchet` sets it) every region wakes the team, and on a busy machine
        # splitting the rows into blocks made 1M-row scoring 4x slower.
        threads = _openmp_effective_n_threads(n_threads)
        out = np.zeros((len(X), self.k), dtype="float64", order="F")
        out += self.baseline
        for iteration in self.predictors:
            for k, tree in enumerate(iteration):
                out[:, k] += tree.predict(X, self.known_bitsets, self.f_idx_map, threads)
        return out

    # --- outputs ------------------------------------------------------------------------

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.estimator._loss.predict_proba(self.raw(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.estimator._loss.link.inverse(self.raw(X).ravel())


def _check_tree(tree, number: int, features: int) -> None:
    """Refuse a tree whose nodes point outside it. scikit-learn's tree walk reads node,
    feature and category-set indices without bounds checks, and skops can only check a
    loaded object's type: a crafted model file could make prediction read out of bounds
    or loop for ever. Fitted trees list every child after its parent."""
    nodes = tree.nodes
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    bad = (
        (nodes["left"][inner] <= inner) | (nodes["left"][inner] >= len(nodes))
        | (nodes["right"][inner] <= inner) | (nodes["right"][inner] >= len(nodes))
        | (nodes["feature_idx"][inner] < 0) | (nodes["feature_idx"][inner] >= features)
        | ((nodes["is_categorical"][inner] != 0)
           & (nodes["bitset_idx"][inner] >= len(tree.raw_left_cat_bitsets)))
    )  # fmt: skip
    if len(nodes) == 0 or bad.any():
        where = f"node {int(inner[np.argmax(bad)])}" if bad.any() else "no nodes"
        raise RatchetError(
            f"the model's tree {number} is malformed ({where} points outside the tree): "
            "refusing to predict with it; retrain, or check where the model file came from"
        )


def why_not(pipeline: Pipeline) -> str | None:
    """Why `pipeline` has no compiled form; None when it has one."""
    if os.environ.get(ENV_VAR) == "pipeline":
        return f"{ENV_VAR}=pipeline"
    if not isinstance(pipeline, Pipeline) or len(pipeline) != 2:
        return "not a two-step pipeline (preprocessing, estimator)"
    pre, est = pipeline[0], pipeline[-1]
    if not isinstance(est, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        return f"estimator {type(est).__name__} (only HistGradientBoosting is compiled)"
    if not isinstance(pre, ColumnTransformer) or not hasattr(pre, "transformers_"):
        return f"preprocessing {type(pre).__name__} (only a fitted ColumnTransformer)"
    for name, step, columns in pre.transformers_:
        if name == "remainder":
            if step != "drop" and len(columns):
                return "a ColumnTransformer remainder that is kept"
        elif not (_is_ordinal(step) or _is_passthrough(step)):
            return f"transformer {name!r} ({type(step).__name__})"
    if est._preprocessor is not None:
        inner = dict((n, s) for n, s, _ in est._preprocessor.transformers_)
        if not _is_ordinal(inner.get("encoder")):
            return "HistGradientBoosting's categorical encoder is not an OrdinalEncoder"
    return None


def _is_ordinal(step) -> bool:
    return (
        isinstance(step, OrdinalEncoder)
        and step.handle_unknown == "use_encoded_value"
        and np.isnan(step.unknown_value)
        and np.isnan(step.encoded_missing_value)
    )


def _is_passthrough(step) -> bool:
    # A fitted ColumnTransformer stores "passthrough" as a FunctionTransformer without func.
    return step == "passthrough" or (isinstance(step, FunctionTransformer) and step.func is None)


def compile(pipeline: Pipeline) -> Compiled | None:
    """The compiled form of `pipeline`, or None (see `why_not`)."""
    if why_not(pipeline) is not None:
        return None
    pre, est = pipeline[0], pipeline[-1]
    outer: list[_Column] = []  # the ColumnTransformer's output columns, in order
    for name, step, columns in pre.transformers_:
        if name == "remainder":
            continue
        for i, column in enumerate(columns):
            if not isinstance(column, str):
                return None
            codes = _codes(step.categories_[i]) if _is_ordinal(step) else None
            outer.append(_Column(column, codes))
    if est._preprocessor is None:
        if any(col.codes is not None for col in outer):
            return None  # codes the trees would read as numbers: not our pipeline's shape
        return Compiled(pipeline, outer)
    # HistGradientBoosting encodes its categorical columns again (codes of codes) and puts
    # them first: compose both encodings into one mapping per column, in the trees' order.
    inner = est._preprocessor.named_transformers_["encoder"]
    is_cat = est.is_categorical_
    first = [outer[j] for j in np.flatnonzero(is_cat)]
    rest = [outer[j] for j in np.flatnonzero(~is_cat)]
    if any(col.codes is None for col in first) or any(col.codes is not None for col in rest):
        return None
    ordered = []
    for col, seen in zip(first, inner.categories_, strict=True):
        again = _codes(seen)
        ordered.append(_Column(col.name, {v: again.get(c, np.nan) for v, c in col.codes.items()}))
    return Compiled(pipeline, ordered + rest)


def _codes(categories) -> dict:
    """A fitted OrdinalEncoder's categories -> their codes (a missing value, which the
    encoder lists last when it saw one, is left out: it encodes as NaN)."""
    return {
        (float(v) if isinstance(v, float | np.floating) else v): float(i)
        for i, v in enumerate(categories)
        if not _is_nan(v)
    }


def _is_nan(value) -> bool:
    return isinstance(value, float | np.floating) and value != value
