"""evaluate stage: score the held-out split, write metrics, plots and predictions.

What it writes depends on the contract's task (dvc.yaml's `plots:` lists the same files,
and `ratchet init` rewrites that list for the task):
- binary: ROC, precision-recall, confusion matrix, calibration, importance;
- multiclass: confusion matrix (class names; dvc.yaml draws it as counts and normalised
  over the actual class), one-vs-rest precision-recall per class, importance;
- regression: predicted vs actual, residuals vs predicted, residual histogram, importance.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams
from ratchet.dataset import contract, schema
from ratchet.dataset.contract import Contract
from ratchet.dataset.features import feature_columns
from ratchet.pipeline import importance as permutation
from ratchet.pipeline import model, plotfiles, predict
from ratchet.pipeline.live import stage_live
from ratchet.pipeline.metrics import (
    classification_metrics,
    multiclass_metrics,
    regression_metrics,
)

# Permutation importance: the scorer each task's importance is the drop of.
IMPORTANCE = {
    "binary": ("roc_auc", "drop in ROC AUC"),
    "multiclass": ("neg_log_loss", "rise in log loss"),
    "regression": ("neg_root_mean_squared_error", "rise in RMSE"),
}
SCATTER_ROWS = 2_000  # regression plots show at most this many test rows (seeded sample)
PER_CLASS_PR = "precision_recall_by_class"  # plots/sklearn/<this>/<class key>.json


def scores(pipeline: Pipeline, table: pd.DataFrame) -> np.ndarray:
    """Positive-class probabilities of the test split's rows (its label column left out)."""
    numeric, categorical = feature_columns(table)
    return predict.model_scores(pipeline, table[numeric + categorical])


def importance_sample(table: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows of the table, a seeded sample in table order."""
    picked = permutation.sample_positions(len(table), rows, seed)
    return table if picked is None else table.iloc[picked]


def importance(
    pipeline: Pipeline,
    table: pd.DataFrame,
    p: EvaluateParams,
    task: str = "binary",
    encoded: np.ndarray | None = None,
) -> list[dict]:
    """Permutation importance on (a sample of) the held-out split: how much the task's
    score (ROC AUC, log loss, RMSE) worsens when a feature is shuffled.

    Each feature is shuffled `importance_repeats` times among at most
    `importance_rows` rows (seeded): the cost is bounded whatever the split's size.
    `encoded`: the table's features through the model's preprocessing, if at hand.
    """
    picked = permutation.sample_positions(len(table), p.importance_rows, p.seed)
    if picked is not None:
        table = table.iloc[picked]
        encoded = None if encoded is None else encoded[picked]
    numeric, categorical = feature_columns(table)
    columns = numeric + categorical
    means = permutation.permutation_means(
        pipeline,
        table[columns],
        table[schema.TARGET],
        IMPORTANCE[task][0],
        p.importance_repeats,
        p.seed,
        encoded,
    )
    rows = [
        {"feature": c, "importance": round(float(m), 6)}
        for c, m in zip(columns, means, strict=True)
    ]
    return sorted(rows, key=lambda r: (-r["importance"], r["feature"]))


def encode(pipeline: Pipeline, table: pd.DataFrame) -> np.ndarray:
    """The table's features through the model's preprocessing, once: the predictions and
    the permutation importance both start from it (what `pipeline.predict_proba` does
    first, so the scores are the same bits)."""
    return pipeline[:-1].transform(_features(table))


def run(
    model_path: str | os.PathLike,
    test_path: str | os.PathLike,
    predictions_path: str | os.PathLike,
    live_dir: str | os.PathLike,
    p: EvaluateParams,
) -> dict[str, float]:
    pipeline = model.load(model_path)
    test = io.read_parquet(test_path)
    c = contract.current()
    if c.task == "multiclass":
        return _run_multiclass(pipeline, test, predictions_path, live_dir, p, c)
    if c.task == "regression":
        return _run_regression(pipeline, test, predictions_path, live_dir, p)
    if len(np.unique(test[schema.TARGET])) < 2:
        raise RatchetError(
            f"{test_path}: the test split holds a single class; ROC AUC is undefined"
        )
    y = test[schema.TARGET].to_numpy()
    encoded = encode(pipeline, test)
    proba = pipeline[-1].predict_proba(encoded)[:, 1]
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
        # One file per threshold or row: written by plotfiles, in DVCLive's format.
        plotfiles.write(live_dir, "roc", plotfiles.roc(y, proba))
        plotfiles.write(live_dir, "precision_recall", plotfiles.precision_recall(y, proba))
        plotfiles.write(live_dir, "confusion_matrix", plotfiles.confusion(y, predicted))
        live.log_sklearn_plot(
            "calibration", y, proba, name="calibration", n_bins=p.calibration_bins
        )
        _log_importance(live, pipeline, test, p, "binary", encoded)
    return metrics


def _features(table: pd.DataFrame) -> pd.DataFrame:
    numeric, categorical = feature_columns(table)
    return table[numeric + categorical]


def _write_predictions(path, test: pd.DataFrame, columns: dict) -> None:
    ids = {schema.ID: test[schema.ID]} if schema.ID else {}
    io.write_table(path, pd.DataFrame({**ids, **columns, schema.TARGET: test[schema.TARGET]}))


def _log_importance(
    live, pipeline: Pipeline, test: pd.DataFrame, p, task: str, encoded: np.ndarray
) -> None:
    live.log_plot(
        "importance",
        importance(pipeline, test, p, task, encoded),
        x="importance",
        y="feature",
        template="bar_horizontal_sorted",
        title=f"Permutation importance ({IMPORTANCE[task][1]})",
    )


def _run_multiclass(pipeline, test, predictions_path, live_dir, p, c: Contract) -> dict:
    y = test[schema.TARGET].to_numpy().astype("int64")
    encoded = encode(pipeline, test)
    proba = pipeline[-1].predict_proba(encoded)
    metrics = multiclass_metrics(y, proba, c.class_names)
    predicted = proba.argmax(axis=1)
    _write_predictions(predictions_path, test, {"score": proba.max(axis=1), "label": predicted})
    names = np.asarray(c.class_names, dtype=object)
    with stage_live(live_dir) as live:
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
        plotfiles.write(
            live_dir, "confusion_matrix", plotfiles.confusion(names[y], names[predicted])
        )
        for k, name in enumerate(c.class_names):
            if not (y == k).any():
                continue  # no rows of this class in the test split: recall is undefined
            # One file per class: DVC draws several y-files of one plot as several series.
            # Intermediate points on flat stretches are dropped: same curve, smaller file.
            live.log_sklearn_plot(
                "precision_recall", (y == k).astype(int), proba[:, k],
                name=f"{PER_CLASS_PR}/{contract.class_key(name)}", drop_intermediate=True,
            )  # fmt: skip
        _log_importance(live, pipeline, test, p, "multiclass", encoded)
    return metrics


def residual_histogram(residuals: np.ndarray) -> list[dict]:
    """Counts of residuals in equal-width bins (Sturges' rule: about log2(rows) + 1 bins,
    few enough to read on any test split); each bin named by its centre."""
    counts, edges = np.histogram(residuals, bins="sturges")
    return [
        {"residual": round(float((lo + hi) / 2), 6), "count": int(n),
         "low": round(float(lo), 6), "high": round(float(hi), 6)}
        for n, lo, hi in zip(counts, edges[:-1], edges[1:], strict=True)
    ]  # fmt: skip


def _run_regression(pipeline, test, predictions_path, live_dir, p) -> dict:
    y = test[schema.TARGET].to_numpy().astype("float64")
    encoded = encode(pipeline, test)
    predicted = pipeline[-1].predict(encoded)
    metrics = regression_metrics(y, predicted)
    _write_predictions(predictions_path, test, {"prediction": predicted})
    shown = importance_sample(
        pd.DataFrame({"actual": y, "predicted": predicted}), SCATTER_ROWS, p.seed
    )
    points = [
        {"actual": round(float(a), 6), "predicted": round(float(f), 6),
         "residual": round(float(a - f), 6)}
        for a, f in zip(shown["actual"], shown["predicted"], strict=True)
    ]  # fmt: skip
    with stage_live(live_dir) as live:
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
        live.log_plot("predicted_actual", points, x="actual", y="predicted",
                      template="scatter", title="Predicted vs actual")  # fmt: skip
        live.log_plot("residuals", points, x="predicted", y="residual",
                      template="scatter", title="Residuals (actual - predicted)")  # fmt: skip
        live.log_plot("residual_histogram", residual_histogram(y - predicted), x="count",
                      y="residual", template="bar_horizontal",
                      title="Residuals (actual - predicted), all test rows")  # fmt: skip
        _log_importance(live, pipeline, test, p, "regression", encoded)
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
