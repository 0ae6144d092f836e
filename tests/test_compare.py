"""Which base metrics are comparable with a change's: same dataset identity only."""

from __future__ import annotations

import yaml

from ratchet.review.compare import dataset_switch

BASE = {"name": "loans", "task": "binary", "target": "defaulted", "labels": None, "columns": {}}


def text(**changes) -> str:
    return yaml.safe_dump({**BASE, **changes})


def test_the_same_dataset_is_comparable_even_when_columns_change():
    assert dataset_switch(text(), text()) is None
    assert dataset_switch(text(), text(columns={"amount": {"type": "float"}})) is None
    assert dataset_switch(None, None) is None  # a project without a contract


def test_another_dataset_target_task_or_label_mapping_is_a_new_baseline():
    assert dataset_switch(text(), text(name="cards")) == "dataset changed: name 'loans' → 'cards'"
    assert "target 'defaulted' → 'late'" in dataset_switch(text(), text(target="late"))
    assert "labels None → {'N': 0, 'Y': 1}" in dataset_switch(text(), text(labels={"Y": 1, "N": 0}))
    assert dataset_switch(None, text()) == "the base has no dataset contract"
    assert dataset_switch(text(), None) == "this change removes the dataset contract"
    assert dataset_switch("{broken", text()) == "the base's dataset contract cannot be read"
