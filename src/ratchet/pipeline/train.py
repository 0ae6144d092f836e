"""train stage: fit the Pipeline chosen in params.yaml and save it as one skops file.

It also scores the model for model selection, on the validation rows (featurize.validation:
holdout) or by k-fold cross-validation on the train rows (cv), and logs those metrics under
`valid` in metrics/train/metrics.json (`valid.roc_auc` in `dvc exp show`). It never reads
the test split: that is the evaluate stage's alone.

Early stopping stays off: HistGradientBoosting's own early stopping scores an internal
random split of the train rows, which would neither be the validation rows nor seeded by
featurize; `train.max_iter` is the knob a sweep turns instead, ranked on validation."""

from __future__ import annotations

import argparse
import os
from typing import Any

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
from ratchet.core.params import FeaturizeParams, TrainParams
from ratchet.dataset import contract, schema
from ratchet.dataset.features import feature_columns
from ratchet.pipeline import model, selection
from ratchet.pipeline.live import stage_live

VALID = "valid"  # metrics/train/metrics.json section of the validation metrics
# Of this section the stage reads only these keys, and dvc.yaml lists only them, so that
# e.g. a new featurize.valid_size reruns train only through its changed inputs
# (tests/test_dvc_yaml.py).
PARAMS_KEYS = {"featurize": ("validation", "folds", "seed")}


def fit(train: pd.DataFrame, p: TrainParams) -> tuple[Pipeline, dict[str, float]]:
    """Fit on the training table; return the model and its training-set metrics."""
    pipeline, X, y = _prepared(train, p)
    c = contract.current()
    pipeline.fit(X, y)
    model.attach_contract(pipeline, c)
    metrics = {
        **_fit_metrics(pipeline, X, y, c.task),
        "train_rows": len(train),
        "features": X.shape[1],
    }
    return pipeline, metrics


def _prepared(train: pd.DataFrame, p: TrainParams) -> tuple[Pipeline, pd.DataFrame, np.ndarray]:
    """The unfitted Pipeline and the (X, y) it learns from."""
    if schema.TARGET not in train.columns:
        raise RatchetError(f"training table: missing label column '{schema.TARGET}'")
    numeric, categorical = feature_columns(train)
    X, y = train[numeric + categorical], train[schema.TARGET].to_numpy()
    c = contract.current()
    if len(np.unique(y)) < 2:
        what = "value" if c.task == "regression" else "class"
        raise RatchetError(f"column '{schema.TARGET}': training data holds a single {what}")
    if c.task == "regression":
        y = y.astype("float64")
    return model.build_pipeline(p, numeric, categorical, c.task), X, y


def validate(
    pipeline: Pipeline,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    p: TrainParams,
    fp: FeaturizeParams,
) -> dict[str, float]:
    """Model-selection metrics of the fitted `pipeline` (holdout) or of `p`'s model
    cross-validated on `train` (cv), plus how many rows they rest on."""
    c = contract.current()
    if fp.validation == "cv":
        unfitted, X, y = _prepared(train, p)
        if c.task != "regression":
            fewest = int(np.bincount(y.astype(int)).min())
            if fewest < fp.folds:
                raise RatchetError(
                    f"'featurize.folds' {fp.folds}: the rarest class of column "
                    f"'{schema.TARGET}' has {fewest} train rows; use fewer folds or holdout"
                )
        values = selection.cv_metrics(unfitted, X, y, c, fp.folds, fp.seed)
        return {**values, "rows": len(train), "folds": fp.folds}
    if len(valid) == 0:
        raise RatchetError(
            "validation table: no rows, but featurize.validation is holdout (rerun featurize)"
        )
    return {**selection.holdout_metrics(pipeline, valid, c), "rows": len(valid)}


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
    validation: tuple[str | os.PathLike, FeaturizeParams] | None = None,
) -> dict[str, Any]:
    """Fit, save the model, log train and validation metrics; returns them, the validation
    ones nested under `valid` (as DVCLive writes them). `validation` is (validation table,
    featurize params); the stage always passes it, None skips validation."""
    train = io.read_parquet(train_path)
    pipeline, metrics = fit(train, p)
    valid = {}
    if validation is not None:
        valid_path, fp = validation
        valid = validate(pipeline, train, io.read_parquet(valid_path), p, fp)
    data = model.to_bytes(pipeline)
    with io.atomic_path(model_path) as tmp:
        tmp.write_bytes(data)
    with stage_live(live_dir) as live:
        live.log_params(p.model_dump())
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
        for name, value in valid.items():
            live.log_metric(f"{VALID}/{name}", value, plot=False)
    return {**metrics, VALID: valid} if valid else metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="train features (.parquet)")
    parser.add_argument(
        "--valid", required=True, help="validation features (.parquet; empty with cv)"
    )
    parser.add_argument("--model", required=True, help="model file (.skops)")
    parser.add_argument("--live-dir", required=True, help="DVCLive directory for train metrics")


def command(args: argparse.Namespace) -> int:
    p = params.section("train", params.TrainParams, args.params)
    # featurize.validation/folds/seed say how to validate (holdout or cv, and the folds).
    fp = params.section("featurize", params.FeaturizeParams, args.params)
    metrics = run(args.input, args.model, args.live_dir, p, (args.valid, fp))
    first = next(iter(metrics))  # the task's headline: ROC AUC, accuracy or RMSE
    name = {"train_roc_auc": "ROC AUC", "train_rmse": "RMSE"}.get(first, "accuracy")
    key = {"train_roc_auc": "roc_auc", "train_rmse": "rmse"}.get(first, "accuracy")
    how = "out-of-fold" if fp.validation == "cv" else "validation"
    print(
        f"trained {p.estimator}: train {name} {metrics[first]:.4f}, "
        f"{how} {name} {metrics[VALID][key]:.4f} ({metrics[VALID]['rows']} rows)"
    )
    return 0
