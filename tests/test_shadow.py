"""Shadow comparison: two real models score one batch; the report and its numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLE, project_files, train_model_file
from ratchet.cli import main
from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams, parse_section, read_yaml
from ratchet.dataset import sample, schema
from ratchet.serving.shadow import Side, compare, markdown


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
    from ratchet.pipeline import model

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
