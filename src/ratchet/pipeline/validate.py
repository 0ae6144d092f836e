"""validate stage: the raw table must pass the schema before anything learns from it.

The checks live in `ratchet.dataset.validation`. This stage reads the file, writes the
typed table, data metrics and a JSON report, and on failure writes the report and every
failing row to CSV, then raises.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ratchet.core import io, params
from ratchet.core.errors import RatchetError, ValidationFailed
from ratchet.core.params import ValidateParams
from ratchet.dataset import contract, schema
from ratchet.dataset.rawdata import read_raw
from ratchet.dataset.validation import Result, check, check_policy, summary


def data_metrics(typed: pd.DataFrame) -> dict[str, Any]:
    """What `dvc metrics diff` shows about the data next to the model's metrics."""
    c = contract.current()
    numeric = [
        name
        for name in typed.columns
        if name != c.target and c.columns.get(name) and c.columns[name].type in ("integer", "float")
    ]
    return {
        "rows": len(typed),
        **_target_metrics(typed[schema.TARGET], c),
        "null_share": {c: round(float(typed[c].isna().mean()), 6) for c in sorted(typed.columns)},
        "mean": {c: round(float(typed[c].mean()), 6) for c in sorted(numeric)},
    }


def _target_metrics(target: pd.Series, c: contract.Contract) -> dict[str, Any]:
    """The target's headline by task: the positive share (binary), each class's share in
    the data's own class names (multiclass), the mean (regression)."""
    if c.task == "binary":
        return {"label_rate": round(float(target.mean()), 6)}
    if c.task == "regression":
        return {"target_mean": round(float(target.mean()), 6)}
    shares = target.value_counts(normalize=True)
    return {
        "class_share": {
            name: round(float(shares.get(i, 0.0)), 6) for i, name in enumerate(c.class_names)
        }
    }


def report(source: str, result: Result, rows: int, dropped: list[str]) -> dict[str, Any]:
    return {
        "source": source,
        "rows": rows,
        "status": "passed" if result.passed else "failed",
        "dropped_columns": dropped,
        "errors": [f.as_dict() for f in result.errors],
        "warnings": [f.as_dict() for f in result.warnings],
    }


def run(
    raw_path: str | os.PathLike,
    output: str | os.PathLike,
    metrics: str | os.PathLike,
    report_path: str | os.PathLike,
    p: ValidateParams,
) -> Result:
    warn = check_policy(p)
    try:
        raw = read_raw(raw_path)
    except RatchetError as exc:
        # The report says why even when the file could not be read at all.
        failure = {"key": "file.read", "column": "", "check": "read", "detail": str(exc)}
        io.write_json(
            report_path,
            {"source": str(raw_path), "status": "failed", "errors": [failure], "warnings": []},
        )
        raise
    dropped = [c for c in p.allow_extra_columns if c in raw.columns]
    if dropped:
        raw = raw.drop(columns=dropped)
    result = check(raw, rows=(p.rows_min, p.rows_max), warn=warn)
    failures_csv = Path(report_path).with_name(Path(report_path).stem + "_failures.csv")
    io.write_json(report_path, report(str(raw_path), result, len(raw), dropped))
    if not result.passed:
        io.write_table(failures_csv, result.failure_cases)
        raise ValidationFailed(
            f"{raw_path}: {len(result.errors)} check(s) failed; nothing downstream runs.\n"
            f"{summary(result)}\n  full report: {report_path}, failing rows: {failures_csv}"
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
    p = params.section("validate", ValidateParams, args.params)
    result = run(args.input, args.output, args.metrics, args.report, p)
    print(f"{args.input}: {len(result.table)} rows passed validation")
    if result.warnings:
        print(f"{len(result.warnings)} warning(s) (policy: warn):\n{summary(result)}")
    return 0
