"""Classification metrics of scores against labels.

The evaluate stage reports them for the held-out split, and `ratchet shadow` for two
versions on one labelled batch: the same numbers, computed one way.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


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
