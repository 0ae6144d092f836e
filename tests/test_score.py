"""Batch scoring: chunked, validated, the training feature function, parity with evaluate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import project_files
from ratchet.cli import main
from ratchet.dataset import sample, schema
from ratchet.dataset.features import build_features
from ratchet.pipeline import evaluate, model


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
