import json

import numpy as np
import pandas as pd
import pytest

from conftest import project_files
from ratchet.core.params import EvaluateParams, FeaturizeParams, TrainParams, parse_section
from ratchet.dataset import schema
from ratchet.pipeline import evaluate
from ratchet.pipeline.featurize import split
from ratchet.pipeline.metrics import classification_metrics
from ratchet.pipeline.train import run as train_run


def test_classification_metrics_on_known_values():
    y = np.array([0, 0, 1, 1])
    proba = np.array([0.1, 0.6, 0.4, 0.9])
    m = classification_metrics(y, proba, threshold=0.5)
    assert m["roc_auc"] == 0.75
    assert m["accuracy"] == 0.5
    assert m["precision"] == 0.5 and m["recall"] == 0.5
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)


def test_train_then_evaluate_writes_metrics_plots_and_predictions(
    tmp_path, validated, repo_params, monkeypatch
):
    monkeypatch.chdir(project_files(tmp_path))  # DVCLive wants no repository: none here
    train, test = split(validated, FeaturizeParams(test_size=0.3, seed=0))
    train.to_parquet("train.parquet")
    test.to_parquet("test.parquet")
    tp = parse_section("train", TrainParams, repo_params).model_copy(update={"max_iter": 60})
    train_run("train.parquet", "model.skops", "live/train", tp)
    assert json.loads((tmp_path / "live/train/metrics.json").read_text())["train_rows"] == len(
        train
    )

    ep = parse_section("evaluate", EvaluateParams, repo_params)
    metrics = evaluate.run("model.skops", "test.parquet", "pred.parquet", "live/eval", ep)
    assert 0.75 < metrics["roc_auc"] < 0.97
    assert json.loads((tmp_path / "live/eval/metrics.json").read_text()) == metrics
    for plot in ("roc", "precision_recall", "confusion_matrix", "calibration"):
        assert (tmp_path / f"live/eval/plots/sklearn/{plot}.json").is_file()
    importance = json.loads((tmp_path / "live/eval/plots/custom/importance.json").read_text())
    top = importance[0]["feature"]
    assert top in {"days_since_last_login", "log_days_since_last_login", "tenure_months"}

    pred = pd.read_parquet("pred.parquet")
    assert list(pred.columns) == [schema.ID, "score", "label", schema.TARGET]
    assert pred[schema.ID].tolist() == test[schema.ID].tolist()
    assert ((pred["score"] >= ep.threshold) == pred["label"].astype(bool)).all()


def test_importance_sample_is_seeded_and_bounded(validated):
    table = validated.reset_index(drop=True)
    assert evaluate.importance_sample(table, len(table), seed=1) is table
    first = evaluate.importance_sample(table, 500, seed=1)
    assert len(first) == 500
    assert first.index.is_monotonic_increasing and first.index.is_unique  # table order kept
    assert first.equals(evaluate.importance_sample(table, 500, seed=1))
    assert not first.index.equals(evaluate.importance_sample(table, 500, seed=2).index)
    assert set(first[schema.TARGET]) == {0, 1}
