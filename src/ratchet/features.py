"""The feature function: raw columns in, model columns out.

Training (featurize), batch scoring and the REST service all call `build_features`, so
the model never sees features computed two different ways (no train/serve skew).
Keep it a pure function of one row's columns: no statistics fitted on the data here;
anything learned belongs in the model's preprocessing, which is saved with the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ratchet import portable, schema

ENGINEERED = ("log_days_since_last_login", "charges_per_tenure_month", "charges_to_income")


def build_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Return the model's input columns for validated raw rows (same index, same order)."""
    # Columns are computed as arrays and assembled once: the service calls this for every
    # request, and inserting columns one by one into a frame costs more than the maths.
    out: dict[str, object] = {}
    for column in raw.columns:
        if column in (schema.ID, schema.TARGET):
            continue
        if column in schema.CATEGORICAL:
            # Fixed categories: the encoding does not depend on which values a batch holds.
            out[column] = pd.Categorical(raw[column], categories=schema.CATEGORICAL[column])
        else:
            out[column] = raw[column].to_numpy(dtype="float64", na_value=np.nan)
    days = out["days_since_last_login"]
    charges = out["monthly_charges"]
    income = out["income"]
    out["log_days_since_last_login"] = portable.log1p(days)
    out["charges_per_tenure_month"] = charges / (out["tenure_months"] + 1.0)
    out["charges_to_income"] = 12.0 * charges / np.where(income > 0, income, np.nan)
    return pd.DataFrame(out, index=raw.index)


def feature_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split a feature table's columns into (numeric, categorical), ignoring id and label."""
    numeric, categorical = [], []
    for column in frame.columns:
        if column in (schema.ID, schema.TARGET):
            continue
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            categorical.append(column)
        else:
            numeric.append(column)
    return numeric, categorical
