"""`ratchet drift --engine spark` against the pandas path: the same verdicts on a stable and
a shifted batch, a seeded sample drawn by Spark, and a bad batch reported as a data problem.

A real local Spark session (the `spark` fixture), a real model of the toy regression task
and the real Evidently report.
"""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import project_files, ratchet
from ratchet.pipeline import model
from ratchet.spark import drift as spark_drift
from task_fixtures import raw_rows, toy_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory, repo_params):
    """A regression model and batches as users' files: reference, same world, shifted x1."""
    folder = project_files(tmp_path_factory.mktemp("spark-drift"))
    toy_model(folder / "model", "regression", repo_params)
    raw_rows("regression", 2_000, seed=1).to_csv(folder / "reference.csv", index=False)
    raw_rows("regression", 1_500, seed=2).to_csv(folder / "same.csv", index=False)
    raw_rows("regression", 1_500, seed=3, shift=1.0).to_parquet(folder / "shifted.parquet")
    broken = raw_rows("regression", 1_500, seed=4)
    broken.loc[1_200, "g"] = "z"
    broken.to_csv(folder / "broken.csv", index=False)
    sampled = yaml.safe_load((folder / "params.yaml").read_text())
    sampled["monitor"].update(current_rows=600, reference_rows=900)
    (folder / "sampled.yaml").write_text(yaml.safe_dump(sampled))
    return folder


def drift_of(folder, current: str, engine: str, params: str = "params.yaml"):
    out = f"out-{engine}-{current}-{params}"
    args = ["--params", params, "drift", "--model", "model/model.skops"]
    args += ["--reference", "reference.csv"]
    result = ratchet(folder, *args, "--current", current, "--output-dir", out,
                     "--engine", engine, check=False)  # fmt: skip
    path = folder / out / "drift.json"
    return result, json.loads(path.read_text()) if path.exists() else None


@pytest.mark.parametrize(("current", "code"), [("same.csv", 0), ("shifted.parquet", 1)])
def test_same_verdict_and_summary_as_the_pandas_path(spark, folder, current, code):
    pandas_run, pandas_summary = drift_of(folder, current, "pandas")
    spark_run, spark_summary = drift_of(folder, current, "spark")
    assert pandas_run.returncode == spark_run.returncode == code, spark_run.stderr
    # Both batches are below monitor.current_rows/reference_rows: every row is compared, so
    # the whole summary (scores included) is the pandas path's.
    assert spark_summary == pandas_summary
    assert spark_run.stdout == pandas_run.stdout.replace("out-pandas", "out-spark")
    if code:
        assert spark_summary["drifted_columns"] == ["x1"]
    # Samples smaller than the batches: each engine draws its own, the verdict is the same.
    sampled, summary = drift_of(folder, current, "spark", "sampled.yaml")
    assert sampled.returncode == code, sampled.stderr
    assert summary["current"]["rows_compared"] == 600
    assert summary["reference"]["rows_compared"] == 900
    assert summary["drifted_columns"] == pandas_summary["drifted_columns"]


def test_the_sample_is_seeded_and_drawn_by_spark(spark, folder):
    pipeline = model.load(folder / "model" / "model.skops")
    from ratchet.dataset import contract

    source = str(folder / "same.csv")
    with contract.use(model.contract_for(pipeline)):
        first = spark_drift.load_batch(spark, source, 300, seed=7)
        again = spark_drift.load_batch(spark, source, 300, seed=7, partitions=3)
        other = spark_drift.load_batch(spark, source, 300, seed=8)
    assert len(first.features) == 300 and len(first.labels) == 300
    assert first.features.equals(again.features) and first.labels.equals(again.labels)
    assert not first.features.equals(other.features)


def test_a_bad_batch_is_a_data_problem_not_drift(spark, folder):
    result, summary = drift_of(folder, "broken.csv", "spark")
    assert result.returncode == 2 and summary is None
    assert "broken.csv: the batch fails validation, a data problem rather than drift" in (
        result.stderr
    )
    assert "column 'g': isin(['p', 'q']) failed for 1 row (e.g. row 1201: 'z')" in result.stderr
