"""Per-row outputs of every task: what `ratchet score`, the service and shadow write."""

from __future__ import annotations

import numpy as np
import pytest

from ratchet.dataset import contract, features
from ratchet.pipeline import model, predict
from task_fixtures import CLASSES, toy_contract, toy_model, toy_table


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_outputs_follow_the_models_task(tmp_path, repo_params, task):
    pipeline = model.load(toy_model(tmp_path, task, repo_params))
    table = toy_table(task, rows=50, seed=1)
    with contract.use(toy_contract(task)):
        feats = features.build_features(table)
    out = predict.outputs(pipeline, feats, threshold=0.5)
    assert list(out) == [*predict.OUTPUT_COLUMNS[task]] + (
        [predict.proba_column(c) for c in CLASSES] if task == "multiclass" else []
    )
    if task == "regression":
        assert np.array_equal(out["prediction"], pipeline.predict(feats))
        return
    proba = pipeline.predict_proba(feats)
    assert set(out["label"]) <= set(CLASSES)  # the data's own class names
    assert out["label"].tolist() == [list(CLASSES)[i] for i in proba.argmax(axis=1)]
    assert np.array_equal(out["score"], proba.max(axis=1))
    assert np.array_equal(out["proba_c"], proba[:, 2])
    empty = predict.outputs(pipeline, feats.iloc[:0], threshold=0.5)
    assert all(len(v) == 0 for v in empty.values()) and list(empty) == list(out)
