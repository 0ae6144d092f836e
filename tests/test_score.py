"""Batch scoring: chunked, validated, the training feature function, parity with evaluate."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import BIN, EXAMPLE, project_files, run
from ratchet.cli import main
from ratchet.dataset import sample, schema
from ratchet.dataset.features import build_features
from ratchet.pipeline import evaluate, model
from task_fixtures import raw_rows, scaler_overflow, scored_outputs, toy_model


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project_files(tmp_path)
    return tmp_path


def score(*args: str) -> int:
    return main(["score", *args])


def test_scores_match_the_evaluate_stage_in_any_chunk_size(workdir, model_file):
    batch = sample.generate(1_000, seed=11).drop(columns=[schema.TARGET])
    batch.to_parquet("batch.parquet", index=False)
    assert (
        score("--model", str(model_file), "--input", "batch.parquet", "--output", "a.parquet") == 0
    )
    assert (
        score("--model", str(model_file), "--input", "batch.parquet", "--output", "b.parquet",
              "--chunk-rows", "97") == 0
    )  # fmt: skip
    a, b = pd.read_parquet("a.parquet"), pd.read_parquet("b.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == [schema.ID, "score", "label", "model"]
    assert a[schema.ID].tolist() == batch[schema.ID].tolist()
    expected = evaluate.scores(model.load(model_file), build_features(schema.raw_schema(
        require_target=False).validate(batch)))  # fmt: skip
    np.testing.assert_array_equal(a["score"].to_numpy(), expected)
    assert ((a["score"] >= 0.5) == a["label"].astype(bool)).all()
    assert a["model"].unique().tolist() == ["file:model.skops"]


def test_csv_with_labels_is_scored_too(workdir, model_file):
    sample.generate(300, seed=12).to_csv("batch.csv", index=False)
    assert score("--model", str(model_file), "--input", "batch.csv", "--output", "o.parquet") == 0
    assert len(pd.read_parquet("o.parquet")) == 300


def test_bad_rows_stop_by_default_and_can_be_quarantined(workdir, model_file, capsys):
    batch = sample.generate(500, seed=13)
    batch.loc[250, "plan"] = "platinum"
    batch.loc[400, "age"] = 7
    batch.to_csv("batch.csv", index=False)
    args = ["--model", str(model_file), "--input", "batch.csv", "--chunk-rows", "100"]
    assert score(*args, "--output", "o.parquet") == 2
    err = capsys.readouterr().err
    assert "row 251: column 'plan'" in err and "--quarantine" in err
    assert not (workdir / "o.parquet").exists()  # nothing half-written

    assert score(*args, "--output", "o.parquet", "--quarantine", "bad.csv") == 0
    scored = pd.read_parquet("o.parquet")
    assert len(scored) == 498
    assert batch.loc[250, schema.ID] not in set(scored[schema.ID])
    bad = pd.read_csv("bad.csv")
    assert sorted(bad["row"]) == [251, 401] and set(bad["column"]) == {"plan", "age"}


def test_unusable_inputs(workdir, model_file, capsys):
    sample.generate(50, seed=14).drop(columns=["region"]).to_csv("nocol.csv", index=False)
    assert score("--model", str(model_file), "--input", "nocol.csv", "--output", "o.parquet") == 2
    assert "column 'region': required column is missing" in capsys.readouterr().err
    (workdir / "empty.csv").write_text("")
    assert score("--model", str(model_file), "--input", "empty.csv", "--output", "o.parquet") == 2
    assert "file is empty" in capsys.readouterr().err
    assert score("--model", str(model_file), "--input", "nocol.csv", "--output", "o.csv") == 2
    assert "must be a .parquet file" in capsys.readouterr().err


# --- multiclass and regression models: the output follows the model's task -------------


@pytest.fixture(scope="module")
def task_models(tmp_path_factory, repo_params) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("task-models")
    return {t: toy_model(root / t, t, repo_params) for t in ("multiclass", "regression")}


def test_a_multiclass_model_writes_the_class_its_probability_and_every_class(workdir, task_models):
    # The checkout's contract is the binary sample's: rows are read by the model's own.
    batch = raw_rows("multiclass", 200, seed=5)
    batch.to_csv("batch.csv", index=False)
    args = ["--model", str(task_models["multiclass"]), "--input", "batch.csv"]
    assert score(*args, "--output", "o.parquet", "--chunk-rows", "64") == 0
    layout = pq.read_schema("o.parquet")
    assert [(f.name, str(f.type)) for f in layout] == [
        ("row", "int64"), ("label", "string"), ("score", "double"), ("proba_a", "double"),
        ("proba_b", "double"), ("proba_c", "double"), ("model", "string"),
    ]  # fmt: skip
    out = pd.read_parquet("o.parquet")
    assert out["row"].tolist() == list(range(1, 201))
    proba = out[["proba_a", "proba_b", "proba_c"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert out["label"].tolist() == [["a", "b", "c"][i] for i in proba.argmax(axis=1)]
    np.testing.assert_array_equal(out["score"], proba.max(axis=1))
    expected = scored_outputs(task_models["multiclass"], batch)
    np.testing.assert_array_equal(out["proba_b"], expected["proba_b"])
    # A model worth the name: it mostly finds the class the rows were labelled with.
    assert (out["label"] == batch["y"]).mean() > 0.8


def test_a_regression_model_writes_one_prediction_per_row(workdir, task_models):
    batch = raw_rows("regression", 120, seed=6).drop(columns=["y"])
    batch.to_parquet("batch.parquet", index=False)
    args = ["--model", str(task_models["regression"]), "--input", "batch.parquet"]
    assert score(*args, "--output", "o.parquet") == 0
    layout = pq.read_schema("o.parquet")
    assert [(f.name, str(f.type)) for f in layout] == [
        ("row", "int64"), ("prediction", "double"), ("model", "string"),
    ]  # fmt: skip
    out = pd.read_parquet("o.parquet")
    expected = scored_outputs(task_models["regression"], batch)["prediction"]
    np.testing.assert_array_equal(out["prediction"], expected)
    truth = raw_rows("regression", 120, seed=6)["y"]
    assert np.corrcoef(out["prediction"], truth)[0, 1] > 0.9


def test_a_label_the_model_never_saw_is_named_with_the_classes_it_knows(
    workdir, task_models, capsys
):
    batch = raw_rows("multiclass", 60, seed=7)
    batch.loc[41, "y"] = "d"
    batch.to_csv("batch.csv", index=False)
    args = ["--model", str(task_models["multiclass"]), "--input", "batch.csv"]
    assert score(*args, "--output", "o.parquet") == 2
    err = capsys.readouterr().err
    assert "batch.csv: row 42: column 'y' holds 'd', not a class the model knows (a, b, c)" in err
    assert not (workdir / "o.parquet").exists()
    assert score(*args, "--output", "o.parquet", "--quarantine", "bad.csv") == 0
    assert len(pd.read_parquet("o.parquet")) == 59
    assert pd.read_csv("bad.csv")[["row", "column"]].values.tolist() == [[42, "y"]]


def test_a_model_file_is_scored_where_there_is_no_dataset_contract(tmp_path, task_models):
    # A fresh process: importing the model library once read the checkout's contract.
    raw_rows("regression", 20, seed=8).to_csv(tmp_path / "batch.csv", index=False)
    shutil.copy(EXAMPLE / "params.yaml", tmp_path / "params.yaml")
    done = run(
        [str(BIN / "ratchet"), "score", "--model", str(task_models["regression"]),
         "--input", "batch.csv", "--output", "o.parquet"],
        tmp_path,
    )  # fmt: skip
    assert "scored 20 rows" in done.stdout
    assert len(pd.read_parquet(tmp_path / "o.parquet")) == 20


@pytest.mark.parametrize(
    ("task", "estimator"), [("regression", "ridge"), ("multiclass", "logistic_regression")]
)
def test_valid_rows_a_linear_model_cannot_score_are_rejected_like_invalid_ones(
    workdir, tmp_path, repo_params, capsys, task, estimator
):
    path = toy_model(tmp_path / "linear", task, repo_params, estimator=estimator)
    batch = raw_rows(task, 40, seed=9).drop(columns=["y"])
    batch.loc[6, ["x1", "x2"]] = [1e308, -1e308]  # finite once scaled; the output is not
    column, value = scaler_overflow(path)
    batch.loc[30, column] = value  # overflows in the scaler itself
    batch.to_csv("batch.csv", index=False)
    args = ["--model", str(path), "--input", "batch.csv", "--chunk-rows", "16"]
    assert score(*args, "--output", "o.parquet") == 2
    err = capsys.readouterr().err
    assert "batch.csv: row 7: valid, but the model cannot score it" in err
    assert not (workdir / "o.parquet").exists()
    assert score(*args, "--output", "o.parquet", "--quarantine", "bad.csv") == 0
    out = pd.read_parquet("o.parquet")
    assert len(out) == 38 and 7 not in set(out["row"]) and 31 not in set(out["row"])
    assert np.isfinite(out.select_dtypes("float64").to_numpy()).all()
    batch.drop(index=[6, 30]).to_csv("clean.csv", index=False)  # the kept rows alone
    assert score("--model", str(path), "--input", "clean.csv", "--output", "c.parquet") == 0
    alone = pd.read_parquet("c.parquet")
    pd.testing.assert_frame_equal(out.drop(columns="row"), alone.drop(columns="row"))
    bad = pd.read_csv("bad.csv")
    assert bad[["row", "check"]].values.tolist() == [
        [7, "finite_output"],
        [31, "finite_after_scaling"],
    ]
    assert bad["column"].iloc[1] == column


def test_the_first_bad_row_in_the_input_is_named_whatever_column_fails(
    workdir, task_models, capsys
):
    batch = raw_rows("regression", 50, seed=10).astype({"x1": object})
    batch.loc[9, "x1"] = "ten"  # the first bad row...
    batch.loc[30, "g"] = "r"  # ...though this column sorts first among the failures
    batch.to_csv("batch.csv", index=False)
    args = ["--model", str(task_models["regression"]), "--input", "batch.csv"]
    assert score(*args, "--output", "o.parquet") == 2
    assert "batch.csv: row 10: column 'x1' failed coerce_dtype" in capsys.readouterr().err
    assert score(*args, "--output", "o.parquet", "--quarantine", "bad.csv") == 0
    assert pd.read_csv("bad.csv")["row"].tolist() == [10, 31]  # in input order
