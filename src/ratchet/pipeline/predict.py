"""Predictions for validated raw rows: the training feature function, then the model.

Batch scoring (`ratchet score`), the REST service (`ratchet serve`) and the registry's
smoke test all score through here, so a row gets the same score whichever way it comes.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ratchet.dataset import features
from ratchet.dataset.contract import Contract
from ratchet.pipeline import compiled, model
from ratchet.pipeline.metrics import metric_key


def scores(pipeline: Pipeline, table: pd.DataFrame) -> np.ndarray:
    """The positive class's probability per row of a validated raw table (label optional)."""
    if len(table) == 0:
        return np.empty(0, dtype="float64")
    return model_scores(pipeline, features.build_features(table, model.contract_for(pipeline)))


# Each loaded pipeline's compiled form (None: it has none), derived once, dropped with it.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled_form(pipeline: Pipeline) -> compiled.Compiled | None:
    """The pipeline's fast inference form (`ratchet.pipeline.compiled`), built on first
    use; a service calls this when it loads a model, so no request pays for it."""
    try:
        return _COMPILED[pipeline]
    except KeyError:
        form = _COMPILED[pipeline] = compiled.compile(pipeline)
        return form


def _fast_input(pipeline: Pipeline, feats: pd.DataFrame):
    """(compiled form, its input matrix), or (None, None): use the pipeline itself."""
    form = compiled_form(pipeline)
    X = form.matrix(feats) if form is not None else None
    return (form, X) if X is not None else (None, None)


def predict_proba(pipeline: Pipeline, feats: pd.DataFrame) -> np.ndarray:
    """`pipeline.predict_proba(feats)`, bit for bit, through the compiled form if it has one."""
    form, X = _fast_input(pipeline, feats)
    return form.predict_proba(X) if form is not None else pipeline.predict_proba(feats)


def predict_values(pipeline: Pipeline, feats: pd.DataFrame) -> np.ndarray:
    """`pipeline.predict(feats)` of a regression model, bit for bit, likewise."""
    form, X = _fast_input(pipeline, feats)
    return form.predict(X) if form is not None else pipeline.predict(feats)


def model_scores(pipeline: Pipeline, feats: pd.DataFrame) -> np.ndarray:
    """The positive class's probability per row of a feature table (`build_features`' output)."""
    if len(feats) == 0:
        return np.empty(0, dtype="float64")
    return predict_proba(pipeline, feats)[:, 1]


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


def _overflowing_inputs(pipeline: Pipeline, feats: pd.DataFrame) -> list[tuple[int, str]]:
    """(row position, feature) of every value the model's preprocessing turns into an
    infinity: a linear model scales (x - mean) / std, and a valid value near the float
    limit divided by a std below 1 overflows."""
    steps = pipeline[:-1]
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.asarray(steps.transform(feats), dtype="float64")
    names = steps.get_feature_names_out()
    rows, cols = np.nonzero(np.isinf(values))
    return [(int(r), str(names[c])) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]


def _nonfinite_outputs(out: dict[str, np.ndarray]) -> list[int]:
    """Row positions whose numeric output is infinite or NaN."""
    numeric = [v for v in out.values() if v.dtype.kind == "f"]
    if not numeric or not len(numeric[0]):
        return []
    return np.flatnonzero(~np.isfinite(np.column_stack(numeric)).all(axis=1)).tolist()


Unscorable = tuple[int, str, str, float | None]  # row position, column, check, value


def guarded_outputs(
    pipeline: Pipeline, feats: pd.DataFrame, threshold: float, c: Contract | None = None
) -> tuple[dict[str, np.ndarray] | None, list[Unscorable]]:
    """`outputs`, and every row the model cannot answer with a number.

    Valid but huge values can defeat a linear model: check "finite_after_scaling" names a
    feature its scaling overflows (scikit-learn then refuses the whole table, so the
    outputs are None); "finite_output" an output that came out infinite or NaN (column:
    score or prediction). Callers reject those rows; gradient boosting never has any.
    """
    c = c or model.contract_for(pipeline)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # checked below
            out = outputs(pipeline, feats, threshold, c)
    except ValueError:
        bad = _overflowing_inputs(pipeline, feats)
        if not bad:
            raise
        return None, [
            (r, col, "finite_after_scaling", float(feats[col].iloc[r]) if col in feats else None)
            for r, col in bad
        ]
    name = "prediction" if c.task == "regression" else "score"
    return out, [(r, name, "finite_output", float(out[name][r])) for r in _nonfinite_outputs(out)]


def labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the score is at or above the threshold (params evaluate.threshold)."""
    return (np.asarray(scores, dtype="float64") >= threshold).astype("int8")


# What each task writes per row, after the id: the names `ratchet score`, the REST
# service and shadow share. Multiclass adds one `proba_<class>` column per class.
OUTPUT_COLUMNS = {
    "binary": ("score", "label"),
    "multiclass": ("label", "score"),
    "regression": ("prediction",),
}


def proba_column(class_name: str) -> str:
    """The output column of one class's probability, e.g. `proba_barolo`."""
    return f"proba_{metric_key(class_name)}"


def outputs(
    pipeline: Pipeline, feats: pd.DataFrame, threshold: float, c: Contract | None = None
) -> dict[str, np.ndarray]:
    """Per-row outputs of a feature table, by the model's task.

    binary: `score` (the positive class's probability) and `label` (1 at or above the
    threshold). multiclass: `label` (the most probable class, in the data's own spelling),
    `score` (its probability) and `proba_<class>` for every class. regression:
    `prediction`. Neither the scikit-learn models nor the linear baselines give intervals,
    so regression outputs none.
    """
    c = c or model.contract_for(pipeline)
    if c.task == "regression":
        if len(feats) == 0:
            return {"prediction": np.empty(0, dtype="float64")}
        return {"prediction": predict_values(pipeline, feats).astype("float64")}
    if c.task == "binary":
        scores = model_scores(pipeline, feats)
        return {"score": scores, "label": labels(scores, threshold)}
    names = np.asarray(c.class_names, dtype=object)
    proba = (
        predict_proba(pipeline, feats).astype("float64")
        if len(feats)
        else np.empty((0, len(names)), dtype="float64")
    )
    best = proba.argmax(axis=1)
    out = {"label": names[best], "score": proba[np.arange(len(best)), best]}
    for i, name in enumerate(names):
        out[proba_column(name)] = proba[:, i]
    return out


def table_outputs(pipeline: Pipeline, table: pd.DataFrame, threshold: float) -> dict:
    """`outputs` for a validated raw table (label optional)."""
    c = model.contract_for(pipeline)
    return outputs(pipeline, features.build_features(table, c), threshold, c)
