"""Validation metrics for model selection: a holdout split, or k-fold cross-validation.

`ratchet exp best` and the sweep ranking compare runs on these numbers, never on the test
split's: a model picked for its test score and then gated on that same test split would
have its score inflated by the picking. Pure: tables and params in, metrics out.

The metrics are the evaluate stage's (same functions, same names), so a gate rule's metric
has a validation twin under the same name, except a binary task's thresholded ones (f1,
precision, recall, accuracy): they depend on evaluate.threshold, and reading it here would
retrain the model whenever the threshold moves. Cross-validation pools the out-of-fold
predictions of all folds and computes each metric once over them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from ratchet.dataset import schema
from ratchet.dataset.contract import Contract
from ratchet.dataset.features import feature_columns
from ratchet.pipeline.metrics import (
    classification_metrics,
    multiclass_metrics,
    regression_metrics,
)


def predictions(pipeline: Pipeline, X: pd.DataFrame, task: str) -> np.ndarray:
    """What the task's metrics score: P(positive), class probabilities, or numbers."""
    if task == "regression":
        return pipeline.predict(X)
    proba = pipeline.predict_proba(X)
    return proba[:, 1] if task == "binary" else proba


# A binary task's metrics that depend on the label threshold: not computed on validation.
THRESHOLDED = ("f1", "precision", "recall", "accuracy")


def task_metrics(y: np.ndarray, predicted: np.ndarray, c: Contract) -> dict:
    if c.task == "regression":
        return regression_metrics(y, predicted)
    if c.task == "multiclass":
        return multiclass_metrics(y, predicted, c.class_names)
    values = classification_metrics(y, predicted, threshold=0.5)  # any: dropped below
    return {k: v for k, v in values.items() if k not in THRESHOLDED}


def holdout_metrics(pipeline: Pipeline, valid: pd.DataFrame, c: Contract) -> dict:
    """The fitted model's metrics on the validation rows."""
    numeric, categorical = feature_columns(valid)
    y = valid[schema.TARGET].to_numpy()
    if c.task == "regression":
        y = y.astype("float64")
    return task_metrics(y, predictions(pipeline, valid[numeric + categorical], c.task), c)


def cv_metrics(
    unfitted: Pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    c: Contract,
    folds: int,
    seed: int,
) -> dict:
    """Out-of-fold metrics: each row is predicted by the model fitted on the other folds.
    Classification folds are stratified, so every fold holds every class."""
    if c.task == "regression":
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    width = len(c.class_names) if c.task == "multiclass" else 0
    oof = np.zeros((len(y), width) if width else len(y), dtype="float64")
    for fit_rows, held_rows in splitter.split(X, y):
        fold = clone(unfitted).fit(X.iloc[fit_rows], y[fit_rows])
        oof[held_rows] = predictions(fold, X.iloc[held_rows], c.task)
    return task_metrics(y, oof, c)
