"""What a valid raw table looks like, derived from the dataset contract.

Nothing here names a column: the pandera schema, the column roles and the dataset
expectations are built from `contract.current()` (dataset/contract.yaml, or the contract a
registered model carries). Row-count bounds depend on how much data you feed in, so they
live in params.yaml (`validate:`).

Coercion rules (the schema coerces, then checks):
- integer columns (nullable Int64) accept integers, integral floats (42.0) and numeric
  text ("42"); a missing cell is a null; 42.5 or "twelve" fails `coerce_dtype`;
- float columns accept numbers and numeric text; a missing cell is a null;
- text and category columns are read as text (Arrow strings, trimmed when the contract
  says `trim: true`); categories are checked against the contract's list.

`schema.ID`, `schema.TARGET`, `schema.CATEGORICAL`, ... are read from the contract in force
each time they are used (module attributes computed on access).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ratchet.dataset import contract
from ratchet.dataset.contract import ColumnSpec, Contract, ExpectationSpec

if TYPE_CHECKING:
    import pandera.pandas as pa

# Text is read as Arrow-backed strings: checks on them are vectorised, not per object.
TEXT = pd.StringDtype("pyarrow")
_DTYPES = {
    "integer": "Int64",
    "float": "float64",
    "category": TEXT,
    "text": TEXT,
    "boolean": "boolean",
    "datetime": "datetime64[ns]",
}


def __getattr__(name: str):
    """ID, TARGET, LABELS, CATEGORICAL, TEXT_COLUMNS, EXPECTATIONS of the contract in force."""
    # Any other name is plainly absent: tools that probe modules by name (skops does, while
    # loading) must not need a contract on disk to hear so.
    if name not in ("ID", "TARGET", "LABELS", "CATEGORICAL", "TEXT_COLUMNS", "EXPECTATIONS"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    c = contract.current()
    if name == "ID":
        return c.id
    if name == "TARGET":
        return c.target
    if name == "LABELS":
        return c.label_values
    if name == "CATEGORICAL":
        return c.categorical
    if name == "TEXT_COLUMNS":
        return tuple(c.text_columns)
    if name == "EXPECTATIONS":
        return expectations(c)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Expectation:
    """A check on a whole column or the whole table, with its bounds and the reason."""

    column: str  # a column name, or "table"
    name: str  # the check's name; with the column it forms the policy key "column.name"
    measure: Callable[[pd.DataFrame], float]
    low: float | None
    high: float | None
    why: str
    # For checks a row can break: which rows do (evaluated only when the check fails).
    offending: Callable[[pd.DataFrame], pd.Series] | None = None

    @property
    def key(self) -> str:
        return f"{self.column}.{self.name}"

    def bounds(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {self.low:g} and {self.high:g}"
        return f">= {self.low:g}" if self.low is not None else f"<= {self.high:g}"

    def holds(self, value: float) -> bool:
        if pd.isna(value):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


def _measure(column: str, check: str) -> Callable[[pd.DataFrame], float]:
    if check == "null_share":
        return lambda df: float(df[column].isna().mean())
    if check == "unique_share":
        return lambda df: float(df[column].nunique(dropna=True) / max(len(df), 1))
    if check == "distinct":  # e.g. every class of a multiclass target present
        return lambda df: float(df[column].nunique(dropna=True))
    if check in ("min_class_share", "max_class_share"):  # class balance of a class target
        pick = min if check.startswith("min") else max
        return lambda df: float(pick(df[column].value_counts(normalize=True), default=0.0))
    if check == "zero_share":  # e.g. a target filled with 0 by a broken join
        return lambda df: float((pd.to_numeric(df[column], errors="coerce") == 0).mean())
    if check == "label_rate":
        return lambda df: float(pd.to_numeric(df[column], errors="coerce").mean())
    if check == "median":
        return lambda df: float(df[column].quantile(0.5))
    if check.startswith("p"):
        q = int(check[1:]) / 100
        return lambda df: float(df[column].quantile(q))
    return lambda df: float(getattr(df[column], check)())  # mean, min, max, std


def _expectation(e: ExpectationSpec) -> Expectation:
    offending = None
    if e.check == "unique_share":
        offending = lambda df: df[e.column].duplicated(keep=False)  # noqa: E731
    if e.column == "table":
        return Expectation("table", e.check, len, e.min, e.max, e.why)
    return Expectation(e.column, e.check, _measure(e.column, e.check), e.min, e.max, e.why,
                       offending)  # fmt: skip


def expectations(c: Contract | None = None) -> tuple[Expectation, ...]:
    """The contract's dataset-level expectations."""
    c = c or contract.current()
    return tuple(_expectation(e) for e in c.spec.expectations)


def _pandera():
    # Imported on first use (about 0.2 s): the stages that only read the contract's roles
    # through this module (featurize, train, evaluate) never build a schema.
    import pandera.pandas as pa

    return pa


def _range_check(spec: ColumnSpec) -> list[pa.Check]:
    pa = _pandera()
    if spec.min is not None and spec.max is not None:
        return [pa.Check.in_range(spec.min, spec.max)]
    if spec.min is not None:
        return [pa.Check.ge(spec.min)]
    if spec.max is not None:
        return [pa.Check.le(spec.max)]
    return []


def _column(name: str, spec: ColumnSpec, c: Contract) -> pa.Column:
    pa = _pandera()
    checks = _range_check(spec)
    dtype = _DTYPES[spec.type]
    if spec.type == "category" and spec.unknown is None:
        checks.append(pa.Check.isin(spec.categories))  # closed: others are errors
    if spec.pattern is not None:
        checks.append(pa.Check.str_matches(spec.pattern))
    if name == c.target and c.task == "regression":
        dtype = "float64"  # a number; its range checks are the column's min/max
    elif name == c.target:
        dtype = "Int64"
        checks = [pa.Check.isin(c.label_values)]
    return pa.Column(dtype, checks, nullable=spec.nullable and name != c.target,
                     unique=spec.unique, description=spec.why)  # fmt: skip


def raw_schema(
    *,
    require_target: bool = True,
    rows: tuple[int, int] | None = None,
    skip: frozenset[str] = frozenset(),
    expectations: bool = True,
    c: Contract | None = None,
) -> pa.DataFrameSchema:
    """The schema of the raw table.

    require_target=False: serving and monitoring batches have no label.
    rows: (min, max) row count, from params.yaml.
    skip: policy keys ("column.check") of checks to leave out.
    expectations=False: column checks only (for scoring a few rows, where a mean of five
    rows says nothing about the data source).
    """
    pa = _pandera()
    c = c or contract.current()
    columns = {
        name: _column(name, spec, c)
        for name, spec in c.columns.items()
        if require_target or name != c.target
    }
    for name, column in columns.items():
        props = column.properties
        props["checks"] = [k for k in column.checks if f"{name}.{k.name}" not in skip]
        props["nullable"] = column.nullable or f"{name}.not_nullable" in skip
        props["unique"] = column.unique and f"{name}.field_uniqueness" not in skip
        columns[name] = pa.Column(**props)

    checks = []
    if expectations:
        chosen = [e for e in _expectations_of(c) if require_target or e.column != c.target]
        if rows is not None:
            chosen.append(
                Expectation("table", "row_count", len, rows[0], rows[1],
                            "validate.rows_min/rows_max in params.yaml")
            )  # fmt: skip
        checks = [_expectation_check(e) for e in chosen if e.key not in skip]
    return pa.DataFrameSchema(
        columns,
        checks=checks,
        strict=True,  # an unexpected column is an error, not silently carried along
        coerce=True,  # "42" -> 42; a value that does not convert is reported as a failure
        name=f"{c.name}_raw",
    )


_expectations_of = expectations  # raw_schema's parameter of the same name shadows it


def _expectation_check(e: Expectation) -> pa.Check:
    pa = _pandera()
    return pa.Check(
        lambda df: e.holds(e.measure(df)),
        name=e.key,
        error=e.key,  # reports look the bounds and the observed value up by this key
        description=e.why,
    )


def expectation_for(key: str, rows: tuple[int, int] | None = None) -> Expectation | None:
    for e in expectations():
        if e.key == key:
            return e
    if key == "table.row_count" and rows is not None:
        return Expectation("table", "row_count", len, rows[0], rows[1], "params.yaml")
    return None


def check_keys(rows: bool = True) -> set[str]:
    """Every policy key a user may set to warn."""
    keys = {e.key for e in expectations()}
    if rows:
        keys.add("table.row_count")
    for name, column in raw_schema(expectations=False).columns.items():
        keys |= {f"{name}.{c.name}" for c in column.checks}
        keys.add(f"{name}.not_nullable")
        if column.unique:
            keys.add(f"{name}.field_uniqueness")
    return keys
