"""A table against the dataset contract: every column check and dataset expectation.

`check(df, ...)` runs them all in one lazy pass and sorts the failures into errors and
warnings by the policy in params.yaml. The validate stage, `ratchet init`, batch scoring,
the registry's smoke test and drift monitoring all check rows through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandera.errors import SchemaErrors

from ratchet.core.errors import RatchetError
from ratchet.core.params import ValidateParams
from ratchet.dataset import contract, schema
from ratchet.dataset.rawdata import normalize

MAX_EXAMPLES = 5
MAX_LINES = 12  # of the stderr summary; the JSON report and CSV hold everything

# Table-level checks pandera reports against the schema, with the column as the "value".
_COLUMN_CHECKS = {
    "column_in_dataframe": "required column is missing",
    "column_in_schema": "column is not in the schema",
}


# Checks later stages cannot live without: they always stop the pipeline.
def always_error() -> frozenset[str]:
    return frozenset({f"{schema.TARGET}.isin", f"{schema.TARGET}.not_nullable"})


@dataclass(frozen=True)
class Failure:
    """One check that failed, with how many rows and a few examples."""

    column: str
    check: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)
    policy: str = "error"
    detail: str = ""  # dataset expectations: observed value, bounds and reason

    @property
    def key(self) -> str:
        return f"{self.column}.{self.check.split('(')[0]}"

    def line(self) -> str:
        where = f"column '{self.column}'" if self.column != "table" else "table"
        if self.detail:
            return f"{where}: {self.detail}"
        shown = ", ".join(
            f"row {e['row']}: {e['value']!r}" if e["row"] is not None else repr(e["value"])
            for e in self.examples
            if e["value"] != ""
        )
        if not shown:
            return f"{where}: {self.check}"
        rows = f"{self.count} row{'s' if self.count != 1 else ''}"
        text = f"{where}: {self.check} failed for {rows} (e.g. {shown})"
        return text + _hint(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "column": self.column,
            "check": self.check,
            "count": self.count,
            "policy": self.policy,
            "detail": self.detail,
            "examples": self.examples,
        }


def _is_number(value: Any) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _hint(f: Failure) -> str:
    """Labels given as words (Yes/No, true/false, ...) need the contract's mapping."""
    words = [e["value"] for e in f.examples if str(e["value"]).strip()]
    if f.column != schema.TARGET or not any(not _is_number(w) for w in words):
        return ""
    if contract.current().task == "multiclass":
        return "; every class must be listed in 'labels' of the dataset contract"
    return (
        "; labels must be 0/1: map them first (e.g. Yes -> 1, No -> 0) with 'labels' "
        "in the dataset contract"
    )


@dataclass(frozen=True)
class Result:
    table: pd.DataFrame | None
    errors: list[Failure]
    warnings: list[Failure]
    failure_cases: pd.DataFrame
    # The rows as the checks saw them (coerced where a column converts), also when a check
    # failed: a partition's rows, from which the whole table's expectations are measured.
    data: pd.DataFrame | None = None

    @property
    def passed(self) -> bool:
        return not self.errors


def check(
    df: pd.DataFrame,
    *,
    rows: tuple[int, int] | None = None,
    warn: frozenset[str] = frozenset(),
    require_target: bool = True,
    expectations: bool = True,
    skip: frozenset[str] = frozenset(),
) -> Result:
    """Validate every check lazily, so one run reports every problem, not just the first.

    skip: policy keys of checks left out altogether (a partition of a table leaves out the
    checks only the whole table can answer, such as a column's uniqueness).
    """
    df = normalize(df)
    full = schema.raw_schema(
        require_target=require_target, rows=rows, expectations=expectations, skip=skip
    )
    try:
        typed = full.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = _tidy_cases(exc.failure_cases)
        failures = summarise(cases, exc.data, rows)
        errors = [f for f in failures if f.key not in warn]
        warnings = [as_warning(f) for f in failures if f.key in warn]
        cases["policy"] = ["warn" if k in warn else "error" for k in cases["key"]]
        if errors:
            return Result(None, errors, warnings, cases, exc.data)
        # Only warnings: type the table with the warned checks left out (a second pass,
        # paid only when a warning fired).
        lenient = schema.raw_schema(
            require_target=require_target, rows=rows, skip=warn | skip, expectations=expectations
        )
        table = lenient.validate(df, lazy=True)
        return Result(table, [], warnings, cases, table)
    return Result(typed, [], [], _tidy_cases(pd.DataFrame()), typed)


def as_warning(f: Failure) -> Failure:
    return Failure(f.column, f.check, f.count, f.examples, "warn", f.detail)


def _tidy_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Failure cases as key, column, check, row (1-based data row, header excluded), value."""
    if cases.empty:
        return pd.DataFrame({"key": [], "column": [], "check": [], "row": [], "value": []})
    column = cases["column"].astype("string").fillna("")
    check = cases["check"].astype(str)
    value = cases["failure_case"].astype(str)
    about_column = check.isin(list(_COLUMN_CHECKS))
    column = column.where(~about_column, value)
    value = value.where(~about_column, "")
    # Dataset expectations are named "column.check" and reported against the schema.
    dataset = cases["schema_context"].eq("DataFrameSchema") & check.str.contains(".", regex=False)
    column = column.where(~dataset, check.str.split(".").str[0])
    check = check.where(~dataset, check.str.split(".").str[1])
    index = pd.to_numeric(cases["index"], errors="coerce")
    tidy = pd.DataFrame(
        {
            "column": column,
            "check": check.replace(_COLUMN_CHECKS),
            "row": (index + 1).astype("Int64"),
            "value": value,
        }
    )
    tidy.insert(0, "key", tidy["column"] + "." + tidy["check"].str.split("(").str[0])
    # A column whose values do not convert fails its other checks for the same reason
    # (or with a TypeError); the coercion failure alone is the useful message.
    broken = set(tidy.loc[tidy["check"].str.startswith("coerce_dtype"), "column"])
    noise = tidy["column"].isin(broken) & ~tidy["check"].str.startswith("coerce_dtype")
    return tidy[~noise].sort_values(["column", "check", "row"], kind="stable", na_position="first")


def summarise(
    cases: pd.DataFrame, data: pd.DataFrame | None = None, rows: tuple[int, int] | None = None
) -> list[Failure]:
    failures = []
    for (column, check_name), group in cases.groupby(["column", "check"], sort=True):
        key = f"{column}.{str(check_name).split('(')[0]}"
        expectation = schema.expectation_for(key, rows)
        if expectation is not None:
            absent = data is not None and expectation.column not in ("table", *data.columns)
            if not absent:  # a missing column is reported once, as missing
                failures.append(_expectation_failure(expectation, str(check_name), data))
            continue
        head = group.head(MAX_EXAMPLES)
        examples = [
            {"row": None if pd.isna(r) else int(r), "value": v}
            for r, v in zip(head["row"], head["value"], strict=True)
        ]
        failures.append(Failure(str(column), str(check_name), len(group), examples))
    return failures


def _expectation_failure(e: schema.Expectation, check_name: str, data: pd.DataFrame | None):
    observed = _observed(e, data)
    if e.offending is None or data is None:
        return expectation_failure(e, check_name, observed)
    mask = e.offending(data).to_numpy(dtype=bool)
    rows = mask.nonzero()[0]
    shown = data[e.column].to_numpy()[rows[:MAX_EXAMPLES]]
    examples = [{"row": int(r) + 1, "value": str(v)} for r, v in zip(rows, shown, strict=False)]
    return expectation_failure(e, check_name, observed, examples, len(rows))


def expectation_failure(
    e: schema.Expectation,
    check_name: str,
    observed: str,
    examples: list[dict[str, Any]] | None = None,
    involved: int | None = None,
) -> Failure:
    """A failed expectation as reported, whichever engine measured it.

    observed: the measured value as text (`observed_text`); examples and involved: the
    offending rows of a check rows can break (None: not such a check).
    """
    detail = f"{e.name} is {observed}, expected {e.bounds()} ({e.why})"
    if involved is None or examples is None:
        return Failure(e.column, check_name, 1, detail=detail)
    listed = ", ".join(f"row {x['row']}: {x['value']!r}" for x in examples)
    detail += f"; {involved} rows involved (e.g. {listed})" if involved else ""
    return Failure(e.column, check_name, involved, examples, detail=detail)


def observed_text(value: float) -> str:
    return f"{value:.4g}"


def _observed(e: schema.Expectation, data: pd.DataFrame | None) -> str:
    try:
        return observed_text(e.measure(data)) if data is not None else "?"
    except Exception:  # the column itself is broken; its own failure says how
        return "not computable"


def summary(result: Result) -> str:
    lines = [f"  - {f.line()}" for f in result.errors]
    lines += [f"  - (warn) {f.line()}" for f in result.warnings]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"  ... and {len(lines) - MAX_LINES} more in the report"]
    return "\n".join(lines)


def check_policy(p: ValidateParams) -> frozenset[str]:
    """The checks set to warn, after making sure each names a real check."""
    known = schema.check_keys()
    warn = set()
    for key, level in sorted(p.policy.items()):
        if key not in known:
            raise RatchetError(
                f"params.yaml: 'validate.policy.{key}' is not a check; known checks: "
                + ", ".join(sorted(known))
            )
        if key in always_error() and level == "warn":
            raise RatchetError(
                f"params.yaml: 'validate.policy.{key}' cannot be warn: training needs 0/1 labels"
            )
        if level == "warn":
            warn.add(key)
    return frozenset(warn)
