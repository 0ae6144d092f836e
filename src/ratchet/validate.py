"""validate stage: the raw table must pass the schema before anything learns from it.

Core: `check(df)` returns the typed table or the list of failures (all of them, in one
pass). Shell: `run(...)` reads the file, writes the typed table, data metrics and a JSON
report, and on failure writes the report and failure cases and raises.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from ratchet import io, schema
from ratchet.errors import ValidationFailed
from ratchet.rawdata import read_raw

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Failure:
    """One check that failed, with how many rows and a few examples."""

    column: str
    check: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        shown = ", ".join(
            f"row {e['row']}: {e['value']!r}" if e["row"] is not None else repr(e["value"])
            for e in self.examples
            if e["value"] != ""
        )
        where = f"column '{self.column}'" if self.column else "table"
        if not shown:
            return f"{where}: {self.check}"
        rows = f"{self.count} row{'s' if self.count != 1 else ''}"
        return f"{where}: {self.check} failed for {rows} (e.g. {shown})"


@dataclass(frozen=True)
class Result:
    table: pd.DataFrame | None
    failures: list[Failure]
    failure_cases: pd.DataFrame

    @property
    def passed(self) -> bool:
        return not self.failures


def check(df: pd.DataFrame, dataframe_schema: pa.DataFrameSchema | None = None) -> Result:
    """Validate every check lazily, so one run reports every problem, not just the first."""
    dataframe_schema = dataframe_schema or schema.raw_schema()
    try:
        typed = dataframe_schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = _tidy_cases(exc.failure_cases)
        return Result(None, summarise(cases), cases)
    return Result(typed, [], _tidy_cases(pd.DataFrame()))


# Table-level checks pandera reports against the schema, with the column as the "value".
_COLUMN_CHECKS = {
    "column_in_dataframe": "required column is missing",
    "column_in_schema": "column is not in the schema",
}


def _tidy_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Failure cases as column, check, row (1-based data row, header excluded), value."""
    if cases.empty:
        return pd.DataFrame({"column": [], "check": [], "row": [], "value": []})
    column = cases["column"].astype("string").fillna("")
    check = cases["check"].astype(str)
    value = cases["failure_case"].astype(str)
    about_column = check.isin(list(_COLUMN_CHECKS))
    column = column.where(~about_column, value)
    value = value.where(~about_column, "")
    index = pd.to_numeric(cases["index"], errors="coerce")
    return pd.DataFrame(
        {
            "column": column,
            "check": check.replace(_COLUMN_CHECKS),
            "row": (index + 1).astype("Int64"),
            "value": value,
        }
    ).sort_values(["column", "check", "row"], kind="stable", na_position="first")


def summarise(cases: pd.DataFrame) -> list[Failure]:
    failures = []
    for (column, check_name), group in cases.groupby(["column", "check"], sort=True):
        head = group.head(MAX_EXAMPLES)
        examples = [
            {"row": None if pd.isna(r) else int(r), "value": v}
            for r, v in zip(head["row"], head["value"], strict=True)
        ]
        failures.append(Failure(str(column), str(check_name), len(group), examples))
    return failures


def data_metrics(typed: pd.DataFrame) -> dict[str, Any]:
    """What `dvc metrics diff` shows about the data next to the model's metrics."""
    numeric = [
        c
        for c in typed.columns
        if c not in (schema.ID, schema.TARGET) and c not in schema.CATEGORICAL
    ]
    return {
        "rows": len(typed),
        "label_rate": round(float(typed[schema.TARGET].mean()), 6),
        "null_share": {c: round(float(typed[c].isna().mean()), 6) for c in sorted(typed.columns)},
        "mean": {c: round(float(typed[c].mean()), 6) for c in sorted(numeric)},
    }


def report(source: str, result: Result, rows: int) -> dict[str, Any]:
    return {
        "source": source,
        "rows": rows,
        "status": "passed" if result.passed else "failed",
        "failures": [
            {"column": f.column, "check": f.check, "count": f.count, "examples": f.examples}
            for f in result.failures
        ],
    }


def run(
    raw_path: str | os.PathLike,
    output: str | os.PathLike,
    metrics: str | os.PathLike,
    report_path: str | os.PathLike,
) -> Result:
    raw = read_raw(raw_path)
    result = check(raw)
    failures_csv = Path(report_path).with_name(Path(report_path).stem + "_failures.csv")
    io.write_json(report_path, report(str(raw_path), result, len(raw)))
    if not result.passed:
        io.write_table(failures_csv, result.failure_cases)
        lines = "\n".join(f"  - {f.line()}" for f in result.failures)
        raise ValidationFailed(
            f"{raw_path}: {len(result.failures)} check(s) failed; nothing downstream runs.\n"
            f"{lines}\n  full report: {report_path}, failure cases: {failures_csv}"
        )
    failures_csv.unlink(missing_ok=True)
    assert result.table is not None
    io.write_table(output, result.table)
    io.write_json(metrics, data_metrics(result.table))
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="raw .csv or .parquet")
    parser.add_argument("--output", required=True, help="validated, typed table (.parquet)")
    parser.add_argument("--metrics", required=True, help="data metrics JSON")
    parser.add_argument("--report", required=True, help="validation report JSON")


def command(args: argparse.Namespace) -> int:
    result = run(args.input, args.output, args.metrics, args.report)
    print(f"{args.input}: {len(result.table)} rows passed validation")
    return 0
