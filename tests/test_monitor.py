"""Drift detection quality and the `ratchet drift` command, with real Evidently."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import EXAMPLE, project_files
from ratchet.cli import main
from ratchet.core import params
from ratchet.core.errors import RatchetError
from ratchet.dataset import features, sample, schema
from ratchet.monitoring import monitor
from task_fixtures import raw_rows, toy_contract, toy_model, toy_table


@pytest.fixture(scope="module")
def p() -> params.MonitorParams:
    return params.section("monitor", params.MonitorParams, EXAMPLE / "params.yaml")


def batch(rows: int, seed: int, drift: bool = False) -> monitor.Batch:
    table = schema.raw_schema().validate(sample.generate(rows, seed, drift=drift))
    return monitor.Batch(
        features.build_features(table).reset_index(drop=True),
        labels=table[schema.TARGET].reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def reference() -> monitor.Batch:
    return batch(5_000, seed=1_000)


@pytest.mark.slow
def test_no_false_alarms_and_every_drifted_batch_is_caught(reference, p):
    same = [
        monitor.summarise(monitor.run_report(reference, batch(2_000, seed), p), p)["verdict"]
        for seed in range(20)
    ]
    assert same.count("no drift") >= 19, same
    for seed in range(100, 105):
        summary = monitor.summarise(monitor.run_report(reference, batch(2_000, seed, True), p), p)
        assert summary["verdict"] == "drift"
        assert {"age", "days_since_last_login"} <= set(summary["drifted_columns"])


def test_summary_lists_method_score_threshold_and_target_drift(reference, p):
    summary = monitor.summarise(monitor.run_report(reference, batch(2_000, 7, True), p), p)
    by_column = {c["column"]: c for c in summary["columns"]}
    assert set(by_column) == {
        "age", "income", "tenure_months", "monthly_charges", "support_tickets",
        "days_since_last_login", "plan", "region", "signup_channel",
    }  # fmt: skip
    age = by_column["age"]
    assert age["drifted"] and age["score"] > age["threshold"] == 0.1
    assert "Wasserstein" in age["method"]
    assert summary["drift_share"] == pytest.approx(len(summary["drifted_columns"]) / 9, abs=1e-6)
    assert summary["target_drift"]["column"] == schema.TARGET
    assert summary["prediction_drift"] is None  # no model given


def test_per_column_settings_and_ignored_columns(reference, p):
    custom = p.model_copy(
        update={"per_column_threshold": {"age": 5.0}, "ignore_columns": [*p.ignore_columns, "plan"]}
    )
    summary = monitor.summarise(
        monitor.run_report(reference, batch(2_000, 8, True), custom), custom
    )
    assert "age" not in summary["drifted_columns"]
    assert "plan" not in {c["column"] for c in summary["columns"]}
    bad = p.model_copy(update={"per_column_method": {"agee": "psi"}})
    with pytest.raises(RatchetError, match="unknown columns"):
        monitor.run_report(reference, batch(500, 9), bad)


def test_sampling_is_seeded(reference):
    a = monitor.sample(reference, 100, seed=3)
    b = monitor.sample(reference, 100, seed=3)
    assert a.features.equals(b.features) and len(a.labels) == 100


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project_files(tmp_path)
    sample.generate(5_000, 1).to_csv("reference.csv", index=False)
    sample.generate(3_000, 2).to_csv("same.csv", index=False)
    sample.generate(3_000, 3, drift=True).drop(columns=[schema.TARGET]).to_csv(
        "drifted.csv", index=False
    )
    return tmp_path


def test_drift_command_exit_codes_and_outputs(workdir, capsys):
    args = ["drift", "--reference", "reference.csv", "--output-dir", "out"]
    assert main([*args, "--current", "same.csv"]) == 0
    assert main([*args, "--current", "drifted.csv"]) == 1
    summary = json.loads((workdir / "out/drift.json").read_text())
    assert summary["verdict"] == "drift" and summary["target_drift"] is None  # no labels
    html = (workdir / "out/drift.html").read_text()
    assert html.lstrip().startswith("<!DOCTYPE html>") and len(html) > 100_000
    assert "drift:" in capsys.readouterr().out


def test_invalid_batch_is_a_data_problem_not_drift(workdir, capsys):
    broken = sample.generate(500, 4)
    broken.loc[3, "plan"] = "platinum"
    broken.to_csv("broken.csv", index=False)
    code = main(["drift", "--current", "broken.csv", "--reference", "reference.csv"])
    assert code == 2
    err = capsys.readouterr().err
    assert "a data problem rather than drift" in err and "column 'plan'" in err


# --- multiclass and regression models: the toy datasets of task_fixtures -------------------

TASK_PREDICTIONS = {
    "multiclass": ["predicted_class", "proba_a", "proba_b", "proba_c"],
    "regression": ["prediction"],
}


@pytest.fixture(scope="module", params=["multiclass", "regression"])
def task_dir(request, tmp_path_factory, repo_params):
    """A model of the task and batches as users' files: reference, same world, shifted x1."""
    task = request.param
    folder = project_files(tmp_path_factory.mktemp(task))
    toy_model(folder / "model", task, repo_params)
    # Above 1,000 reference rows Evidently compares by effect size (Wasserstein,
    # Jensen-Shannon): no p-value false alarms on three columns.
    raw_rows(task, 2_000, seed=1).to_csv(folder / "reference.csv", index=False)
    raw_rows(task, 1_500, seed=2).to_csv(folder / "same.csv", index=False)
    raw_rows(task, 1_500, seed=3, shift=1.0).to_csv(folder / "shifted.csv", index=False)
    unlabelled = raw_rows(task, 1_500, seed=4, shift=1.0).drop(columns=["y"])
    unlabelled.to_csv(folder / "unlabelled.csv", index=False)
    return task, folder


def drift_of(folder, current: str, capsys) -> tuple[int, dict, str, str]:
    out = f"out-{current}"
    args = ["drift", "--model", "model/model.skops", "--reference", "reference.csv"]
    code = main([*args, "--current", current, "--output-dir", out, "--summary-md", f"{out}.md"])
    summary = json.loads((folder / out / "drift.json").read_text())
    return code, summary, (folder / f"{out}.md").read_text(), capsys.readouterr().out


def predictions_of(summary: dict) -> list[dict]:
    return [summary["prediction_drift"], *summary.get("class_probability_drift", [])]


def test_task_model_same_world_does_not_drift(task_dir, capsys, monkeypatch):
    task, folder = task_dir
    monkeypatch.chdir(folder)
    code, summary, _, out = drift_of(folder, "same.csv", capsys)
    assert code == 0 and summary["verdict"] == "no drift", out
    assert summary["drifted_columns"] == []
    predictions = predictions_of(summary)
    assert [e["column"] for e in predictions] == TASK_PREDICTIONS[task]
    assert not any(e["drifted"] for e in predictions)
    methods = {e["column"]: e["method"] for e in predictions}
    if task == "multiclass":
        assert methods["predicted_class"] == "jensenshannon"  # the class is a category
        assert summary["target_drift"]["method"] == "Jensen-Shannon distance"
    else:
        assert methods == {"prediction": "wasserstein"}
        assert summary["target_drift"]["method"] == "Wasserstein distance (normed)"
    assert not summary["target_drift"]["drifted"]
    assert f"prediction drift ({TASK_PREDICTIONS[task][0]}): stable" in out


def test_task_model_shifted_batch_drifts_in_inputs_predictions_and_target(
    task_dir, capsys, monkeypatch
):
    task, folder = task_dir
    monkeypatch.chdir(folder)
    code, summary, md, out = drift_of(folder, "shifted.csv", capsys)
    assert code == 1 and summary["verdict"] == "drift"
    assert summary["drifted_columns"] == ["x1"]
    assert all(e["drifted"] for e in predictions_of(summary)), summary
    assert summary["target_drift"]["column"] == "y" and summary["target_drift"]["drifted"]
    for name in TASK_PREDICTIONS[task]:
        assert f"| {name} | " in md and f"{name}" in out
    code, summary, _, _ = drift_of(folder, "unlabelled.csv", capsys)
    assert code == 1 and summary["target_drift"] is None
    assert summary["prediction_drift"]["drifted"]


def test_predicted_class_drift_alone_is_drift(repo_params, tmp_path, p):
    """Same inputs, but a model that now predicts one class: the verdict is drift."""
    from ratchet.dataset import contract
    from ratchet.monitoring.drift import scored
    from ratchet.pipeline import model

    pipeline = model.load(toy_model(tmp_path, "multiclass", repo_params))
    with contract.use(toy_contract("multiclass")):
        same = monitor.Batch(features.build_features(toy_table("multiclass", 1_500, seed=5)))
        reference = scored(same, pipeline)
        stuck = dict(reference.predictions, predicted_class=np.full(1_500, "b", dtype=object))
        current = monitor.Batch(same.features, stuck)
        summary = monitor.summarise(monitor.run_report(reference, current, p), p)
    assert summary["drifted_columns"] == [] and not summary["dataset_drift"]
    assert summary["prediction_drift"]["drifted"] and summary["verdict"] == "drift"
    assert not any(e["drifted"] for e in summary["class_probability_drift"])


def test_prediction_names_that_clash_with_a_column_are_refused(repo_params, tmp_path, p):
    from ratchet.dataset import contract

    with contract.use(toy_contract("regression")):
        feats = features.build_features(toy_table("regression", 200)).rename(
            columns={"x2": "prediction"}
        )
        both = monitor.Batch(feats, {"prediction": np.zeros(200)})
        with pytest.raises(RatchetError, match=r"\['prediction'\] share a name"):
            monitor.run_report(both, both, p)
