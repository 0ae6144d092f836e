"""featurize stage: a seeded train/test split of the validated table, with features.

Classification splits are stratified on the label (each class keeps its share in both
parts); a regression split is a plain seeded shuffle."""

from __future__ import annotations

import argparse
import os

import pandas as pd
from sklearn.model_selection import train_test_split

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import FeaturizeParams
from ratchet.dataset import contract, schema
from ratchet.dataset.features import build_features


def split(validated: pd.DataFrame, p: FeaturizeParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test) tables of id, features and label."""
    regression = contract.current().task == "regression"
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
    ids = [schema.ID] if schema.ID else []  # the id travels with the rows; never a feature
    table = pd.concat(
        [validated[ids], build_features(validated), validated[[schema.TARGET]]], axis=1
    )
    del validated  # from here on only `table`: a caller that passed its only copy frees it
    try:
        train, test = train_test_split(
            table,
            test_size=p.test_size,
            random_state=p.seed,
            stratify=None if regression else table[schema.TARGET],
        )
    except ValueError as exc:  # e.g. fewer test rows than classes
        raise RatchetError(
            f"column '{schema.TARGET}': cannot split {len(table)} rows with featurize.test_size "
            f"{p.test_size} ({exc})"
        ) from None
    del table
    if not regression:
        _every_class_in(train, test, p)
    for part in (train, test):
        part.index = pd.RangeIndex(len(part))  # a new index, not a copy of the rows
    return train, test


def _every_class_in(train: pd.DataFrame, test: pd.DataFrame, p: FeaturizeParams) -> None:
    """A class missing from train cannot be learned, one missing from test is never scored:
    stratification keeps every class in both unless a class has very few rows."""
    names = contract.current().class_names
    for part, other in (("train", train), ("test", test)):
        absent = sorted(set(range(len(names))) - set(other[schema.TARGET].astype(int)))
        if absent:
            shown = ", ".join(repr(names[i]) for i in absent if i < len(names))
            raise RatchetError(
                f"column '{schema.TARGET}': class {shown} has no rows in the {part} split "
                f"(featurize.test_size {p.test_size}); add rows of it or drop it from 'labels'"
            )


def run(
    validated_path: str | os.PathLike,
    train_path: str | os.PathLike,
    test_path: str | os.PathLike,
    p: FeaturizeParams,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = split(io.read_parquet(validated_path), p)
    io.write_table(train_path, train)
    io.write_table(test_path, test)
    return train, test


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="validated table (.parquet)")
    parser.add_argument("--train", required=True, help="train features (.parquet)")
    parser.add_argument("--test", required=True, help="test features (.parquet)")


def command(args: argparse.Namespace) -> int:
    p = params.section("featurize", params.FeaturizeParams, args.params)
    train, test = run(args.input, args.train, args.test, p)
    print(f"features: {len(train)} train rows, {len(test)} test rows")
    return 0
