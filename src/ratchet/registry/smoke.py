"""What `ratchet model smoke` checks in a version's predictions, by task (pure).

A model that loads can still be broken: NaN or infinite outputs, probabilities outside
[0, 1] or not summing to one, labels that are no class, or one answer for every row (a
model that learned nothing, or a feature pipeline that feeds it constants). Each check
returns the line the command prints on success, or raises one line naming the problem.
"""

from __future__ import annotations

import numpy as np

from ratchet.core.errors import RatchetError
from ratchet.dataset.contract import Contract
from ratchet.pipeline.predict import proba_column

# Probabilities of one row must sum to 1 up to float rounding, nothing more.
SUM_TOLERANCE = 1e-9


def check(outputs: dict[str, np.ndarray], c: Contract, rows: int, what: str) -> str:
    """`outputs` of `predict.outputs` for `rows` rows; `what` names the version in errors."""
    if rows == 0:
        raise RatchetError(f"{what}: no held-out rows to score")
    if c.task == "regression":
        return _regression(outputs["prediction"], rows, what)
    if c.task == "multiclass":
        return _multiclass(outputs, c, rows, what)
    return _binary(outputs["score"], rows, what)


def _binary(scores: np.ndarray, rows: int, what: str) -> str:
    if len(scores) != rows or not np.all(np.isfinite(scores)):
        raise RatchetError(f"{what}: scores are missing or not finite")
    if scores.min() < 0.0 or scores.max() > 1.0 or scores.std() == 0.0:
        raise RatchetError(f"{what}: scores are outside [0, 1] or constant")
    return (
        f"scored {len(scores)} rows, mean score {scores.mean():.4f}, "
        f"range {scores.min():.4f}-{scores.max():.4f}"
    )


def _multiclass(outputs: dict[str, np.ndarray], c: Contract, rows: int, what: str) -> str:
    names = list(c.class_names)
    columns = [proba_column(n) for n in names]
    missing = [col for col in columns if col not in outputs]
    if missing:
        raise RatchetError(f"{what}: no probability for class column(s) {missing}")
    labels = np.asarray(outputs["label"], dtype=object)
    if any(len(outputs[col]) != rows for col in columns) or len(labels) != rows:
        raise RatchetError(f"{what}: class probabilities or labels are missing for some rows")
    proba = np.column_stack([np.asarray(outputs[col], dtype="float64") for col in columns])
    if not np.all(np.isfinite(proba)):
        raise RatchetError(f"{what}: class probabilities are not finite")
    if proba.min() < 0.0 or proba.max() > 1.0:
        raise RatchetError(f"{what}: class probabilities are outside [0, 1]")
    worst = int(np.argmax(np.abs(proba.sum(axis=1) - 1.0)))
    if abs(proba[worst].sum() - 1.0) > SUM_TOLERANCE:
        raise RatchetError(
            f"{what}: class probabilities of row {worst} sum to {proba[worst].sum():.12g}, not 1"
        )
    unknown = sorted({str(v) for v in labels} - set(names))
    if unknown:
        raise RatchetError(f"{what}: predicted labels {unknown[:5]} are not classes {names}")
    # max - min, not std: the std of equal floats can come out a rounding error above 0.
    if np.all(np.ptp(proba, axis=0) == 0.0):
        raise RatchetError(f"{what}: class probabilities are the same for every row")
    shares = ", ".join(f"{n} {np.mean(labels == n):.0%}" for n in names)
    return (
        f"predicted {rows} rows, classes {shares}, "
        f"mean top probability {proba.max(axis=1).mean():.4f}"
    )


def _regression(predictions: np.ndarray, rows: int, what: str) -> str:
    if len(predictions) != rows or not np.all(np.isfinite(predictions)):
        raise RatchetError(f"{what}: predictions are missing or not finite")
    if np.ptp(predictions) == 0.0:
        raise RatchetError(f"{what}: predictions are constant ({predictions[0]:g} for every row)")
    return (
        f"predicted {rows} rows, mean prediction {predictions.mean():.4g}, "
        f"range {predictions.min():.4g} to {predictions.max():.4g}"
    )
