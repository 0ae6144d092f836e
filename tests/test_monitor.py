"""Drift detection quality and the `ratchet drift` command, with real Evidently."""

from __future__ import annotations

import json

import pytest

from conftest import EXAMPLE, project_files
from ratchet.cli import main
from ratchet.core import params
from ratchet.core.errors import RatchetError
from ratchet.dataset import features, sample, schema
from ratchet.monitoring import monitor


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
