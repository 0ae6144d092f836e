"""featurize stage: split the validated table into train, validation and test, with features.

The test rows are chosen first and do not depend on the validation settings, so switching
between holdout and cross-validation never moves a row in or out of the test set.

- `featurize.split: random`: a seeded split; classification is stratified on the label
  (each class keeps its share in every part), regression is a plain seeded shuffle.
- `featurize.split: time`: rows whose `time_column` is after `cutoff` are the test set, as
  in production, where a model is always scored on a later period than it learned from.

Validation (model selection: `ratchet exp best`, the sweep ranking) uses rows that are not
test rows: `holdout` carves `valid_size` of the non-test rows into valid.parquet (random
and stratified like the test split; with a time split, the LATEST rows before the cut-off,
so validation mimics the test period); `cv` leaves every non-test row in train.parquet and
the train stage cross-validates on it (valid.parquet is then empty).
"""

from __future__ import annotations

import argparse
import math
import os
from typing import NamedTuple

import numpy as np
import pandas as pd

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import FeaturizeParams
from ratchet.dataset import contract, schema
from ratchet.dataset.features import build_features
from ratchet.pipeline import splitting


class Parts(NamedTuple):
    train: pd.DataFrame
    valid: pd.DataFrame  # empty with validation: cv
    test: pd.DataFrame


def partition(validated: pd.DataFrame, p: FeaturizeParams) -> Parts:
    """Return the train, validation and test tables (id, features and label)."""
    dev, test = split(validated, p)
    train, valid = carve_validation(dev, p)
    return Parts(train, valid, test)


def split(validated: pd.DataFrame, p: FeaturizeParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (non-test rows, test rows); with a time split both are in time order."""
    regression = contract.current().task == "regression"
    _check_target(validated, regression)
    order = _time_order(validated, p) if p.split == "time" else None
    ids = [schema.ID] if schema.ID else []  # the id travels with the rows; never a feature
    table = pd.concat(
        [validated[ids], build_features(validated), validated[[schema.TARGET]]], axis=1
    )
    del validated  # from here on only `table`: a caller that passed its only copy frees it
    if order is not None:
        positions, n_before = order
        table = table.iloc[positions]
        dev, test = table.iloc[:n_before], table.iloc[n_before:]
    else:
        dev, test = _random_split(table, p.test_size, p.seed, regression, "featurize.test_size")
    del table
    if not regression:
        setting = "featurize.cutoff" if order is not None else "featurize.test_size"
        _every_class_in({"train": dev, "test": test}, f"{setting} {_setting_value(p)}")
    return _reindexed(dev), _reindexed(test)


def carve_validation(dev: pd.DataFrame, p: FeaturizeParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the non-test rows into (train, validation); cv keeps them all in train."""
    if p.validation == "cv":
        return dev, dev.iloc[:0].copy()
    regression = contract.current().task == "regression"
    if p.split == "time":
        # `dev` is in time order: the latest rows validate, like the test period follows.
        n_valid = math.ceil(p.valid_size * len(dev))
        train, valid = dev.iloc[: len(dev) - n_valid], dev.iloc[len(dev) - n_valid :]
    else:
        train, valid = _random_split(dev, p.valid_size, p.seed, regression, "featurize.valid_size")
    if len(train) == 0 or len(valid) == 0:
        raise RatchetError(
            f"'featurize.valid_size' {p.valid_size}: leaves {len(train)} train and {len(valid)} "
            f"validation rows out of {len(dev)}; both need rows"
        )
    if not regression:
        _every_class_in(
            {"train": train, "validation": valid}, f"featurize.valid_size {p.valid_size}"
        )
    return _reindexed(train), _reindexed(valid)


def _check_target(validated: pd.DataFrame, regression: bool) -> None:
    counts = validated[schema.TARGET].value_counts()
    if regression:
        if len(counts) < 2:
            raise RatchetError(
                f"column '{schema.TARGET}': the target holds one value only; nothing to learn"
            )
    elif len(counts) < 2 or counts.min() < 2:
        raise RatchetError(
            f"column '{schema.TARGET}': need at least 2 rows of each class to split, "
            f"got {counts.to_dict()}"
        )


def _random_split(table: pd.DataFrame, share: float, seed: int, regression: bool, key: str):
    """(rest, held out): a seeded shuffle, stratified on the label for classification."""
    try:
        if regression:
            rest, held = splitting.shuffled(len(table), share, seed)
        else:
            rest, held = splitting.stratified(table[schema.TARGET].to_numpy(), share, seed)
    except splitting.SplitError as exc:  # e.g. fewer held-out rows than classes
        raise RatchetError(
            f"column '{schema.TARGET}': cannot split {len(table)} rows with {key} {share} ({exc})"
        ) from None
    return table.take(rest), table.take(held)


def _time_order(validated: pd.DataFrame, p: FeaturizeParams) -> tuple[np.ndarray, int]:
    """Row positions in time order (stable, so ties keep file order) and how many rows are at
    or before the cut-off; every problem is one line naming the key or column."""
    column = p.time_column
    if not column:
        raise RatchetError(
            "params.yaml: 'featurize.time_column' is needed when featurize.split is time"
        )
    if not p.cutoff:
        raise RatchetError("params.yaml: 'featurize.cutoff' is needed when featurize.split is time")
    if p.validation == "cv":
        raise RatchetError(
            "params.yaml: 'featurize.validation' cv shuffles past and future rows together; "
            "use holdout with featurize.split time"
        )
    c = contract.current()
    spec = c.columns.get(column)
    if spec is None:
        raise RatchetError(f"'featurize.time_column': column '{column}' is not in the contract")
    if spec.type != "datetime" or column not in validated.columns:
        raise RatchetError(
            f"'featurize.time_column': column '{column}' is {spec.type} in the contract; "
            "a time split needs a datetime column"
        )
    times = pd.to_datetime(validated[column])
    missing = int(times.isna().sum())
    if missing:
        raise RatchetError(
            f"column '{column}': {missing} rows have no time; a time split needs one on every row"
        )
    try:
        cutoff = pd.Timestamp(p.cutoff)
    except (ValueError, TypeError):
        raise RatchetError(
            f"'featurize.cutoff': not a date or timestamp, got {p.cutoff!r}"
        ) from None
    tz = getattr(times.dt, "tz", None)
    if tz is not None and cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize(tz)  # a naive cut-off means the column's own time zone
    elif tz is None and cutoff.tzinfo is not None:
        cutoff = cutoff.tz_convert(None)
    after = (times > cutoff).to_numpy()
    n_before = int((~after).sum())
    if n_before == 0 or n_before == len(times):
        first, last = times.min(), times.max()
        part = "train" if n_before == 0 else "test"
        raise RatchetError(
            f"'featurize.cutoff' {p.cutoff}: leaves no {part} rows (column '{column}' runs from "
            f"{first} to {last})"
        )
    naive = times.dt.tz_convert(None) if tz is not None else times
    positions = np.argsort(naive.to_numpy(dtype="datetime64[ns]"), kind="stable")
    return positions, n_before


def _setting_value(p: FeaturizeParams) -> str:
    return str(p.cutoff) if p.split == "time" else str(p.test_size)


def _reindexed(part: pd.DataFrame) -> pd.DataFrame:
    part.index = pd.RangeIndex(len(part))  # a new index, not a copy of the rows
    return part


def _every_class_in(parts: dict[str, pd.DataFrame], setting: str) -> None:
    """A class missing from train cannot be learned, one missing from a held-out part is never
    scored: stratification keeps every class in all parts unless a class has very few rows."""
    names = contract.current().class_names
    for part, frame in parts.items():
        absent = sorted(set(range(len(names))) - set(frame[schema.TARGET].astype(int)))
        if absent:
            shown = ", ".join(repr(names[i]) for i in absent if i < len(names))
            raise RatchetError(
                f"column '{schema.TARGET}': class {shown} has no rows in the {part} split "
                f"({setting}); add rows of it or drop it from 'labels'"
            )


def run(
    validated_path: str | os.PathLike,
    train_path: str | os.PathLike,
    valid_path: str | os.PathLike,
    test_path: str | os.PathLike,
    p: FeaturizeParams,
) -> Parts:
    parts = partition(io.read_parquet(validated_path), p)
    io.write_table(train_path, parts.train)
    io.write_table(valid_path, parts.valid)
    io.write_table(test_path, parts.test)
    return parts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="validated table (.parquet)")
    parser.add_argument("--train", required=True, help="train features (.parquet)")
    parser.add_argument(
        "--valid", required=True, help="validation features (.parquet; empty with cv)"
    )
    parser.add_argument("--test", required=True, help="test features (.parquet)")


def command(args: argparse.Namespace) -> int:
    p = params.section("featurize", params.FeaturizeParams, args.params)
    parts = run(args.input, args.train, args.valid, args.test, p)
    held = (
        f"{len(parts.valid)} validation rows"
        if p.validation == "holdout"
        else (f"{p.folds}-fold cross-validation in train")
    )
    print(f"features: {len(parts.train)} train rows, {held}, {len(parts.test)} test rows")
    return 0
