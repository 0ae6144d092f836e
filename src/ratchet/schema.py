"""What a valid raw table looks like: the one place that knows this dataset's columns.

To adapt Ratchet to your data, edit ID, TARGET, the column checks in `raw_schema` and the
dataset expectations in EXPECTATIONS (and the feature function in features.py). Every
bound carries its reason, so a reviewer can tell a business rule from a guess. Row-count
bounds depend on how much data you feed in, so they live in params.yaml (`validate:`).

Coercion rules (the schema coerces, then checks):
- integer columns (nullable Int64) accept integers, integral floats (42.0) and numeric
  text ("42"); a blank cell is a null; 42.5 or "twelve" fails `coerce_dtype`;
- float columns accept numbers and numeric text; a blank cell is a null;
- text columns are read as text as they are: no trimming, no case folding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

ID = "customer_id"  # one row per customer; must be unique
TARGET = "churned"  # 1 = the customer left within the label window
LABELS = (0, 1)

PLANS = ("free", "pro", "enterprise")
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("organic", "paid_search", "referral", "partner")

# Columns the model may use, by role. Everything else except ID and TARGET is rejected.
CATEGORICAL = {"plan": PLANS, "region": REGIONS, "signup_channel": CHANNELS}
# Read as Arrow-backed text: checks on them are vectorised instead of per Python object.
TEXT_COLUMNS = (ID, *CATEGORICAL)
TEXT = pd.StringDtype("pyarrow")


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


def _mean(column: str) -> Callable[[pd.DataFrame], float]:
    return lambda df: float(df[column].mean())


def _quantile(column: str, q: float) -> Callable[[pd.DataFrame], float]:
    return lambda df: float(df[column].quantile(q))


def _null_share(column: str) -> Callable[[pd.DataFrame], float]:
    return lambda df: float(df[column].isna().mean())


def _unique_share(column: str) -> Callable[[pd.DataFrame], float]:
    return lambda df: float(df[column].nunique(dropna=True) / max(len(df), 1))


def _label_rate(df: pd.DataFrame) -> float:
    return float(pd.to_numeric(df[TARGET], errors="coerce").mean())


# Dataset-level expectations: what a healthy extract looks like as a whole. A breach
# usually means a broken join, a changed unit or a partial export, not a bad row.
EXPECTATIONS: tuple[Expectation, ...] = (
    Expectation(TARGET, "label_rate", _label_rate, 0.05, 0.40,
                "churn outside 5-40 % points to a broken label join or window"),
    Expectation(ID, "unique_share", _unique_share(ID), 1.0, None,
                "one row per customer; duplicates double-count customers",
                offending=lambda df: df[ID].duplicated(keep=False)),
    Expectation("age", "mean", _mean("age"), 25.0, 60.0,
                "the customer base is adults of working age on average"),
    Expectation("monthly_charges", "median", _quantile("monthly_charges", 0.5), 5.0, 200.0,
                "a median bill outside the price list means a unit or currency change"),
    Expectation("tenure_months", "p95", _quantile("tenure_months", 0.95), 12.0, 240.0,
                "a 95th percentile outside 1-20 years means tenure is in other units"),
    Expectation("days_since_last_login", "mean", _mean("days_since_last_login"), 1.0, 60.0,
                "average recency; far above 60 days means a stale activity feed"),
    Expectation("income", "null_share", _null_share("income"), None, 0.10,
                "income is optional, but more than 10 % missing means a broken source"),
)  # fmt: skip


def _int(lo: int, hi: int, *, why: str, nullable: bool = False) -> pa.Column:
    return pa.Column("Int64", pa.Check.in_range(lo, hi), nullable=nullable, description=why)


def _float(lo: float, hi: float | None, *, why: str, nullable: bool = False) -> pa.Column:
    check = pa.Check.ge(lo) if hi is None else pa.Check.in_range(lo, hi)
    return pa.Column("float64", check, nullable=nullable, description=why)


def _category(values: tuple[str, ...], *, why: str) -> pa.Column:
    return pa.Column(TEXT, pa.Check.isin(values), nullable=False, description=why)


def _expectation_check(e: Expectation) -> pa.Check:
    return pa.Check(
        lambda df: e.holds(e.measure(df)),
        name=e.key,
        error=e.key,  # reports look the bounds and the observed value up by this key
        description=e.why,
    )


def raw_schema(
    *,
    require_target: bool = True,
    rows: tuple[int, int] | None = None,
    skip: frozenset[str] = frozenset(),
    expectations: bool = True,
) -> pa.DataFrameSchema:
    """The schema of the raw table.

    require_target=False: serving and monitoring batches have no label.
    rows: (min, max) row count, from params.yaml.
    skip: policy keys ("column.check") of checks to leave out.
    expectations=False: column checks only (for scoring a few rows, where a mean of five
    rows says nothing about the data source).
    """
    columns = {
        ID: pa.Column(
            TEXT,
            pa.Check.str_matches(r"^CUST-\d{8}$"),
            nullable=False,
            # Uniqueness is the dataset expectation customer_id.unique_share: one hash
            # pass over a million ids costs more than every other check together.
            description="the CRM's customer key",
        ),
        "age": _int(18, 120, why="adults only; above 120 is a data-entry error"),
        "income": _float(0.0, None, why="annual income, never negative", nullable=True),
        "tenure_months": _int(0, 600, why="months as a customer; 50 years at most"),
        "monthly_charges": _float(0.0, 10_000.0, why="current bill; above 10k is an error"),
        "support_tickets": _int(0, 1_000, why="tickets in the last 90 days"),
        "days_since_last_login": _int(0, 3_650, why="10 years at most"),
        "plan": _category(PLANS, why="the price list's plans"),
        "region": _category(REGIONS, why="sales regions"),
        "signup_channel": _category(CHANNELS, why="attribution channels"),
    }
    if require_target:
        columns[TARGET] = pa.Column(
            "Int64", pa.Check.isin(LABELS), nullable=False, description="binary label, 1 = churned"
        )
    for name, column in columns.items():
        props = column.properties
        props["checks"] = [c for c in column.checks if f"{name}.{c.name}" not in skip]
        props["nullable"] = column.nullable or f"{name}.not_nullable" in skip
        props["unique"] = column.unique and f"{name}.field_uniqueness" not in skip
        columns[name] = pa.Column(**props)

    checks = []
    if expectations:
        chosen = [e for e in EXPECTATIONS if require_target or e.column != TARGET]
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
        name="churn_raw",
    )


def expectation_for(key: str, rows: tuple[int, int] | None = None) -> Expectation | None:
    for e in EXPECTATIONS:
        if e.key == key:
            return e
    if key == "table.row_count" and rows is not None:
        return Expectation("table", "row_count", len, rows[0], rows[1], "params.yaml")
    return None


def check_keys(rows: bool = True) -> set[str]:
    """Every policy key a user may set to warn."""
    keys = {e.key for e in EXPECTATIONS}
    if rows:
        keys.add("table.row_count")
    for name, column in raw_schema(expectations=False).columns.items():
        keys |= {f"{name}.{c.name}" for c in column.checks}
        keys.add(f"{name}.not_nullable")
        if column.unique:
            keys.add(f"{name}.field_uniqueness")
    return keys
