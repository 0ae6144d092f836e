"""Shadow comparison: two real models score one batch; the report and its numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error

from conftest import EXAMPLE, project_files, train_model_file
from ratchet.cli import main
from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams, parse_section, read_yaml
from ratchet.dataset import contract, features, sample, schema, validation
from ratchet.pipeline import model
from ratchet.serving.agreement import compare_multiclass, compare_regression
from ratchet.serving.shadow import Side, check_comparable, compare, markdown
from task_fixtures import raw_rows, toy_contract, toy_model


@pytest.fixture(scope="module")
def other_model(tmp_path_factory, validated):
    """A different model: fewer, bolder trees."""
    path = tmp_path_factory.mktemp("other") / "bold.skops"
    return train_model_file(validated, path, max_iter=20, learning_rate=0.3)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project_files(tmp_path)
    sample.generate(2_000, seed=5).to_parquet("labelled.parquet", index=False)
    return tmp_path


def shadow(*args: str) -> int:
    return main(["shadow", *args])


def test_compare_counts_flips_and_orders_disagreements():
    ids = np.array(["a", "b", "c", "d"])
    base = np.array([0.1, 0.6, 0.4, 0.9])
    cand = np.array([0.1, 0.4, 0.7, 0.85])
    result = compare(ids, base, cand, threshold=0.5, labels=np.array([0, 0, 1, 1]), top=3)
    assert result["agreement"] == 0.5
    assert result["flips"] == {"to_positive": 1, "to_negative": 1}
    assert result["positive_rate"] == {"baseline": 0.5, "candidate": 0.5}
    assert [r["id"] for r in result["top_disagreements"]] == ["c", "b", "d"]
    assert [r["flips"] for r in result["top_disagreements"]] == [True, True, False]
    assert result["scores"]["max_abs_change"] == pytest.approx(0.3)
    assert result["metrics"]["baseline"]["roc_auc"] == 0.75
    assert result["metrics"]["candidate"]["roc_auc"] == 1.0


def test_compare_edge_cases():
    ids, same = np.array(["a", "b"]), np.array([0.2, 0.8])
    result = compare(ids, same, same.copy(), 0.5, labels=np.array([1, 1]))
    assert result["agreement"] == 1.0 and result["top_disagreements"] == []
    assert result["metrics"] is None and "one class" in result["metrics_note"]
    with pytest.raises(RatchetError, match="no rows"):
        compare(np.array([]), np.array([]), np.array([]), 0.5)


def test_markdown_marks_better_and_worse_in_the_gates_direction():
    gate = parse_section("gate", GateParams, read_yaml(EXAMPLE / "params.yaml"))
    ids = np.array([f"id{i}" for i in range(6)])
    y = np.array([0, 0, 0, 1, 1, 1])
    base = np.array([0.2, 0.6, 0.3, 0.4, 0.7, 0.8])
    cand = np.array([0.1, 0.2, 0.3, 0.6, 0.8, 0.9])
    text = markdown(
        compare(ids, base, cand, 0.5, y), Side("prod", "v1.0.0", "a" * 40),
        Side("v1.1.0", "v1.1.0", "b" * 40), "batch.csv", gate, min_agreement=0.9,
    )  # fmt: skip
    assert text.startswith("## Shadow comparison: v1.1.0 vs v1.0.0\n\n❌ **66.67 % agreement**")
    assert "below the required 90.00 %" in text and "roc_auc 0.8889 → 1.0000" in text
    assert "v1.0.0 (prod, aaaaaaaa)" in text
    assert "| roc_auc | 0.8889 | 1.0000 | +0.1111 ▲ |" in text
    assert "| log_loss |" in text and "▼" not in text.split("| log_loss |")[1].split("\n")[0]
    assert "| id1 | 0.6000 | 0.2000 | -0.4000 | yes | 0 |" in text


def test_two_model_files_on_a_labelled_batch(workdir, model_file, other_model):
    code = shadow(
        "--candidate", str(other_model), "--baseline", str(model_file),
        "--input", "labelled.parquet", "--output", "shadow.md", "--json", "shadow.json",
    )  # fmt: skip
    assert code == 0
    result = json.loads((workdir / "shadow.json").read_text())
    report = (workdir / "shadow.md").read_text()
    assert result["rows"] == 2_000 and 0.5 < result["agreement"] < 1.0
    assert result["baseline"]["version"] == "file:model.skops"
    assert "### Metrics on this batch (labels present)" in report
    assert len(result["top_disagreements"]) == 10  # params: shadow.top
    # The report's scores are the scores `ratchet score` gives each model for those rows.
    for path, side in ((model_file, "baseline"), (other_model, "candidate")):
        assert main(["score", "--model", str(path), "--input", "labelled.parquet",
                     "--output", f"{side}.parquet"]) == 0  # fmt: skip
        scored = pd.read_parquet(f"{side}.parquet").set_index(schema.ID)["score"]
        top = result["top_disagreements"]
        assert [scored[r["id"]] for r in top] == [r[side] for r in top]
    flips = (pd.read_parquet("baseline.parquet")["label"] != pd.read_parquet(
        "candidate.parquet")["label"]).mean()  # fmt: skip
    assert result["agreement"] == pytest.approx(1 - flips)


def test_agreement_floor_unlabelled_batch_and_bad_rows(workdir, model_file, other_model, capsys):
    pd.read_parquet("labelled.parquet").drop(columns=[schema.TARGET]).to_csv("new.csv", index=False)
    args = ["--candidate", str(other_model), "--baseline", str(model_file), "--input", "new.csv"]
    assert shadow(*args, "--min-agreement", "0.999") == 1
    out = capsys.readouterr().out
    assert "below the required 99.90 %" in out and "Metrics on this batch" not in out
    assert shadow(*args, "--min-agreement", "0.5", "--top", "0") == 0
    out = capsys.readouterr().out
    assert "at least the required 50.00 %" in out and "disagreements" not in out
    assert "same score" not in out  # --top 0 lists none; it does not claim there are none
    same = ["--candidate", str(model_file), "--baseline", str(model_file), "--input", "new.csv"]
    assert shadow(*same) == 0
    assert "Both versions give every row the same score." in capsys.readouterr().out

    bad = pd.read_csv("new.csv")
    bad.loc[7, "plan"] = "platinum"
    bad.to_csv("bad.csv", index=False)
    assert shadow("--candidate", str(other_model), "--baseline", str(model_file),
                  "--input", "bad.csv") == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "bad.csv: row 8: column 'plan'" in err and "platinum" in err
    assert shadow(*args, "--min-agreement", "1.5") == 2
    assert "--min-agreement must be a share between 0 and 1" in capsys.readouterr().err
    assert shadow("--candidate", "missing.skops", "--baseline", str(model_file),
                  "--input", "new.csv") == 2  # fmt: skip
    assert "missing.skops" in capsys.readouterr().err
    assert shadow("--candidate", str(model_file), "--input", "new.csv") == 2  # prod, no repo
    assert "not inside a git repository" in capsys.readouterr().err


def test_models_of_two_datasets_are_refused(workdir, model_file, capsys):
    pipeline = model.load(model_file)
    c = model.contract_for(pipeline)
    renamed = c.text.replace(f"name: {c.name} ", "name: other-data ", 1)
    assert renamed != c.text
    setattr(pipeline, model.CONTRACT_ATTRIBUTE, renamed)
    (workdir / "other.skops").write_bytes(model.to_bytes(pipeline))
    code = shadow("--candidate", "other.skops", "--baseline", str(model_file),
                  "--input", "labelled.parquet")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"were trained on different datasets (other-data: {schema.ID}" in err


# --- multiclass and regression ---------------------------------------------------------------

NAMES = ("a", "b", "c")


def test_compare_multiclass_against_numpy_and_scikit_learn():
    ids = np.array(["r1", "r2", "r3", "r4", "r5"])
    base = np.array(
        [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4]]
    )
    cand = np.array(
        [[0.6, 0.3, 0.1], [0.5, 0.2, 0.3], [0.1, 0.2, 0.7], [0.1, 0.3, 0.6], [0.3, 0.5, 0.2]]
    )
    labels = np.array([0, 1, 2, 2, 1])
    result = compare_multiclass(ids, base, cand, NAMES, labels, top=10)
    b, c = base.argmax(axis=1), cand.argmax(axis=1)  # [0 1 2 0 2], [0 0 2 2 1]
    assert result["agreement"] == np.mean(b == c) == 0.4
    assert result["flips"] == [
        {"from": "a", "to": "c", "rows": 1}, {"from": "b", "to": "a", "rows": 1},
        {"from": "c", "to": "b", "rows": 1},
    ]  # fmt: skip
    assert result["class_share"]["candidate"] == {"a": 0.4, "b": 0.2, "c": 0.4}
    shift = result["class_scores"]["c"]
    assert shift["change"] == pytest.approx(cand[:, 2].mean() - base[:, 2].mean())
    # Only rows whose class differs, largest probability move first (r4 0.4, r2 0.3, r5 0.2).
    top = result["top_disagreements"]
    assert [r["id"] for r in top] == ["r4", "r2", "r5"]
    assert top[0] == {
        "id": "r4", "baseline": "a", "candidate": "c", "baseline_score": 0.4,
        "candidate_score": 0.6, "change": pytest.approx(0.4), "label": "c",
    }  # fmt: skip
    assert result["metrics"]["baseline"]["accuracy"] == accuracy_score(labels, b) == 0.6
    assert result["metrics"]["candidate"]["macro_f1"] == pytest.approx(
        f1_score(labels, c, average="macro"), abs=1e-6
    )
    assert "metrics_note" not in result


def test_compare_multiclass_keeps_only_metrics_a_partial_batch_defines():
    ids = np.array(["r1", "r2", "r3"])
    base = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    result = compare_multiclass(ids, base, base.copy(), NAMES, np.array([0, 1, 0]))
    assert result["agreement"] == 1.0 and result["flips"] == []
    assert result["top_disagreements"] == []
    kept = result["metrics"]["baseline"]
    assert "roc_auc_ovr" not in kept and "recall_c" not in kept
    assert kept["recall_a"] == 1.0 and kept["accuracy"] == 1.0 and "log_loss" in kept
    assert result["metrics_note"] == (
        "labels hold no row of class c: not defined on this batch: recall_c, roc_auc_ovr"
    )


def test_compare_regression_against_numpy_and_scipy():
    ids = np.array(["r1", "r2", "r3", "r4"])
    base = np.array([10.0, 20.0, 30.0, 40.0])
    cand = np.array([10.5, 19.0, 30.0, 44.0])
    y = np.array([11.0, 19.0, 29.0, 41.0])
    result = compare_regression(ids, base, cand, tolerance=1.0, labels=y, top=2)
    assert result["agreement"] == 0.75  # |Δ| 0.5, 1.0 (at the tolerance: agrees), 0, 4
    assert result["beyond_tolerance"] == 1
    assert result["tolerance"] == {"value": 1.0, "auto": False}
    d = result["differences"]
    assert d["mean_abs"] == 1.375 and d["max_abs"] == 4.0 and d["mean"] == 0.875
    assert d["pearson"] == pytest.approx(np.corrcoef(base, cand)[0, 1])
    assert result["predictions"]["candidate"]["p50"] == np.median(cand)
    assert [(r["id"], r["within_tolerance"]) for r in result["top_disagreements"]] == [
        ("r4", False), ("r2", True)
    ]  # fmt: skip
    assert result["metrics"]["candidate"]["mae"] == mean_absolute_error(y, cand)
    auto = compare_regression(ids, base, cand)
    assert auto["tolerance"] == {"value": 0.05 * np.std(base), "auto": True}  # 0.559
    assert auto["agreement"] == 0.5


def test_compare_regression_edge_cases():
    one = compare_regression(np.array(["r1"]), np.array([3.0]), np.array([3.0]),
                             labels=np.array([2.0]))  # fmt: skip
    # A constant baseline gives an automatic tolerance of 0: only equal predictions agree.
    assert one["agreement"] == 1.0 and one["differences"]["pearson"] is None
    assert "r2" not in one["metrics"]["baseline"] and one["metrics"]["baseline"]["mae"] == 1.0
    assert one["metrics_note"] == "not defined on this batch: r2"
    with pytest.raises(RatchetError, match="no rows"):
        compare_regression(np.array([]), np.array([]), np.array([]))


@pytest.fixture(scope="module")
def toy_models(tmp_path_factory, repo_params):
    """Per task, two versions of one model: 30 trees, and a cruder 5."""
    root = tmp_path_factory.mktemp("toys")
    return {
        (task, n): toy_model(root / f"{task}{n}", task, repo_params, max_iter=n)
        for task in ("multiclass", "regression")
        for n in (30, 5)
    }


def direct_predictions(path, rows: pd.DataFrame) -> np.ndarray:
    """The model's own `predict` on the rows (class numbers, or numbers), outside shadow."""
    pipeline = model.load(path)
    with contract.use(model.contract_for(pipeline)):
        unlabelled = rows.drop(columns=[schema.TARGET])
        table = validation.check(unlabelled, require_target=False, expectations=False).table
        return pipeline.predict(features.build_features(table, model.contract_for(pipeline)))


def test_multiclass_models_through_the_command(workdir, toy_models, capsys):
    rows = raw_rows("multiclass", 400, seed=3)
    rows.to_csv("wine.csv", index=False)
    base, cand = toy_models["multiclass", 30], toy_models["multiclass", 5]
    args = ["--candidate", str(cand), "--baseline", str(base), "--input", "wine.csv"]
    assert shadow(*args, "--json", "s.json", "--output", "s.md", "--min-agreement", "0.5") == 0
    result = json.loads((workdir / "s.json").read_text())
    b, c = direct_predictions(base, rows), direct_predictions(cand, rows)
    assert 0.5 < result["agreement"] < 1.0
    assert result["agreement"] == pytest.approx(np.mean(b == c))
    names = np.array(NAMES)
    for row in result["top_disagreements"]:  # ids are 1-based row numbers (no id column)
        i = int(row["id"]) - 1
        assert (row["baseline"], row["candidate"]) == (names[b[i]], names[c[i]])
        assert row["label"] == rows["y"][i]
    assert sum(f["rows"] for f in result["flips"]) == np.sum(b != c)
    report = (workdir / "s.md").read_text()
    assert "at least the required 50.00 %" in report and "| baseline → candidate | rows |" in report
    assert "| macro_f1 |" in report and "| recall_c |" in report
    assert shadow(*args, "--min-agreement", "0.99") == 1
    assert shadow(*args, "--tolerance", "1") == 2
    assert "--tolerance applies to regression models; these are multiclass" in (
        capsys.readouterr().err
    )


def test_regression_models_through_the_command(workdir, toy_models, capsys):
    rows = raw_rows("regression", 400, seed=3)
    rows.drop(columns=["y"]).to_parquet("new.parquet")
    base, cand = toy_models["regression", 30], toy_models["regression", 5]
    args = ["--candidate", str(cand), "--baseline", str(base), "--input", "new.parquet"]
    assert shadow(*args, "--tolerance", "2", "--json", "s.json", "--min-agreement", "0.5") == 0
    out = capsys.readouterr().out
    result = json.loads((workdir / "s.json").read_text())
    gap = np.abs(direct_predictions(cand, rows) - direct_predictions(base, rows))
    assert result["agreement"] == pytest.approx(np.mean(gap <= 2)) and result["agreement"] < 1
    assert result["differences"]["max_abs"] == pytest.approx(gap.max())
    assert result["metrics"] is None and "true value" not in out
    assert "tolerance ±2 (shadow.tolerance)" in out and "within tolerance** (at least" in out
    # Automatic tolerance: 5 % of the spread of the baseline's predictions, said in the report.
    assert shadow(*args, "--min-agreement", "0.9") == 1
    out = capsys.readouterr().out
    assert "auto: 5% of the baseline predictions' standard deviation" in out
    assert "below the required 90.00 %" in out


def test_models_of_two_tasks_are_refused(workdir, toy_models, capsys):
    code = shadow(
        "--candidate", str(toy_models["regression", 5]),
        "--baseline", str(toy_models["multiclass", 30]), "--input", "labelled.parquet",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "is a regression model and file:model.skops a multiclass one" in err


def test_two_model_files_need_no_contract_on_disk(tmp_path, toy_models):
    """Each model carries its contract: comparing two files works outside any project."""
    shutil.copy(EXAMPLE / "params.yaml", tmp_path / "params.yaml")
    raw_rows("multiclass", 50, seed=4).to_csv(tmp_path / "rows.csv", index=False)
    env = {k: v for k, v in os.environ.items() if k != contract.ENV_VAR}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ratchet"), "shadow", "--input", "rows.csv",
         "--candidate", str(toy_models["multiclass", 5]),
         "--baseline", str(toy_models["multiclass", 30])],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Batch `rows.csv`, 50 rows, 3 classes." in done.stdout


def test_check_comparable_names_what_differs():
    multi, side = toy_contract("multiclass"), Side("x.skops", "v2", None)
    check_comparable(multi, toy_contract("multiclass"), side, side)  # same: no error
    with pytest.raises(RatchetError, match="v2 is a regression model and v2 a multiclass one"):
        check_comparable(multi, toy_contract("regression"), side, side)
    with pytest.raises(RatchetError, match="trained on different datasets"):
        check_comparable(multi, toy_contract("multiclass", name="other"), side, side)
    spec = multi.spec.model_dump(mode="json")
    spec["labels"] = {"a": 0, "c": 1, "b": 2}
    spec["columns"]["y"]["categories"] = ["a", "c", "b"]
    with pytest.raises(RatchetError, match="predicts the classes a, c, b and v2 a, b, c"):
        check_comparable(multi, contract.parse(spec), side, side)
