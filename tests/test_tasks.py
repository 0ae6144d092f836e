"""Multiclass and regression on real tables, as a user runs them: `ratchet init` infers the
task, `dvc repro` trains and evaluates, a second `dvc repro` changes nothing, and a change
that degrades the model is blocked by the gate; the model is registered, promoted, smoke-tested,
scored, served, shadowed and monitored for drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.public_data import patients, wines
from conftest import BIN, free_port, make_template_repo, run, set_param, wait_healthy

pytestmark = pytest.mark.slow

METRICS = "metrics/evaluate/metrics.json"


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
    set_param(repo, "max_iter: 200", "max_iter: 3")
    run(["dvc", "repro", "-q"], repo)
    git(repo, "commit", "-qam", "Fewer trees")
    gate = run([str(BIN / "ratchet"), "gate", "--base", "main"], repo, check=False)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    run([str(BIN / "ratchet"), "report", "--base", "main"], repo)
    report = (repo / "reports/pr/report.md").read_text()
    assert "Gate fails" in report
    return gate.stdout


def ratchet(repo: Path, *args: str, check: bool = True):
    return run([str(BIN / "ratchet"), *args], repo, check=check)


def serve_one(repo: Path, record: dict) -> dict:
    """Start `ratchet serve` on the prod model, POST one record, return the answer."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "ratchet"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_healthy(port, process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict", data=json.dumps(record).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())
    finally:
        process.terminate()
        process.wait(timeout=30)


def other_model(repo: Path, tmp_path: Path) -> Path:
    """A second model of the same data (learning rate doubled), trained on a branch."""
    git(repo, "checkout", "-q", "-b", "faster")
    set_param(repo, "learning_rate: 0.05", "learning_rate: 0.1")
    run(["dvc", "repro", "-q"], repo)
    shutil.copy2(repo / "models/model.skops", tmp_path / "candidate.skops")
    git(repo, "reset", "-q", "--hard")  # dvc repro stages dvc.lock itself
    git(repo, "checkout", "-q", "main")
    run(["dvc", "checkout", "-q"], repo)
    return tmp_path / "candidate.skops"


def lifecycle(repo: Path, tmp_path: Path, table: pd.DataFrame, target: str) -> dict:
    """Register and promote to prod, smoke-test, score, serve one record, shadow a second
    model and check drift, all on the task's model; what each step returned."""
    source = tmp_path / "batch.csv"
    table.to_csv(source, index=False)
    assert "v1.0.0" in ratchet(repo, "model", "register", "--version", "v1.0.0").stdout
    for stage in ("dev", "staging", "prod"):
        ratchet(repo, "model", "promote", "v1.0.0", "--to", stage)
    out: dict = {"smoke": ratchet(repo, "model", "smoke", "--stage", "prod").stdout}
    ratchet(repo, "score", "--input", str(source), "--output", str(tmp_path / "s.parquet"))
    out["scores"] = pd.read_parquet(tmp_path / "s.parquet")
    assert len(out["scores"]) == len(table)
    record = json.loads(table.drop(columns=[target]).iloc[:1].to_json(orient="records"))[0]
    out["served"] = serve_one(repo, record)
    candidate = other_model(repo, tmp_path)
    shadow = ratchet(repo, "shadow", "--candidate", str(candidate), "--input", str(source),
                     "--json", str(tmp_path / "shadow.json"))  # fmt: skip
    out["shadow"] = (shadow.stdout, json.loads((tmp_path / "shadow.json").read_text()))
    ratchet(repo, "drift", "--current", str(source), "--output-dir", str(tmp_path / "same"))
    out["same"] = json.loads((tmp_path / "same/drift.json").read_text())
    # Another population, every value still valid: the upper 40 % of the feature that
    # follows the target most closely.
    codes = pd.Series(pd.factorize(table[target], sort=True)[0], index=table.index)
    y = table[target] if table[target].dtype.kind == "f" else codes
    features = table.drop(columns=[target]).select_dtypes("number")
    leading = features.corrwith(y).abs().idxmax()
    shifted = table[table[leading] > table[leading].quantile(0.6)]
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    drifted = ratchet(repo, "drift", "--current", str(tmp_path / "shifted.csv"),
                      "--output-dir", str(tmp_path / "shifted"), check=False)  # fmt: skip
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    out["shifted"] = json.loads((tmp_path / "shifted/drift.json").read_text())
    assert git(repo, "status", "--porcelain") == ""
    return out


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

    table = wines()
    life = lifecycle(repo, tmp_path, table, "cultivar")
    assert "smoke test passed" in life["smoke"]
    scores, classes = life["scores"], ["barbera", "barolo", "grignolino"]
    assert list(scores.columns) == [
        "row", "label", "score", *[f"proba_{c}" for c in classes], "model",
    ]  # fmt: skip
    assert (scores["label"] == table["cultivar"]).mean() > 0.9  # the user's own class names
    assert np.allclose(scores[[f"proba_{c}" for c in classes]].sum(axis=1), 1.0)
    (served,) = life["served"]["predictions"]
    assert served["label"] == scores["label"].iloc[0]
    assert served["probabilities"] == pytest.approx(
        {c: scores[f"proba_{c}"].iloc[0] for c in classes}, abs=1e-12
    )
    report, shadow = life["shadow"]
    assert shadow["task"] == "multiclass" and 0.8 <= shadow["agreement"] <= 1.0
    assert "agreement" in report.lower()
    assert life["same"]["verdict"] == "no drift"
    assert life["shifted"]["verdict"] == "drift"
    assert life["shifted"]["prediction_drift"]["column"] == "predicted_class"
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

    table = patients()
    life = lifecycle(repo, tmp_path, table, "progression")
    assert "smoke test passed" in life["smoke"]
    scores = life["scores"]
    assert list(scores.columns) == ["row", "prediction", "model"]
    assert np.corrcoef(scores["prediction"], table["progression"])[0, 1] > 0.6
    (served,) = life["served"]["predictions"]
    assert served["prediction"] == pytest.approx(scores["prediction"].iloc[0], abs=1e-9)
    report, shadow = life["shadow"]
    assert shadow["task"] == "regression" and shadow["differences"]["pearson"] > 0.9
    assert "tolerance" in report
    assert life["same"]["verdict"] == "no drift"
    assert life["shifted"]["verdict"] == "drift"
    assert life["shifted"]["prediction_drift"]["column"] == "prediction"
    assert "rmse" in degrade_and_gate(repo)
