"""Drift between a reference table and a current batch, with Evidently (0.7 API).

Pure core: frames and params in, an Evidently snapshot and a JSON-ready summary out.
Both frames hold model input columns (the feature function's output); predictions and
labels are compared on their own, not counted in the share of drifted columns.

Predictions, by task: binary `score` (the positive class's probability); multiclass
`predicted_class` (categorical) and `proba_<class>` per class; regression `prediction`.
Numbers are compared by Wasserstein distance (normed), the predicted class by
Jensen-Shannon distance. Evidently's own choice for a category depends on the reference's
size (a chi-square p-value up to 1,000 rows, Jensen-Shannon above); a fixed effect size
means the same at any size, so one knob, `monitor.prediction_threshold`, serves every
prediction column.

Speed: Evidently's tests run on seeded samples (`monitor.reference_rows`,
`monitor.current_rows`). Above 1,000 rows Evidently compares numeric columns by
Wasserstein distance and categories by Jensen-Shannon distance: effect sizes, not
p-values, so a 100k-row sample gives the same verdict as a 10M-row batch, without the
false alarms a p-value test raises on huge samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset

from ratchet.core.errors import RatchetError
from ratchet.core.params import MonitorParams
from ratchet.dataset import contract, features, schema

SCORE = "score"
PREDICTED_CLASS = "predicted_class"
PREDICTION = "prediction"


@dataclass(frozen=True)
class Batch:
    """Model inputs, and optionally predictions and labels, of one side of the comparison.

    `predictions` maps a compared column name (see `prediction_columns`) to one value per row.
    """

    features: pd.DataFrame
    predictions: dict[str, np.ndarray] | None = None
    labels: pd.Series | None = None


def prediction_columns(outputs: dict[str, np.ndarray], task: str) -> dict[str, np.ndarray]:
    """The per-row outputs (`predict.outputs`) whose distributions drift is checked on.

    binary: the score (its label is a threshold of it). multiclass: the predicted class,
    renamed so it cannot be read as the target, and each class's probability in class
    order (the top probability, `score`, is left out: it moves only when they do).
    regression: the prediction.
    """
    if task == "binary":
        return {SCORE: outputs["score"]}
    if task == "regression":
        return {PREDICTION: outputs["prediction"]}
    probabilities = {k: v for k, v in outputs.items() if k not in ("label", "score")}
    return {PREDICTED_CLASS: outputs["label"], **probabilities}


def sample(batch: Batch, rows: int, seed: int) -> Batch:
    if len(batch.features) <= rows:
        return batch
    picked = np.sort(np.random.default_rng(seed).choice(len(batch.features), rows, replace=False))
    return Batch(
        batch.features.iloc[picked].reset_index(drop=True),
        None if batch.predictions is None else {k: v[picked] for k, v in batch.predictions.items()},
        None if batch.labels is None else batch.labels.iloc[picked].reset_index(drop=True),
    )


def compared_columns(reference: pd.DataFrame, current: pd.DataFrame, p: MonitorParams) -> list[str]:
    # Engineered features are functions of compared columns: counted again, one shift in
    # the data would look like several drifted columns.
    ignored = {*p.ignore_columns, *features.engineered()}
    missing = [c for c in reference.columns if c not in current.columns and c not in ignored]
    if missing:
        raise RatchetError(f"current batch: missing columns {missing} the reference has")
    unknown = sorted(set(p.per_column_method) | set(p.per_column_threshold))
    unknown = [c for c in unknown if c not in reference.columns]
    if unknown:
        raise RatchetError(
            f"params.yaml: monitor per-column settings name unknown columns {unknown}"
        )
    return [c for c in reference.columns if c not in ignored]


def _is_category(values: np.ndarray) -> bool:
    return np.asarray(values).dtype.kind in "OUS"


def _labels(labels: pd.Series) -> np.ndarray:
    """The target as compared: class names (multiclass), numbers (regression), or 0/1 as
    categories (binary)."""
    c = contract.current()
    if c.task == "regression":
        return labels.to_numpy(dtype="float64", na_value=np.nan)
    if c.task == "multiclass":
        # Validated tables number the classes; the report shows the data's own names.
        names = np.asarray(c.class_names, dtype=object)
        return names[labels.to_numpy(dtype="int64")]
    return labels.astype(str).to_numpy()


def _frame(batch: Batch, columns: list[str]) -> pd.DataFrame:
    out = batch.features[columns].copy()
    for c in columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or c in schema.CATEGORICAL:
            out[c] = out[c].astype(str)
    for name, values in (batch.predictions or {}).items():
        out[name] = values
    if batch.labels is not None:
        out[schema.TARGET] = _labels(batch.labels)
    return out


def _compared_predictions(reference: Batch, current: Batch, columns: list[str]) -> list[str]:
    if reference.predictions is None or current.predictions is None:
        return []
    names = list(reference.predictions)
    clash = [n for n in names if n in columns or n == schema.TARGET]
    if clash:
        raise RatchetError(
            f"prediction column(s) {clash} share a name with a compared column; "
            "list them in monitor.ignore_columns"
        )
    return names


def _prediction_metric(name: str, values: np.ndarray, p: MonitorParams) -> ValueDrift:
    method = "jensenshannon" if _is_category(values) else "wasserstein"
    return ValueDrift(column=name, method=method, threshold=p.prediction_threshold)


def run_report(reference: Batch, current: Batch, p: MonitorParams):
    """Evidently snapshot comparing current with reference (both already sampled)."""
    columns = compared_columns(reference.features, current.features, p)
    categorical = [c for c in columns if c in schema.CATEGORICAL]
    numeric = [c for c in columns if c not in categorical]
    predicted = _compared_predictions(reference, current, columns)
    with_labels = reference.labels is not None and current.labels is not None
    numeric_target = with_labels and contract.current().task == "regression"
    kinds = {n: _is_category(reference.predictions[n]) for n in predicted}
    definition = DataDefinition(
        numerical_columns=numeric
        + [n for n in predicted if not kinds[n]]
        + ([schema.TARGET] if numeric_target else []),
        categorical_columns=categorical
        + [n for n in predicted if kinds[n]]
        + ([schema.TARGET] if with_labels and not numeric_target else []),
    )
    metrics: list[Any] = [
        DataDriftPreset(
            columns=columns,
            drift_share=p.drift_share,
            method=p.method,
            threshold=p.threshold,
            per_column_method=p.per_column_method or None,
            per_column_threshold=p.per_column_threshold or None,
        )
    ]
    metrics += [_prediction_metric(n, reference.predictions[n], p) for n in predicted]
    if with_labels:
        metrics.append(ValueDrift(column=schema.TARGET))
    report = Report(metrics, include_tests=True)
    ref_frame, cur_frame = _frame(reference, columns), _frame(current, columns)
    keep = columns + predicted + ([schema.TARGET] if with_labels else [])
    # current comes first in Evidently 0.7; keywords make that impossible to get wrong.
    return report.run(
        current_data=Dataset.from_pandas(cur_frame[keep], data_definition=definition),
        reference_data=Dataset.from_pandas(ref_frame[keep], data_definition=definition),
    )


def _entries(doc: dict[str, Any]) -> tuple[float | None, list[str], list[dict[str, Any]]]:
    """The share of drifted columns, the compared columns, and one entry per ValueDrift."""
    failed = {
        t["metric_config"]["metric_id"] for t in doc["tests"] if str(t["status"]).endswith("FAIL")
    }
    share, compared, entries = None, [], []
    for metric in doc["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share, compared = float(metric["value"]["share"]), list(config["columns"])
        elif config["type"].endswith("ValueDrift"):
            entries.append({
                "column": config["column"],
                "method": config.get("method"),
                "score": round(float(metric["value"]), 6),
                "threshold": config.get("threshold"),
                "drifted": metric["id"] in failed,
            })  # fmt: skip
    return share, compared, entries


def summarise(snapshot, p: MonitorParams) -> dict[str, Any]:
    """The JSON summary: drifted columns with method, score and threshold; share; verdict.

    `prediction_drift` is the model's headline output (score, predicted_class or
    prediction); a multiclass model adds `class_probability_drift`, one entry per class.
    Any drifted prediction column makes the verdict drift.
    """
    share, compared, entries = _entries(snapshot.dict())
    if share is None:
        raise RatchetError("Evidently report has no drifted-columns share")
    columns = [e for e in entries if e["column"] in compared]
    target = next((e for e in entries if e["column"] == schema.TARGET), None)
    # What is neither a compared column nor the target is a prediction column
    # (`run_report` refuses prediction names that clash with either).
    predictions = [e for e in entries if e not in columns and e is not target]
    dataset_drift = share >= p.drift_share
    drift = dataset_drift or any(e["drifted"] for e in predictions)
    summary = {
        "verdict": "drift" if drift else "no drift",
        "drift_share": round(share, 6),
        "drift_share_threshold": p.drift_share,
        "dataset_drift": dataset_drift,
        "drifted_columns": sorted(c["column"] for c in columns if c["drifted"]),
        "columns": sorted(columns, key=lambda c: c["column"]),
        "prediction_drift": predictions[0] if predictions else None,
        "target_drift": target,
    }
    if len(predictions) > 1:
        summary["class_probability_drift"] = predictions[1:]
    return summary


def markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown, for a job summary or an issue."""
    icon = "⚠️" if summary["verdict"] == "drift" else "✅"
    lines = [
        f"### {icon} {summary['verdict']}: {summary['drift_share']:.0%} of columns drifted "
        f"(threshold {summary['drift_share_threshold']:.0%})",
        "",
        "| column | method | score | threshold | drifted |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    rows = [
        *summary["columns"],
        summary["prediction_drift"],
        *summary.get("class_probability_drift", []),
        summary["target_drift"],
    ]
    for c in rows:
        if c:
            mark = "yes" if c["drifted"] else "no"
            lines.append(
                f"| {c['column']} | {c['method']} | {c['score']:.4f} | {c['threshold']} | {mark} |"
            )
    return "\n".join(lines) + "\n"
