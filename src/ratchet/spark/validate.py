"""`ratchet validate --engine spark`: the validate stage over a table too big for one process.

Same arguments, verdicts, report JSON, failures CSV, data metrics and exit codes as the
pandas stage (`ratchet.pipeline.validate`); --input may also be a folder, a glob or a
catalog table, and --output is a Parquet folder or a table. Row checks run per Arrow batch
with the pandas schema (`ratchet.spark.checking`); dataset expectations and data metrics
are Spark aggregates over the typed rows (`ratchet.spark.measures`). Only summaries reach
the driver; the failures CSV is streamed to it in order.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ratchet.core import io, params
from ratchet.core.errors import RatchetError, ValidationFailed
from ratchet.core.params import ValidateParams
from ratchet.dataset import validation
from ratchet.dataset.validation import Failure, Result
from ratchet.pipeline import validate as stage
from ratchet.spark import checking, engine, measures, tables

_CSV_CHUNK = 50_000  # failure cases per write while streaming the CSV


def run(spark: Any, args: argparse.Namespace, p: ValidateParams) -> tuple[Result, int]:
    """(result, rows); writes what the pandas stage writes, and raises as it does."""
    warn = validation.check_policy(p)
    source = str(args.input)
    try:
        df, fmt = tables.read(spark, source)
        dropped = [c for c in p.allow_extra_columns if c in df.columns]
        df = df.drop(*dropped)
        checked = checking.check(df, fmt, source=source, warn=warn, partitions=args.partitions)
    except RatchetError as exc:
        failure = {"key": "file.read", "column": "", "check": "read", "detail": str(exc)}
        io.write_json(
            args.report, {"source": source, "status": "failed", "errors": [failure], "warnings": []}
        )
        raise
    found = checking.summary(checked, warn)
    expected = measures.expectations(
        checked.rows,
        checked.count,
        row_column=checking.ROW,
        rows_bounds=(p.rows_min, p.rows_max),
        require_target=True,
        skipped=found.broken | checked.absent,
    )
    unjudged = measures.absent_cases(checked.absent, warn)
    every = sorted([*found.failures, *expected], key=lambda f: (f.column, f.check))
    errors = [f for f in every if f.key not in warn]
    warnings = [validation.as_warning(f) for f in every if f.key in warn]
    result = Result(None, errors, warnings, pd.DataFrame())
    failures_csv = Path(args.report).with_name(Path(args.report).stem + "_failures.csv")
    io.write_json(args.report, stage.report(source, result, checked.count, dropped))
    if errors:
        _write_cases(failures_csv, found.cases, [*unjudged, *_expected_cases(expected, warn)])
        raise ValidationFailed(
            f"{source}: {len(errors)} check(s) failed; nothing downstream runs.\n"
            f"{validation.summary(result)}\n  full report: {args.report}, "
            f"failing rows: {failures_csv}"
        )
    failures_csv.unlink(missing_ok=True)
    names = [c for c in checked.rows.columns if c != checking.ROW]
    tables.write(checked.rows.select(*names), str(args.output))
    io.write_json(args.metrics, measures.data_metrics(checked.rows, checked.count, names))
    return result, checked.count


def _expected_cases(expected: list[Failure], warn: frozenset[str]) -> list[tuple]:
    """A failed expectation's case, as pandera lists a table check that returned False."""
    return [
        (f.key, f.column, f.check, None, measures.EXPECTATION_CASE_VALUE,
         "warn" if f.key in warn else "error")
        for f in expected
    ]  # fmt: skip


def _write_cases(path: Path, cases: Any, extra: list[tuple]) -> None:
    """Every failure case, in the pandas stage's order and CSV format, streamed from Spark
    (a table with millions of bad rows never sits whole in the driver)."""
    from pyspark.sql import functions as F

    if extra:
        cases = cases.unionByName(
            cases.sparkSession.createDataFrame(
                extra,
                "key string, column string, check string, row bigint, value string, policy string",
            )
        )
    ordered = checking.sorted_cases(cases.withColumn("row", F.col("row").cast("bigint")))
    arrow_schema = pa.schema(
        [(name, pa.int64() if name == "row" else pa.string()) for name in checking.CASE_COLUMNS]
    )
    with io.atomic_path(path) as tmp, pacsv.CSVWriter(str(tmp), arrow_schema) as writer:
        chunk: list[tuple] = []
        for row in ordered.toLocalIterator():
            chunk.append(tuple(row))
            if len(chunk) == _CSV_CHUNK:
                writer.write_table(_arrow(chunk, arrow_schema))
                chunk = []
        writer.write_table(_arrow(chunk, arrow_schema))


def _arrow(chunk: list[tuple], arrow_schema: pa.Schema) -> pa.Table:
    columns = list(zip(*chunk, strict=True)) if chunk else [[] for _ in arrow_schema]
    return pa.Table.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, arrow_schema, strict=True)],
        schema=arrow_schema,
    )


def command(args: argparse.Namespace) -> int:
    p = params.section("validate", ValidateParams, args.params)
    spark = engine.session(args.master)
    result, rows = run(spark, args, p)
    print(f"{args.input}: {rows} rows passed validation")
    if result.warnings:
        print(f"{len(result.warnings)} warning(s) (policy: warn):\n{validation.summary(result)}")
    return 0
