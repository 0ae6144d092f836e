"""`ratchet score --engine spark`: the pandas path's scores, rejections and errors, on Spark.

Every test runs the real CLI in this process, on the shared local[2] session (`spark`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import project_files, ratchet
from ratchet.core.errors import RatchetError
from ratchet.dataset import sample, schema
from ratchet.spark import engine
from task_fixtures import raw_rows, toy_model


@pytest.fixture(scope="module")
def task_models(tmp_path_factory, repo_params, model_file) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("spark-models")
    models = {t: toy_model(root / t, t, repo_params) for t in ("multiclass", "regression")}
    return {"binary": model_file, **models}


@pytest.fixture
def work(tmp_path) -> Path:
    return project_files(tmp_path)


def batch(task: str, rows: int, seed: int) -> pd.DataFrame:
    """Raw rows for `task`'s model: the bundled sample for binary, the toy data otherwise."""
    if task == "binary":
        return sample.generate(rows, seed=seed)
    return raw_rows(task, rows, seed=seed)


def key(task: str) -> str:
    return schema.ID if task == "binary" else "row"


def both_engines(work: Path, model: Path, source: str, *extra: str) -> tuple[Path, Path]:
    """(pandas scores file, Spark scores folder) of the same input."""
    args = ["score", "--model", str(model), "--input", source, *extra]
    ratchet(work, *args, "--output", "pandas.parquet")
    ratchet(work, *args, "--output", "spark.parquet", "--engine", "spark")
    return work / "pandas.parquet", work / "spark.parquet"


def spark_table(path: Path) -> pd.DataFrame:
    files = sorted(path.rglob("*.parquet"))
    assert files, f"no Parquet files in {path}"
    return pd.read_parquet(path)


def assert_same_scores(pandas_file: Path, spark_out: pd.DataFrame, by: str) -> None:
    """Row by row, bit for bit: every output column of every row."""
    expected = pd.read_parquet(pandas_file).sort_values(by, ignore_index=True)
    got = spark_out.sort_values(by, ignore_index=True)[list(expected.columns)]
    assert len(got) == len(expected) > 0
    for column in expected.columns:
        a, b = expected[column].to_numpy(), got[column].to_numpy()
        if a.dtype.kind == "f":
            assert np.array_equal(a, b), column
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), column


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_scores_equal_the_pandas_path_bit_for_bit(spark, work, task_models, task):
    rows = batch(task, 400, seed=21)
    rows.to_csv(work / "in.csv", index=False)  # labelled: the label is checked, not scored
    rows.drop(columns=[schema_target(task)]).to_parquet(work / "in.parquet", index=False)
    for source in ("in.csv", "in.parquet"):
        pandas_file, spark_dir = both_engines(work, task_models[task], source)
        assert_same_scores(pandas_file, spark_table(spark_dir), key(task))
        # The same columns, in the same order, with the same types.
        expected = pq.read_schema(pandas_file)
        got = pq.read_schema(next(spark_dir.glob("*.parquet")))
        assert [(f.name, f.type) for f in got] == [(f.name, f.type) for f in expected]


def schema_target(task: str) -> str:
    return schema.TARGET if task == "binary" else "y"


def test_repartitioned_rows_keep_their_input_numbers_and_partition_the_output(
    spark, work, task_models
):
    rows = raw_rows("multiclass", 300, seed=22)
    rows.to_csv(work / "in.csv", index=False)
    model = str(task_models["multiclass"])
    ratchet(work, "score", "--model", model, "--input", "in.csv", "--output", "pandas.parquet")
    done = ratchet(
        work, "score", "--engine", "spark", "--model", model, "--input", "in.csv",
        "--output", "out.parquet", "--partitions", "3", "--partition-by", "label",
        "--chunk-rows", "50", "--master", "local[2]",
    )  # fmt: skip
    assert done.stdout.strip() == "scored 300 rows with file:model.skops -> out.parquet"
    assert sorted(p.name for p in (work / "out.parquet").glob("label=*")) == [
        "label=a",
        "label=b",
        "label=c",
    ]
    out = pd.read_parquet(work / "out.parquet")
    out["label"] = out["label"].astype(str)
    assert sorted(out["row"]) == list(range(1, 301))
    assert_same_scores(work / "pandas.parquet", out, "row")


def test_bad_rows_stop_the_run_as_in_pandas_or_go_to_quarantine(spark, work, task_models):
    rows = raw_rows("regression", 500, seed=23).astype({"x1": object})
    rows.loc[130, "x1"] = "twelve"  # the first bad row...
    rows.loc[170, "g"] = "r"  # ...though this one's column sorts first
    rows.loc[420, "g"] = "s"
    rows.loc[260, "x2"] = np.nan  # a missing value where none may be
    rows.to_csv(work / "in.csv", index=False)
    model = str(task_models["regression"])
    base = ["score", "--model", model, "--input", "in.csv", "--chunk-rows", "100"]
    spark_run = [*base, "--engine", "spark"]

    # A first good run leaves an output the failed run must not touch.
    ratchet(work, *spark_run, "--output", "out.parquet", "--quarantine", "bad.parquet")
    before = {p: p.read_bytes() for p in (work / "out.parquet").rglob("*") if p.is_file()}
    failed = ratchet(work, *spark_run, "--output", "out.parquet", check=False)
    pandas_failed = ratchet(work, *base, "--output", "o.parquet", check=False)
    assert failed.returncode == pandas_failed.returncode == 2
    line = pandas_failed.stderr.strip()
    assert line.startswith("ratchet score: error: in.csv: row 131: column 'x1' failed coerce")
    assert failed.stderr.strip().splitlines()[-1] == line
    assert {p: p.read_bytes() for p in (work / "out.parquet").rglob("*") if p.is_file()} == before

    # Quarantine: the same rejected rows, reasons and values as the pandas path's file.
    ratchet(work, *base, "--output", "o.parquet", "--quarantine", "bad.csv")
    expected = pd.read_csv(work / "bad.csv", dtype=str, keep_default_na=False)
    got = pd.read_parquet(work / "bad.parquet").astype(str)
    assert got.values.tolist() == expected.values.tolist()
    assert list(got.columns) == ["row", "column", "check", "value"]
    assert sorted(set(got["row"].astype(int))) == [131, 171, 261, 421]
    assert_same_scores(work / "o.parquet", spark_table(work / "out.parquet"), "row")


def test_table_level_problems_fail_in_one_line_before_scoring(spark, work, task_models, capsys):
    model = str(task_models["regression"])
    rows = raw_rows("regression", 30, seed=24)
    rows.drop(columns=["g"]).to_csv(work / "nocol.csv", index=False)
    rows.head(0).to_csv(work / "header.csv", index=False)
    (work / "empty.csv").write_text("")
    (work / "broken.skops").write_bytes(b"not a model")

    def spark_error(*args: str) -> str:
        done = ratchet(
            work, "score", "--engine", "spark", *args, "--output", "o.parquet", check=False
        )
        assert done.returncode == 2, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        return lines[0]

    def pandas_error(*args: str) -> str:
        done = ratchet(work, "score", *args, "--output", "o.parquet", check=False)
        assert done.returncode == 2, done
        return done.stderr.strip()

    for source in ("nocol.csv", "empty.csv", "missing.csv"):
        assert spark_error("--model", model, "--input", source) == pandas_error(
            "--model", model, "--input", source
        )
    assert "column 'g': required column is missing" in pandas_error(
        "--model", model, "--input", "nocol.csv"
    )
    assert spark_error("--model", model, "--input", "header.csv").endswith(
        "header.csv: has a header but no rows"
    )
    assert spark_error("--model", model, "--input", "no_such_table").endswith(
        "no_such_table: no such table in the Spark catalog (nor a file)"
    )
    # The model is loaded first: its error wins over the input's.
    assert "broken.skops: not a readable skops model file" in spark_error(
        "--model", str(work / "broken.skops"), "--input", "missing.csv"
    )
    assert "not an output column" in spark_error(
        "--model", model, "--input", "missing.csv", "--partition-by", "nope"
    )
    assert not (work / "o.parquet").exists()


def test_a_catalog_table_in_and_out(spark, work, task_models):
    rows = raw_rows("multiclass", 200, seed=25)
    rows.to_parquet(work / "in.parquet", index=False)
    # One file: a table's rows are numbered in the order Spark reads its files, and a
    # pandas file has one order to compare with.
    spark.createDataFrame(rows).coalesce(1).write.mode("overwrite").saveAsTable("toy_rows")
    model = str(task_models["multiclass"])
    ratchet(work, "score", "--model", model, "--input", "in.parquet", "--output", "p.parquet")
    done = ratchet(
        work, "score", "--engine", "spark", "--model", model, "--input", "toy_rows",
        "--output", "toy_scores",
    )  # fmt: skip
    assert done.stdout.strip() == "scored 200 rows with file:model.skops -> toy_scores"
    assert_same_scores(work / "p.parquet", spark.table("toy_scores").toPandas(), "row")
    # Scoring again replaces the table whole.
    ratchet(
        work, "score", "--engine", "spark", "--model", model, "--input", "toy_rows",
        "--output", "toy_scores",
    )  # fmt: skip
    assert spark.table("toy_scores").count() == 200


def test_a_worker_exception_reaches_the_user_as_its_last_line(spark):
    def fails(batches):
        for b in batches:
            raise ValueError(f"cannot use this batch of {len(b)} rows\nsee the docs")
            yield b

    with pytest.raises(RatchetError) as caught, engine.one_line_errors("scoring x failed"):
        spark.range(3, numPartitions=1).mapInPandas(fails, "id long").collect()
    assert str(caught.value) == (
        "scoring x failed: ValueError: cannot use this batch of 3 rows see the docs"
    )
