"""What a valid raw table looks like: the one place that knows this dataset's columns.

To adapt Ratchet to your data, edit ID, TARGET and the columns below (and the feature
function in features.py). Every bound carries its reason, so a reviewer can tell a
business rule from a guess.
"""

from __future__ import annotations

import pandera.pandas as pa

ID = "customer_id"  # one row per customer; must be unique
TARGET = "churned"  # 1 = the customer left within the label window
LABELS = (0, 1)

PLANS = ("free", "pro", "enterprise")
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("organic", "paid_search", "referral", "partner")

# Columns the model may use, by role. Everything else except ID and TARGET is rejected.
CATEGORICAL = {"plan": PLANS, "region": REGIONS, "signup_channel": CHANNELS}


def _int(lo: int, hi: int, *, why: str, nullable: bool = False) -> pa.Column:
    return pa.Column("Int64", pa.Check.in_range(lo, hi), nullable=nullable, description=why)


def _float(lo: float, hi: float | None, *, why: str, nullable: bool = False) -> pa.Column:
    check = pa.Check.ge(lo) if hi is None else pa.Check.in_range(lo, hi)
    return pa.Column("float64", check, nullable=nullable, description=why)


def _category(values: tuple[str, ...], *, why: str) -> pa.Column:
    return pa.Column(str, pa.Check.isin(values), nullable=False, description=why)


def raw_schema(*, require_target: bool = True) -> pa.DataFrameSchema:
    """The schema of the raw table; serving and monitoring use it without the label."""
    columns = {
        ID: pa.Column(
            str,
            pa.Check.str_matches(r"^CUST-\d{8}$"),
            unique=True,
            nullable=False,
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
            "Int64", pa.Check.isin(LABELS), nullable=False, description="binary label"
        )
    return pa.DataFrameSchema(
        columns,
        strict=True,  # an unexpected column is an error, not silently carried along
        coerce=True,  # "42" -> 42; a value that does not convert is reported as a failure
        name="churn_raw",
    )
