"""Scores for validated raw rows: the training feature function, then the model.

Batch scoring (`ratchet score`), the REST service (`ratchet serve`) and the registry's
smoke test all score through here, so a row gets the same score whichever way it comes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ratchet.dataset import features
from ratchet.pipeline import model


def scores(pipeline: Pipeline, table: pd.DataFrame) -> np.ndarray:
    """The positive class's probability per row of a validated raw table (label optional)."""
    if len(table) == 0:
        return np.empty(0, dtype="float64")
    return model_scores(pipeline, features.build_features(table, model.contract_for(pipeline)))


def model_scores(pipeline: Pipeline, feats: pd.DataFrame) -> np.ndarray:
    """The positive class's probability per row of a feature table (`build_features`' output)."""
    if len(feats) == 0:
        return np.empty(0, dtype="float64")
    return pipeline.predict_proba(feats)[:, 1]


def infinite_features(feats: pd.DataFrame) -> list[tuple[int, str]]:
    """(row position, column) of every infinite numeric feature, row by row.

    A missing value (NaN) is the model's to handle; an infinity means an input so
    extreme that its derived features overflowed, and the model would score it anyway.
    """
    numeric = [c for c in feats.columns if not isinstance(feats[c].dtype, pd.CategoricalDtype)]
    if not numeric:
        return []
    values = feats[numeric].to_numpy(dtype="float64", na_value=np.nan)
    rows, cols = np.nonzero(np.isinf(values))
    return [(int(r), numeric[c]) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]


def labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the score is at or above the threshold (params evaluate.threshold)."""
    return (np.asarray(scores, dtype="float64") >= threshold).astype("int8")
