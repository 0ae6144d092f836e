"""evaluate stage: score the held-out split, write metrics, plots and predictions."""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams
from ratchet.dataset import schema
from ratchet.dataset.features import feature_columns
from ratchet.pipeline import model
from ratchet.pipeline.live import stage_live
from ratchet.pipeline.metrics import classification_metrics


def scores(pipeline: Pipeline, table: pd.DataFrame) -> np.ndarray:
    numeric, categorical = feature_columns(table)
    return pipeline.predict_proba(table[numeric + categorical])[:, 1]


def importance_sample(table: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows of the table, a seeded sample in table order.

    Permutation importance predicts the whole table (features x repeats + 1) times: on
    a million held-out rows that is most of the pipeline's time, and a sample of tens of
    thousands ranks the features the same.
    """
    if len(table) <= rows:
        return table
    picked = np.sort(np.random.default_rng(seed).choice(len(table), rows, replace=False))
    return table.iloc[picked]


def importance(pipeline: Pipeline, table: pd.DataFrame, p: EvaluateParams) -> list[dict]:
    """Permutation importance on (a sample of) the held-out split: drop in ROC AUC."""
    table = importance_sample(table, p.importance_rows, p.seed)
    numeric, categorical = feature_columns(table)
    columns = numeric + categorical
    result = permutation_importance(
        pipeline,
        table[columns],
        table[schema.TARGET],
        scoring="roc_auc",
        n_repeats=p.importance_repeats,
        random_state=p.seed,
        n_jobs=1,
    )
    rows = [
        {"feature": c, "importance": round(float(m), 6)}
        for c, m in zip(columns, result.importances_mean, strict=True)
    ]
    return sorted(rows, key=lambda r: (-r["importance"], r["feature"]))


def run(
    model_path: str | os.PathLike,
    test_path: str | os.PathLike,
    predictions_path: str | os.PathLike,
    live_dir: str | os.PathLike,
    p: EvaluateParams,
) -> dict[str, float]:
    pipeline = model.load(model_path)
    test = io.read_parquet(test_path)
    if len(np.unique(test[schema.TARGET])) < 2:
        raise RatchetError(
            f"{test_path}: the test split holds a single class; ROC AUC is undefined"
        )
    y = test[schema.TARGET].to_numpy()
    proba = scores(pipeline, test)
    metrics = classification_metrics(y, proba, p.threshold)
    predicted = (proba >= p.threshold).astype(int)
    io.write_table(
        predictions_path,
        pd.DataFrame(
            {
                **({schema.ID: test[schema.ID]} if schema.ID else {}),
                "score": proba,
                "label": predicted,
                schema.TARGET: y,
            }
        ),
    )
    with stage_live(live_dir) as live:
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
        live.log_sklearn_plot("roc", y, proba, name="roc")
        live.log_sklearn_plot("precision_recall", y, proba, name="precision_recall")
        live.log_sklearn_plot("confusion_matrix", y, predicted, name="confusion_matrix")
        live.log_sklearn_plot(
            "calibration", y, proba, name="calibration", n_bins=p.calibration_bins
        )
        live.log_plot(
            "importance",
            importance(pipeline, test, p),
            x="importance",
            y="feature",
            template="bar_horizontal_sorted",
            title="Permutation importance (drop in ROC AUC)",
        )
    return metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file (.skops)")
    parser.add_argument("--input", required=True, help="test features (.parquet)")
    parser.add_argument("--predictions", required=True, help="test predictions (.parquet)")
    parser.add_argument("--live-dir", required=True, help="DVCLive directory for metrics, plots")


def command(args: argparse.Namespace) -> int:
    p = params.section("evaluate", params.EvaluateParams, args.params)
    metrics = run(args.model, args.input, args.predictions, args.live_dir, p)
    print("  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return 0
