"""train stage: fit the Pipeline chosen in params.yaml and save it as one skops file."""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.pipeline import Pipeline

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import TrainParams
from ratchet.dataset import contract, schema
from ratchet.dataset.features import feature_columns
from ratchet.pipeline import model
from ratchet.pipeline.live import stage_live


def fit(train: pd.DataFrame, p: TrainParams) -> tuple[Pipeline, dict[str, float]]:
    """Fit on the training table; return the model and its training-set metrics."""
    if schema.TARGET not in train.columns:
        raise RatchetError(f"training table: missing label column '{schema.TARGET}'")
    numeric, categorical = feature_columns(train)
    X, y = train[numeric + categorical], train[schema.TARGET].to_numpy()
    c = contract.current()
    if len(np.unique(y)) < 2:
        what = "value" if c.task == "regression" else "class"
        raise RatchetError(f"column '{schema.TARGET}': training data holds a single {what}")
    pipeline = model.build_pipeline(p, numeric, categorical, c.task)
    if c.task == "regression":
        y = y.astype("float64")
    pipeline.fit(X, y)
    model.attach_contract(pipeline, c)
    metrics = {
        **_fit_metrics(pipeline, X, y, c.task),
        "train_rows": len(train),
        "features": len(numeric) + len(categorical),
    }
    return pipeline, metrics


def _fit_metrics(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, task: str) -> dict:
    if task == "regression":
        predicted = pipeline.predict(X)
        values = {
            "train_rmse": root_mean_squared_error(y, predicted),
            "train_r2": r2_score(y, predicted),
        }
    elif task == "multiclass":
        proba = pipeline.predict_proba(X)
        values = {
            "train_accuracy": accuracy_score(y, proba.argmax(axis=1)),
            "train_log_loss": log_loss(y, proba, labels=list(range(proba.shape[1]))),
        }
    else:
        proba = pipeline.predict_proba(X)[:, 1]
        values = {"train_roc_auc": roc_auc_score(y, proba), "train_log_loss": log_loss(y, proba)}
    return {k: round(float(v), 6) for k, v in values.items()}


def run(
    train_path: str | os.PathLike,
    model_path: str | os.PathLike,
    live_dir: str | os.PathLike,
    p: TrainParams,
) -> dict[str, float]:
    pipeline, metrics = fit(io.read_parquet(train_path), p)
    data = model.to_bytes(pipeline)
    with io.atomic_path(model_path) as tmp:
        tmp.write_bytes(data)
    with stage_live(live_dir) as live:
        live.log_params(p.model_dump())
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
    return metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="train features (.parquet)")
    parser.add_argument("--model", required=True, help="model file (.skops)")
    parser.add_argument("--live-dir", required=True, help="DVCLive directory for train metrics")


def command(args: argparse.Namespace) -> int:
    p = params.section("train", params.TrainParams, args.params)
    metrics = run(args.input, args.model, args.live_dir, p)
    first = next(iter(metrics))  # the task's headline: ROC AUC, accuracy or RMSE
    name = {"train_roc_auc": "ROC AUC", "train_rmse": "RMSE"}.get(first, "accuracy")
    print(f"trained {p.estimator}: train {name} {metrics[first]:.4f}")
    return 0
