"""`ratchet validate --engine spark` against the pandas stage: the same files through both
engines give the same status, failures, report, failing rows and data metrics.

A real local Spark session (the `spark` fixture) and the real pandera schema; the toy
datasets of task_fixtures with an id column and dataset expectations of their own.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from ratchet.cli import main
from ratchet.core.io import ARROW_TEXT
from ratchet.dataset import contract
from task_fixtures import CLASSES, raw_rows

ROWS = 400


def checked_contract(task: str) -> contract.Contract:
    """The toy contract plus an id, a nullable integer, and dataset expectations of every
    kind the Spark engine measures with aggregates."""
    target = {
        "multiclass": {"type": "category", "categories": list(CLASSES), "role": "target"},
        "regression": {"type": "float", "role": "target"},
        "binary": {"type": "integer", "role": "target"},
    }[task]
    expectations = [
        {"column": "k", "check": "unique_share", "min": 1, "why": "one row per key"},
        {"column": "n", "check": "null_share", "max": 0.3, "why": "mostly filled"},
        {"column": "n", "check": "zero_share", "max": 0.5, "why": "not a broken join"},
        {"column": "x1", "check": "mean", "min": -0.5, "max": 0.5, "why": "centred"},
        {"column": "x1", "check": "std", "min": 0.5, "max": 2, "why": "spread"},
        {"column": "x2", "check": "median", "min": -1, "max": 1, "why": "centred"},
        {"column": "x2", "check": "p90", "max": 3, "why": "no long tail"},
        {"column": "x2", "check": "min", "min": -10, "why": "no sentinel"},
        {"column": "x2", "check": "max", "max": 10, "why": "no sentinel"},
        {"column": "g", "check": "distinct", "min": 2, "why": "both groups"},
    ]
    if task != "regression":
        expectations += [
            {"column": "y", "check": "min_class_share", "min": 0.1, "why": "every class"},
            {"column": "y", "check": "max_class_share", "max": 0.9, "why": "every class"},
        ]
    if task == "binary":
        expectations.append({"column": "y", "check": "label_rate", "min": 0.1, "why": "both"})
    return contract.parse({
        "name": f"checked-{task}", "task": task, "target": "y", "id": "k",
        "labels": CLASSES if task == "multiclass" else None,
        "missing": ["", "NA"],
        "columns": {
            "k": {"type": "text", "role": "id", "unique": True, "pattern": r"^k\d+$"},
            "n": {"type": "integer", "min": 0, "max": 100, "nullable": True},
            "x1": {"type": "float"}, "x2": {"type": "float"},
            "g": {"type": "category", "categories": ["p", "q"]}, "y": target,
        },
        "expectations": expectations,
    })  # fmt: skip


def rows_of(task: str, rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    base = raw_rows("regression" if task == "binary" else task, rows, seed)
    if task == "binary":
        base["y"] = (base["y"] > 10).astype(int)
    rng = np.random.default_rng(seed + 100)
    n = pd.array(rng.integers(0, 100, rows), dtype="Int64")
    n[rng.random(rows) < 0.1] = pd.NA
    return pd.DataFrame({"k": [f"k{i}" for i in range(rows)], "n": n, **base})


@pytest.fixture
def workdir(tmp_path, repo_params):
    p = dict(repo_params)
    p["validate"] = {**p["validate"], "rows_min": 10, "rows_max": 100_000}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    return tmp_path


def run_both(workdir: Path, frame: pd.DataFrame, c: contract.Contract, name: str = "raw.csv"):
    """The pandas and the Spark stage on the same file; each engine's outputs."""
    source = workdir / name
    if name.endswith(".csv"):
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source, index=False)
    out = {}
    with contract.use(c):
        for engine in ("pandas", "spark"):
            d = workdir / engine
            d.mkdir(exist_ok=True)
            output = d / ("typed.parquet" if engine == "pandas" else "typed")
            args = ["--params", str(workdir / "params.yaml"), "validate", "--input", str(source)]
            args += ["--output", str(output), "--metrics", str(d / "data.json")]
            args += ["--report", str(d / "report.json"), "--engine", engine]
            code = main(args)
            failures = d / "report_failures.csv"
            out[engine] = {
                "code": code,
                "report": json.loads((d / "report.json").read_text()),
                "failures": failures.read_text() if failures.exists() else None,
                "metrics": json.loads((d / "data.json").read_text()) if code == 0 else None,
                "table": read_table(output) if code == 0 else None,
            }
    return out["pandas"], out["spark"]


def read_table(path: Path) -> pd.DataFrame:
    """A Parquet file or folder as the project's reader types it (text as Arrow strings)."""
    # Only the pandas engine writes pandas' own metadata (the Int64 dtype); the values and
    # their Arrow types are what must agree.
    return pq.read_table(path).to_pandas(types_mapper=ARROW_TEXT.get, ignore_metadata=True)


def assert_close(a, b, path="metrics"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b)), path
    else:
        assert a == b, path


def assert_same(pandas_run: dict, spark_run: dict) -> None:
    assert spark_run["code"] == pandas_run["code"]
    for key in ("report",):
        left, right = dict(pandas_run[key]), dict(spark_run[key])
        assert left == right, (left, right)
    assert spark_run["failures"] == pandas_run["failures"]
    if pandas_run["metrics"] is not None:
        assert_close(pandas_run["metrics"], spark_run["metrics"])
        pd.testing.assert_frame_equal(spark_run["table"], pandas_run["table"])


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_clean_files_pass_with_the_same_table_and_metrics(spark, workdir, task):
    pandas_run, spark_run = run_both(workdir, rows_of(task), checked_contract(task))
    assert pandas_run["code"] == 0, pandas_run["report"]
    assert_same(pandas_run, spark_run)


def broken_rows() -> pd.DataFrame:
    """Bad cells of every row-level kind, spread over the file, and expectations broken."""
    frame = rows_of("binary").astype({"n": object, "x2": object})
    frame.loc[3, "n"] = 150  # out of range
    frame.loc[250, "n"] = "twelve"  # does not convert: reported once, as coercion
    frame.loc[260, "n"] = -4  # its range failure is noise next to the coercion failure
    frame.loc[[5, 300], "g"] = "z"  # not a category
    frame.loc[7, "k"] = "key-7"  # breaks the pattern
    frame.loc[[20, 380], "k"] = "k1"  # duplicates across the file
    frame.loc[9, "y"] = 2  # not a label
    frame.loc[10:60, "x2"] = 40.0  # p90 and max break
    frame.loc[40:, "x1"] = frame.loc[40:, "x1"] + 3  # the mean breaks
    return frame


def test_bad_cells_and_broken_expectations_fail_alike(spark, workdir):
    pandas_run, spark_run = run_both(workdir, broken_rows(), checked_contract("binary"))
    assert pandas_run["code"] == 1
    keys = {e["key"] for e in pandas_run["report"]["errors"]}
    assert {"n.coerce_dtype", "g.isin", "k.str_matches", "k.field_uniqueness", "y.isin",
            "k.unique_share", "x2.p90", "x2.max", "x1.mean"} <= keys  # fmt: skip
    assert "n.in_range" not in keys
    assert_same(pandas_run, spark_run)


def test_missing_and_extra_columns_fail_alike(spark, workdir):
    frame = rows_of("multiclass").drop(columns=["g"]).assign(extra="x")
    pandas_run, spark_run = run_both(workdir, frame, checked_contract("multiclass"))
    keys = {e["key"] for e in pandas_run["report"]["errors"]}
    assert {"g.required column is missing", "extra.column is not in the schema"} <= keys
    assert_same(pandas_run, spark_run)


def test_warn_policy_passes_with_the_same_warnings(spark, workdir):
    p = yaml.safe_load((workdir / "params.yaml").read_text())
    p["validate"]["policy"] = {"x1.mean": "warn", "g.isin": "warn"}
    (workdir / "params.yaml").write_text(yaml.safe_dump(p))
    frame = rows_of("regression")
    frame.loc[40:, "x1"] = frame.loc[40:, "x1"] + 3
    frame.loc[7, "g"] = "z"
    pandas_run, spark_run = run_both(workdir, frame, checked_contract("regression"), "raw.parquet")
    assert pandas_run["code"] == 0
    assert [w["key"] for w in pandas_run["report"]["warnings"]] == ["g.isin", "x1.mean"]
    assert_same(pandas_run, spark_run)


def test_a_failure_keeps_the_last_outputs_and_an_empty_file_is_one_line(spark, workdir, capsys):
    c = checked_contract("binary")
    frame = rows_of("binary")
    frame.to_csv(workdir / "good.csv", index=False)
    frame.head(0).to_csv(workdir / "header.csv", index=False)
    broken = frame.assign(g=frame["g"].astype(object))
    broken.loc[2, "g"] = "z"
    broken.to_csv(workdir / "bad.csv", index=False)
    args = ["--params", str(workdir / "params.yaml"), "validate", "--engine", "spark"]
    args += ["--output", str(workdir / "typed"), "--metrics", str(workdir / "data.json")]
    args += ["--report", str(workdir / "report.json"), "--input"]
    with contract.use(c):
        assert main([*args, str(workdir / "good.csv")]) == 0
        before = read_table(workdir / "typed")
        metrics = (workdir / "data.json").read_text()
        assert main([*args, str(workdir / "bad.csv")]) == 1
        assert main([*args, str(workdir / "header.csv")]) == 2
    pd.testing.assert_frame_equal(read_table(workdir / "typed"), before)
    assert (workdir / "data.json").read_text() == metrics
    err = capsys.readouterr().err
    assert "column 'g': isin(['p', 'q']) failed for 1 row (e.g. row 3: 'z')" in err
    assert err.strip().endswith("header.csv: has a header but no rows")
    report = json.loads((workdir / "report.json").read_text())
    assert report["status"] == "failed" and report["errors"][0]["key"] == "file.read"
    assert not list(workdir.glob(".typed.tmp-*"))  # no half-written output left behind
