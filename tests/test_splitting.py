"""The featurize stage's own split draws the very rows scikit-learn's `train_test_split`
draws (it avoids importing scikit-learn), and refuses what that function refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from ratchet.core.errors import RatchetError
from ratchet.core.params import FeaturizeParams
from ratchet.dataset import contract, schema
from ratchet.pipeline import splitting
from ratchet.pipeline.featurize import partition
from task_fixtures import toy_contract, toy_table

CASES = [  # rows, held-out share, seed, class weights (None: regression, no strata)
    (10, 0.2, 0, None),
    (1_001, 0.33, 7, None),
    (20_000, 0.2, 42, [0.8, 0.2]),
    (16_000, 0.2, 42, [0.8, 0.2]),
    (997, 0.25, 3, [0.5, 0.3, 0.2]),
    (61, 0.3, 11, [0.34, 0.33, 0.33]),  # remainders tie: the seeded tie-break decides
    (500, 0.1, 5, [0.97, 0.03]),
    (12, 0.5, 1, [0.5, 0.5]),
    (5_003, 0.137, 2026, [0.1, 0.2, 0.3, 0.4]),
]


@pytest.mark.parametrize(("rows", "share", "seed", "weights"), CASES)
def test_the_split_is_scikit_learns_row_for_row(rows, share, seed, weights):
    positions = np.arange(rows)
    if weights is None:
        train, held = splitting.shuffled(rows, share, seed)
        expected = train_test_split(positions, test_size=share, random_state=seed)
    else:
        labels = np.random.default_rng(seed).choice(len(weights), rows, p=weights)
        train, held = splitting.stratified(labels, share, seed)
        expected = train_test_split(positions, test_size=share, random_state=seed, stratify=labels)
    assert train.tolist() == expected[0].tolist()
    assert held.tolist() == expected[1].tolist()


def test_the_featurize_parts_equal_those_train_test_split_gives():
    with contract.use(toy_contract("multiclass")):
        table = toy_table("multiclass", 400)
        p = FeaturizeParams(test_size=0.2, seed=9, valid_size=0.25)
        parts = partition(table, p)
        dev, test = train_test_split(
            np.arange(400), test_size=0.2, random_state=9, stratify=table[schema.TARGET]
        )
        train, valid = train_test_split(
            dev, test_size=0.25, random_state=9, stratify=table[schema.TARGET].to_numpy()[dev]
        )
    for part, rows in ((parts.test, test), (parts.train, train), (parts.valid, valid)):
        expected = table.iloc[rows].reset_index(drop=True)
        pd.testing.assert_series_equal(part["x1"], expected["x1"])  # the very rows, in order
        assert part["y"].tolist() == expected["y"].tolist()


@pytest.mark.parametrize(
    ("labels", "share", "reason"),
    [
        ([0, 1] * 5, 0.99, "leaves 0 train and 10 held-out rows"),
        ([0, 1, 2] * 10, 0.05, "28 train and 2 held-out rows for 3 classes"),
        ([0] * 9 + [1], 0.3, "a class has a single row"),
    ],
)
def test_what_cannot_be_split_says_why(labels, share, reason):
    with pytest.raises(splitting.SplitError, match=reason):
        splitting.stratified(np.array(labels), share, 0)
    with pytest.raises(ValueError):  # scikit-learn refuses the same inputs
        train_test_split(np.arange(len(labels)), test_size=share, stratify=labels)


def test_a_split_error_in_the_stage_names_the_key():
    with contract.use(toy_contract("regression")):
        table = toy_table("regression", 3)
        with pytest.raises(RatchetError, match=r"cannot split 3 rows with featurize\.test_size"):
            partition(table, FeaturizeParams(test_size=0.9, seed=0))
