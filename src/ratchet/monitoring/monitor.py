"""Drift between a reference table and a current batch, with Evidently (0.7 API).

Pure core: frames and params in, an Evidently snapshot and a JSON-ready summary out.
Both frames hold model input columns (the feature function's output); scores and labels
are compared on their own, not counted in the share of drifted columns.

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
from ratchet.dataset import features, schema

SCORE = "score"


@dataclass(frozen=True)
class Batch:
    """Model inputs, and optionally scores and labels, of one side of the comparison."""

    features: pd.DataFrame
    scores: np.ndarray | None = None
    labels: pd.Series | None = None


def sample(batch: Batch, rows: int, seed: int) -> Batch:
    if len(batch.features) <= rows:
        return batch
    picked = np.sort(np.random.default_rng(seed).choice(len(batch.features), rows, replace=False))
    return Batch(
        batch.features.iloc[picked].reset_index(drop=True),
        None if batch.scores is None else batch.scores[picked],
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


def _frame(batch: Batch, columns: list[str]) -> pd.DataFrame:
    out = batch.features[columns].copy()
    for c in columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or c in schema.CATEGORICAL:
            out[c] = out[c].astype(str)
    if batch.scores is not None:
        out[SCORE] = batch.scores
    if batch.labels is not None:
        out[schema.TARGET] = batch.labels.astype(str).to_numpy()
    return out


def run_report(reference: Batch, current: Batch, p: MonitorParams):
    """Evidently snapshot comparing current with reference (both already sampled)."""
    columns = compared_columns(reference.features, current.features, p)
    categorical = [c for c in columns if c in schema.CATEGORICAL]
    numeric = [c for c in columns if c not in categorical]
    with_scores = reference.scores is not None and current.scores is not None
    with_labels = reference.labels is not None and current.labels is not None
    definition = DataDefinition(
        numerical_columns=numeric + ([SCORE] if with_scores else []),
        categorical_columns=categorical + ([schema.TARGET] if with_labels else []),
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
    if with_scores:
        metrics.append(
            ValueDrift(column=SCORE, method="wasserstein", threshold=p.prediction_threshold)
        )
    if with_labels:
        metrics.append(ValueDrift(column=schema.TARGET))
    report = Report(metrics, include_tests=True)
    ref_frame, cur_frame = _frame(reference, columns), _frame(current, columns)
    keep_ref = ref_frame if with_scores or with_labels else ref_frame[columns]
    keep_cur = cur_frame if with_scores or with_labels else cur_frame[columns]
    # current comes first in Evidently 0.7; keywords make that impossible to get wrong.
    return report.run(
        current_data=Dataset.from_pandas(keep_cur, data_definition=definition),
        reference_data=Dataset.from_pandas(keep_ref, data_definition=definition),
    )


def summarise(snapshot, p: MonitorParams) -> dict[str, Any]:
    """The JSON summary: drifted columns with method, score and threshold; share; verdict."""
    doc = snapshot.dict()
    failed = {
        t["metric_config"]["metric_id"] for t in doc["tests"] if str(t["status"]).endswith("FAIL")
    }
    columns, special, share = [], {}, None
    for metric in doc["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
            continue
        if not config["type"].endswith("ValueDrift"):
            continue
        entry = {
            "column": config["column"],
            "method": config.get("method"),
            "score": round(float(metric["value"]), 6),
            "threshold": config.get("threshold"),
            "drifted": metric["id"] in failed,
        }
        if config["column"] in (SCORE, schema.TARGET) and config["column"] not in special:
            special[config["column"]] = entry
        else:
            columns.append(entry)
    if share is None:
        raise RatchetError("Evidently report has no drifted-columns share")
    dataset_drift = share >= p.drift_share
    prediction = special.get(SCORE)
    drift = dataset_drift or bool(prediction and prediction["drifted"])
    return {
        "verdict": "drift" if drift else "no drift",
        "drift_share": round(share, 6),
        "drift_share_threshold": p.drift_share,
        "dataset_drift": dataset_drift,
        "drifted_columns": sorted(c["column"] for c in columns if c["drifted"]),
        "columns": sorted(columns, key=lambda c: c["column"]),
        "prediction_drift": prediction,
        "target_drift": special.get(schema.TARGET),
    }


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
    rows = [*summary["columns"], summary["prediction_drift"], summary["target_drift"]]
    for c in rows:
        if c:
            mark = "yes" if c["drifted"] else "no"
            lines.append(
                f"| {c['column']} | {c['method']} | {c['score']:.4f} | {c['threshold']} | {mark} |"
            )
    return "\n".join(lines) + "\n"
