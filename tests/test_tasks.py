"""Multiclass and regression on real tables, as a user runs them: `ratchet init` infers the
task, `dvc repro` trains and evaluates, a second `dvc repro` changes nothing, and a change
that degrades the model is blocked by the gate."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BIN, make_template_repo, run

pytestmark = pytest.mark.slow

METRICS = "metrics/evaluate/metrics.json"


def wines() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.frame
    names = np.array(["barolo", "grignolino", "barbera"])  # the three cultivars
    frame["cultivar"] = names[frame.pop("target").to_numpy()]
    return frame


def patients() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame = frame.rename(columns={"target": "progression"})
    return frame


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).stdout


def adopt(tmp_path: Path, frame: pd.DataFrame, target: str) -> tuple[Path, dict]:
    repo = make_template_repo(tmp_path / "repo", rows=1_000)
    source = tmp_path / "table.csv"
    frame.to_csv(source, index=False)
    init = run([str(BIN / "ratchet"), "init", "--from", str(source), "--target", target], repo)
    started = time.perf_counter()
    run(["dvc", "repro", "-q"], repo)
    seconds = time.perf_counter() - started
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Use our data")
    run(["dvc", "repro", "-q"], repo)
    assert git(repo, "status", "--porcelain") == ""
    metrics = json.loads((repo / METRICS).read_text())
    print(f"\n{target}: dvc repro {seconds:.1f} s; {metrics}")
    return repo, {"init": init.stdout, "metrics": metrics, "seconds": seconds}


def degrade_and_gate(repo: Path) -> str:
    git(repo, "checkout", "-q", "-b", "fewer-trees")
    path = repo / "params.yaml"
    text = path.read_text()
    assert "max_iter: 200" in text
    path.write_text(text.replace("max_iter: 200", "max_iter: 3", 1))
    run(["dvc", "repro", "-q"], repo)
    git(repo, "commit", "-qam", "Fewer trees")
    gate = run([str(BIN / "ratchet"), "gate", "--base", "main"], repo, check=False)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    run([str(BIN / "ratchet"), "report", "--base", "main"], repo)
    report = (repo / "reports/pr/report.md").read_text()
    assert "Gate fails" in report
    return gate.stdout


def test_multiclass_wine(tmp_path):
    repo, out = adopt(tmp_path, wines(), "cultivar")
    c = yaml.safe_load((repo / "dataset/contract.yaml").read_text())
    assert c["task"] == "multiclass"
    assert c["labels"] == {"barbera": 0, "barolo": 1, "grignolino": 2}
    m = out["metrics"]
    assert m["macro_f1"] > 0.85 and m["log_loss"] < 0.5
    assert {"precision_barolo", "recall_barbera", "roc_auc_ovr"} <= set(m)
    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    assert [next(iter(p)) for p in dvc["plots"]] == [
        "Confusion-Matrix", "Confusion-Matrix-Normalized", "Precision-Recall-by-Class",
        "Feature-Importance",
    ]  # fmt: skip
    plots = repo / "metrics/evaluate/plots"
    assert (plots / "sklearn/confusion_matrix.json").is_file()
    for cultivar in ("barbera", "barolo", "grignolino"):
        assert (plots / f"sklearn/precision_recall_by_class/{cultivar}.json").is_file()
    assert not (plots / "sklearn/roc.json").exists()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["gate"]["primary"] == "macro_f1"
    assert "log_loss" in degrade_and_gate(repo)


def test_regression_diabetes(tmp_path):
    repo, out = adopt(tmp_path, patients(), "progression")
    c = yaml.safe_load((repo / "dataset/contract.yaml").read_text())
    assert c["task"] == "regression" and c["labels"] is None
    m = out["metrics"]
    assert set(m) == {"rmse", "mae", "r2", "median_ae", "mape"}
    assert m["r2"] > 0.2
    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    assert [next(iter(p)) for p in dvc["plots"]] == [
        "Predicted-vs-Actual", "Residuals", "Residual-Histogram", "Feature-Importance",
    ]  # fmt: skip
    for name in ("predicted_actual", "residuals", "residual_histogram", "importance"):
        assert (repo / f"metrics/evaluate/plots/custom/{name}.json").is_file()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["gate"]["primary"] == "rmse"
    assert "rmse" in degrade_and_gate(repo)
