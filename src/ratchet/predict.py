"""Scores for validated raw rows: the training feature function, then the model.

Batch scoring (`ratchet score`), the REST service (`ratchet serve`) and the registry's
smoke test all score through here, so a row gets the same score whichever way it comes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ratchet import features, model


def scores(pipeline: Pipeline, table: pd.DataFrame) -> np.ndarray:
    """P(churn) per row of a table typed like the validated raw table (label optional)."""
    if len(table) == 0:
        return np.empty(0, dtype="float64")
    return pipeline.predict_proba(features.build_features(table, model.contract_for(pipeline)))[
        :, 1
    ]


def labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the score is at or above the threshold (params evaluate.threshold)."""
    return (np.asarray(scores, dtype="float64") >= threshold).astype("int8")
