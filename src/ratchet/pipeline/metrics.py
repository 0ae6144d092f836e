"""Metrics of predictions against the truth: binary, multiclass and regression.

The evaluate stage reports them for the held-out split, and `ratchet shadow` for two
versions on one labelled batch: the same numbers, computed one way.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from ratchet.dataset.contract import class_key as metric_key


def classification_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Held-out metrics, rounded so the committed JSON does not churn in the last digits."""
    predicted = (proba >= threshold).astype(int)
    values = {
        "roc_auc": skm.roc_auc_score(y, proba),
        "pr_auc": skm.average_precision_score(y, proba),
        "f1": skm.f1_score(y, predicted, zero_division=0),
        "precision": skm.precision_score(y, predicted, zero_division=0),
        "recall": skm.recall_score(y, predicted, zero_division=0),
        "accuracy": skm.accuracy_score(y, predicted),
        "log_loss": skm.log_loss(y, proba, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, proba),
    }
    return {k: round(float(v), 6) for k, v in values.items()}


def multiclass_metrics(
    y: np.ndarray, proba: np.ndarray, class_names: tuple[str, ...]
) -> dict[str, float]:
    """Held-out metrics of class probabilities (one column per class number 0, 1, ...)."""
    classes = list(range(len(class_names)))
    predicted = proba.argmax(axis=1)
    values = {
        "accuracy": skm.accuracy_score(y, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(y, predicted),
        "macro_f1": skm.f1_score(y, predicted, average="macro", labels=classes, zero_division=0),
        "weighted_f1": skm.f1_score(
            y, predicted, average="weighted", labels=classes, zero_division=0
        ),
        "log_loss": skm.log_loss(y, proba, labels=classes),
        "roc_auc_ovr": skm.roc_auc_score(
            y, proba, multi_class="ovr", average="macro", labels=classes
        ),
    }
    precision = skm.precision_score(y, predicted, average=None, labels=classes, zero_division=0)
    recall = skm.recall_score(y, predicted, average=None, labels=classes, zero_division=0)
    for i, name in enumerate(class_names):
        key = metric_key(name)
        values[f"precision_{key}"] = precision[i]
        values[f"recall_{key}"] = recall[i]
    return {k: round(float(v), 6) for k, v in values.items()}


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Held-out metrics of predicted numbers; MAPE only where the target is never 0."""
    values = {
        "rmse": skm.root_mean_squared_error(y, predicted),
        "mae": skm.mean_absolute_error(y, predicted),
        "r2": skm.r2_score(y, predicted),
        "median_ae": skm.median_absolute_error(y, predicted),
    }
    if not np.any(np.asarray(y) == 0):
        values["mape"] = skm.mean_absolute_percentage_error(y, predicted)
    return {k: round(float(v), 6) for k, v in values.items()}
