"""The feature function: raw columns in, model columns out, as the dataset contract says.

Training (featurize), batch scoring and the REST service all call `build_features`, so
the model never sees features computed two different ways (no train/serve skew).
It is a pure function of one row's columns: no statistics fitted on the data here;
anything learned belongs in the model's preprocessing, which is saved with the model.

Model columns, in order: the contract's feature columns (numbers as float64, categories
with the contract's fixed categories), then its engineered features (expressions), then
whatever the optional Python hook returns.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from ratchet.core.errors import RatchetError
from ratchet.dataset import contract
from ratchet.dataset.contract import Contract


def build_features(raw: pd.DataFrame, c: Contract | None = None) -> pd.DataFrame:
    """Return the model's input columns for validated raw rows (same index, same order)."""
    c = c or contract.current()
    categorical = c.categorical
    # Columns are computed as arrays and assembled once: the service calls this for every
    # request, and inserting columns one by one into a frame costs more than the maths.
    out: dict[str, object] = {}
    for column in c.raw_features:
        values = raw[column]
        spec = c.columns[column]
        if spec.type == "category":
            if spec.unknown is not None:  # open: any other value falls in the bucket
                values = values.where(values.isin(spec.categories) | values.isna(), spec.unknown)
            # Fixed categories: the encoding does not depend on which values a batch holds.
            out[column] = pd.Categorical(values, dtype=_category_dtype(categorical[column]))
        elif spec.type == "datetime":
            days = values.astype("datetime64[ns]").to_numpy().astype("int64") / 86_400e9
            out[column] = np.where(values.isna().to_numpy(), np.nan, days)
        else:
            out[column] = values.to_numpy(dtype="float64", na_value=np.nan)
    numbers = {k: v for k, v in out.items() if isinstance(v, np.ndarray)}
    for name, expression in c.features.items():
        out[name] = numbers[name] = expression.evaluate(numbers)
    if c.spec.hook:
        out.update(_hook(c.spec.hook, c.path)(raw))
    return pd.DataFrame(out, index=raw.index)


def _category_dtype(categories: list) -> pd.CategoricalDtype:
    # Built once per set of categories: the service builds features for every request, and
    # checking the categories anew cost more than encoding a one-row request's value. The
    # key holds each value's type: 1, 1.0 and True are equal keys but other categories.
    return _dtype_of(tuple((type(v), v) for v in categories))


@functools.lru_cache(maxsize=256)
def _dtype_of(typed: tuple) -> pd.CategoricalDtype:
    return pd.CategoricalDtype([v for _, v in typed])


@functools.cache
def _hook(hook: str, where: str):
    """The `features` function of the contract's hook module (loaded once per process)."""
    path = Path(hook)
    spec = importlib.util.spec_from_file_location(f"ratchet_hook_{path.stem}", path)
    if spec is None or not path.is_file():
        raise RatchetError(f"{where}: 'hook': {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function = getattr(module, "features", None)
    if not callable(function):
        raise RatchetError(f"{path}: defines no function features(frame) -> dict of columns")
    return function


def engineered(c: Contract | None = None) -> tuple[str, ...]:
    """Names of the features computed from other columns (left out of drift comparisons)."""
    return (c or contract.current()).engineered


def feature_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split a feature table's columns into (numeric, categorical), ignoring id and label."""
    c = contract.current()
    numeric, categorical = [], []
    for column in frame.columns:
        if column in (c.id, c.target):
            continue
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            categorical.append(column)
        else:
            numeric.append(column)
    return numeric, categorical
