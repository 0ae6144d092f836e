"""train stage: fit the Pipeline chosen in params.yaml and save it as one skops file."""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
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
    if len(np.unique(y)) < 2:
        raise RatchetError(f"column '{schema.TARGET}': training data holds a single class")
    pipeline = model.build_pipeline(p, numeric, categorical)
    pipeline.fit(X, y)
    model.attach_contract(pipeline, contract.current())
    proba = pipeline.predict_proba(X)[:, 1]
    metrics = {
        "train_roc_auc": round(float(roc_auc_score(y, proba)), 6),
        "train_log_loss": round(float(log_loss(y, proba)), 6),
        "train_rows": len(train),
        "features": len(numeric) + len(categorical),
    }
    return pipeline, metrics


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
    print(f"trained {p.estimator}: train ROC AUC {metrics['train_roc_auc']:.4f}")
    return 0
