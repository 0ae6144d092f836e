"""Model cards per task, built from a real commit: the contract there says the task, the
classes and the target; the metrics are those of a real model on held-out rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE, run
from ratchet.dataset import contract
from ratchet.pipeline import metrics, model
from ratchet.registry import modelcard
from task_fixtures import toy_contract, toy_model, toy_table

# Class names as a user's data spells them: spaces, capitals, an apostrophe.
CLASSES = {"Barolo DOCG": 0, "grignolino": 1, "Barbera d'Asti": 2}
BINARY_WORDS = ("threshold", "positive", "label rate", "label_rate", "roc_auc ")


def multiclass_contract() -> contract.Contract:
    doc = yaml.safe_load(toy_contract("multiclass").text)
    doc["labels"] = CLASSES
    doc["columns"]["y"]["categories"] = list(CLASSES)
    return contract.parse(doc)


def held_out_metrics(tmp_path: Path, task: str, repo_params: dict) -> dict[str, float]:
    """A toy model's metrics on rows it was not trained on, as evaluate computes them."""
    pipeline = model.load(toy_model(tmp_path / task, task, repo_params))
    test = toy_table(task, rows=200, seed=1)
    X, y = test.drop(columns=["y"]), test["y"].to_numpy(dtype="float64")
    if task == "regression":
        return metrics.regression_metrics(y, pipeline.predict(X))
    names = multiclass_contract().class_names
    return metrics.multiclass_metrics(y.astype(int), pipeline.predict_proba(X), names)


def metric_names(card: str) -> list[str]:
    """The names in a card's metrics table, in order."""
    table = card.split("| metric | value |\n| --- | ---: |\n")[1].split("\n\n")[0]
    return [line.split(" | ")[0].removeprefix("| ") for line in table.splitlines()]


def commit_results(repo: Path, c: contract.Contract, values: dict[str, float]) -> str:
    """A repository whose one commit holds a contract, params and pipeline results."""
    (repo / "dataset").mkdir(parents=True)
    (repo / "metrics/evaluate").mkdir(parents=True)
    (repo / contract.CONTRACT_FILE).write_text(c.text)
    (repo / "params.yaml").write_text((EXAMPLE / "params.yaml").read_text())
    (repo / modelcard.METRICS_FILE).write_text(json.dumps(values))
    (repo / modelcard.DATA_FILE).write_text(json.dumps({"rows": 300, "label_rate": 9.87}))
    lock = {"stages": {"train": {"outs": [{"path": "models/model.skops", "md5": "0" * 32}]}}}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "results"], repo)
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def test_a_multiclass_card_names_its_classes_and_their_precision_and_recall(tmp_path, repo_params):
    values = held_out_metrics(tmp_path, "multiclass", repo_params)
    commit = commit_results(tmp_path / "repo", multiclass_contract(), values)
    f = modelcard.facts(tmp_path / "repo", commit)
    assert (f.task, f.target, f.classes) == ("multiclass", "y", tuple(CLASSES))
    card = modelcard.markdown("wine-model", "v1.0.0", f)

    assert "- task: multiclass: `y` in 3 classes: Barolo DOCG, grignolino, Barbera d'Asti" in card
    assert metric_names(card) == [
        "accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "log_loss", "roc_auc_ovr",
    ]  # fmt: skip
    key = "barbera_d_asti"
    row = f"| Barbera d'Asti | {values[f'precision_{key}']:.4f} | {values[f'recall_{key}']:.4f} |"
    assert "## Per class (held-out split)\n\n| class | precision | recall |" in card
    assert row in card
    assert "- rows: 300\n" in card
    assert not [w for w in BINARY_WORDS if w in card.lower()]

    tag = modelcard.short("wine-model", "v1.0.0", f)
    assert "task: multiclass: y in 3 classes: Barolo DOCG" in tag
    assert f"metrics: macro_f1={values['macro_f1']:.4f} " in tag
    assert "data: rows=300\n" in tag and "label_rate" not in tag


def test_a_regression_card_names_its_target_and_error_metrics(tmp_path, repo_params):
    values = held_out_metrics(tmp_path, "regression", repo_params)
    assert values["r2"] > 0.5  # a real fit of the nearly linear toy target (30 trees)
    commit = commit_results(tmp_path / "repo", toy_contract("regression"), values)
    f = modelcard.facts(tmp_path / "repo", commit)
    card = modelcard.markdown("price-model", "v2.0.0", f, stages=["prod"])

    assert "- task: regression: predicts `y`" in card
    assert metric_names(card) == ["rmse", "mae", "r2", "median_ae", "mape"]
    assert f"| rmse | {values['rmse']:.4f} |" in card and "Per class" not in card
    assert not [w for w in BINARY_WORDS if w in card.lower()]
    summary = modelcard.summary(tmp_path / "repo", "price-model", "v2.0.0", commit)
    assert list(summary["metrics"]) == ["rmse", "mae", "r2"]


def test_without_a_readable_contract_the_metrics_say_the_task(tmp_path, repo_params):
    values = held_out_metrics(tmp_path, "regression", repo_params)
    broken = contract.parse(yaml.safe_load(toy_contract("regression").text))
    commit = commit_results(tmp_path / "repo", broken, values)
    (tmp_path / "repo" / contract.CONTRACT_FILE).write_text("task: [unclosed\n")
    run(["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "x"],
        tmp_path / "repo")  # fmt: skip
    head = run(["git", "rev-parse", "HEAD"], tmp_path / "repo").stdout.strip()
    assert modelcard.facts(tmp_path / "repo", commit).target == "y"
    f = modelcard.facts(tmp_path / "repo", head)
    assert (f.task, f.target) == ("regression", None)
    assert "- task: regression: predicts a number" in modelcard.markdown("m", "v1.0.0", f)


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ({"roc_auc": 0.8, "log_loss": 0.3}, "binary"),
        ({"macro_f1": 0.7, "log_loss": 0.6, "precision_a": 0.5}, "multiclass"),
        ({"rmse": 3.0, "r2": 0.4}, "regression"),
    ],
)
def test_task_of_a_metrics_file(values, task):
    assert modelcard.task_of(values) == task


def test_a_binary_card_keeps_its_metrics_and_label_rate(tmp_path):
    values = {"roc_auc": 0.86, "pr_auc": 0.6, "f1": 0.5, "precision": 0.55, "log_loss": 0.34}
    commit = commit_results(tmp_path / "repo", contract.load(EXAMPLE / contract.CONTRACT_FILE),
                            values)  # fmt: skip
    f = modelcard.facts(tmp_path / "repo", commit)
    card = modelcard.markdown("churn-model", "v1.0.0", f)
    assert f.task == "binary" and "- task:" not in card and "Per class" not in card
    metric_rows = [f"| {k} | {v:.4f} |" for k, v in values.items()]
    assert "| --- | ---: |\n" + "\n".join(metric_rows) + "\n\n## Training" in card
    assert "- rows: 300, label rate: 9.87" in card
    tag = modelcard.short("churn-model", "v1.0.0", f)
    assert "metrics: roc_auc=0.8600 pr_auc=0.6000 f1=0.5000 log_loss=0.3400\n" in tag
    assert "data: rows=300 label_rate=9.87" in tag and "task:" not in tag
