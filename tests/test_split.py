"""The featurize split: train, validation and test rows (random and stratified, or by time),
and the validation metrics the train stage logs for model selection."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from conftest import EXAMPLE
from ratchet.core import params
from ratchet.core.errors import RatchetError
from ratchet.core.params import FeaturizeParams, TrainParams
from ratchet.dataset import contract, schema
from ratchet.pipeline import model, selection
from ratchet.pipeline.featurize import carve_validation, partition, split
from ratchet.pipeline.featurize import run as featurize_run
from ratchet.pipeline.train import run as train_run
from task_fixtures import toy_contract, toy_table

P = FeaturizeParams(test_size=0.2, seed=3, valid_size=0.25)


def ids(frame: pd.DataFrame) -> set:
    return set(frame[schema.ID])


def test_holdout_sizes_no_overlap_and_stratified(validated):
    parts = partition(validated, P)
    n = len(validated)
    assert len(parts.test) == pytest.approx(0.2 * n, abs=1)
    assert len(parts.valid) == pytest.approx(0.25 * (n - len(parts.test)), abs=1)
    assert len(parts.train) + len(parts.valid) + len(parts.test) == n
    assert ids(parts.train).isdisjoint(ids(parts.valid))
    assert ids(parts.train).isdisjoint(ids(parts.test))
    assert ids(parts.valid).isdisjoint(ids(parts.test))
    rate = validated[schema.TARGET].mean()
    for part in parts:
        assert part[schema.TARGET].mean() == pytest.approx(rate, abs=0.015)


def test_the_test_rows_do_not_depend_on_the_validation_settings(validated):
    holdout = partition(validated, P)
    cv = partition(validated, P.model_copy(update={"validation": "cv"}))
    wider = partition(validated, P.model_copy(update={"valid_size": 0.4}))
    assert ids(holdout.test) == ids(cv.test) == ids(wider.test)
    assert len(cv.valid) == 0 and list(cv.valid.columns) == list(cv.train.columns)
    assert ids(cv.train) == ids(holdout.train) | ids(holdout.valid)


def test_a_regression_holdout_is_a_plain_shuffle():
    with contract.use(toy_contract("regression")):
        parts = partition(toy_table("regression", rows=500), P)
    assert [len(p) for p in parts] == [300, 100, 100]


def test_a_class_too_rare_for_the_validation_split_is_one_line():
    table = toy_table("multiclass", rows=300)
    with contract.use(toy_contract("multiclass")):
        dev, _ = split(table, P)  # then class c keeps one non-test row:
        with pytest.raises(RatchetError, match=r"featurize\.valid_size") as err:
            carve_validation(pd.concat([dev[dev["y"] != 2], dev.loc[dev["y"] == 2].head(1)]), P)
    assert "\n" not in str(err.value)


# A time split: a contract with a datetime column `t`, one row per day.
def timed_contract(t_type: str = "datetime") -> contract.Contract:
    return contract.parse({
        "name": "timed", "task": "binary", "target": "y", "labels": {"no": 0, "yes": 1},
        "columns": {"x1": {"type": "float"}, "t": {"type": t_type},
                    "y": {"type": "category", "categories": ["no", "yes"], "role": "target"}},
    })  # fmt: skip


def timed_table(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    days = pd.date_range("2025-01-01", periods=rows, freq="D")
    order = rng.permutation(rows)  # the file is not in time order
    x1 = rng.normal(size=rows)
    y = pd.array((x1 + rng.normal(size=rows) > 0.5).astype(int), dtype="Int64")
    return pd.DataFrame({"x1": x1[order], "t": days[order], "y": y[order]})


TIME = FeaturizeParams(
    test_size=0.2, seed=3, split="time", time_column="t", cutoff="2025-12-01", valid_size=0.25
)


def test_a_time_split_tests_on_the_rows_after_the_cutoff_and_validates_on_the_latest_before():
    table = timed_table()
    with contract.use(timed_contract()):
        parts = partition(table, TIME)
    cutoff = pd.Timestamp("2025-12-01")
    day = pd.Timestamp("2025-01-01")

    def dates(part):  # `t` is a feature: days since the epoch
        return pd.to_datetime(part["t"], unit="D")

    assert (
        len(parts.test) == int((table["t"] > cutoff).sum()) == 400 - 335
    )  # 2025-01-01 to 2025-12-01: 335 days
    assert (dates(parts.test) > cutoff).all() and (dates(parts.valid) <= cutoff).all()
    assert len(parts.valid) == int(np.ceil(0.25 * 335))
    assert dates(parts.train).max() < dates(parts.valid).min()  # validation is the latest
    assert dates(parts.train).min() == day
    assert dates(parts.valid).is_monotonic_increasing and dates(parts.test).is_monotonic_increasing


@pytest.mark.parametrize(
    ("update", "t_type", "message"),
    [
        ({"time_column": None}, "datetime", "'featurize.time_column' is needed"),
        ({"cutoff": None}, "datetime", "'featurize.cutoff' is needed"),
        ({"time_column": "when"}, "datetime", "column 'when' is not in the contract"),
        ({"time_column": "x1"}, "datetime", "column 'x1' is float in the contract"),
        ({"cutoff": "soon"}, "datetime", "'featurize.cutoff': not a date or timestamp"),
        ({"cutoff": "2030-01-01"}, "datetime", "leaves no test rows"),
        ({"cutoff": "2020-01-01"}, "datetime", "leaves no train rows"),
        ({"validation": "cv"}, "datetime", "'featurize.validation' cv"),
    ],
)
def test_bad_time_split_settings_are_one_clear_line(update, t_type, message):
    with contract.use(timed_contract(t_type)), pytest.raises(RatchetError, match=message) as err:
        partition(timed_table(), TIME.model_copy(update=update))
    assert "\n" not in str(err.value)


def test_a_time_column_with_a_missing_value_is_one_line():
    table = timed_table()
    table.loc[5, "t"] = pd.NaT
    with (
        contract.use(timed_contract()),
        pytest.raises(RatchetError, match="column 't': 1 rows have no time"),
    ):
        partition(table, TIME)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("validation: kfold", "'featurize.validation'"),
        ("valid_size: 1.0", "'featurize.valid_size'"),
        ("folds: 1", "'featurize.folds'"),
        ("split: sorted", "'featurize.split'"),
    ],
)
def test_bad_validation_params_name_the_key(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(f"featurize:\n  test_size: 0.2\n  seed: 1\n  {text}\n")
    with pytest.raises(RatchetError, match=message) as err:
        params.section("featurize", FeaturizeParams, path)
    assert "\n" not in str(err.value)


def train_params(**update) -> TrainParams:
    doc = params.read_yaml(EXAMPLE / "params.yaml")
    return params.parse_section("train", TrainParams, doc).model_copy(
        update={"max_iter": 40, **update}
    )


def test_train_logs_validation_metrics_equal_to_scikit_learns(tmp_path, validated, monkeypatch):
    monkeypatch.chdir(tmp_path)
    featurize_run_paths = ("v.parquet", "train.parquet", "valid.parquet", "test.parquet")
    validated.to_parquet(featurize_run_paths[0])
    parts = featurize_run(*featurize_run_paths, P)
    metrics = train_run(
        "train.parquet", "model.skops", "live", train_params(), ("valid.parquet", P)
    )
    pipeline = model.load("model.skops")
    numeric = [c for c in parts.valid.columns if c not in (schema.ID, schema.TARGET)]
    proba = pipeline.predict_proba(parts.valid[numeric])[:, 1]
    y = parts.valid[schema.TARGET].to_numpy()
    logged = json.loads((tmp_path / "live/metrics.json").read_text())
    assert logged["valid"] == metrics["valid"]
    assert logged["valid"]["roc_auc"] == round(roc_auc_score(y, proba), 6)
    assert logged["valid"]["pr_auc"] == round(average_precision_score(y, proba), 6)
    assert logged["valid"]["rows"] == len(parts.valid)
    assert logged["train_rows"] == len(parts.train)


def test_cross_validation_pools_out_of_fold_predictions(validated):
    cv = P.model_copy(update={"validation": "cv", "folds": 3})
    parts = partition(validated, cv)
    c = contract.current()
    from ratchet.pipeline.train import _prepared, validate

    unfitted, X, y = _prepared(parts.train, train_params())
    got = validate(None, parts.train, parts.valid, train_params(), cv)
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    oof = cross_val_predict(
        unfitted, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=cv.seed),
        method="predict_proba",
    )[:, 1]  # fmt: skip
    assert got["roc_auc"] == round(roc_auc_score(y, oof), 6)
    assert got["rows"] == len(parts.train) and got["folds"] == 3
    assert selection.task_metrics(y, oof, c)["roc_auc"] == got["roc_auc"]


def test_holdout_without_validation_rows_is_one_line(validated):
    parts = partition(validated, P)
    from ratchet.pipeline.train import fit, validate

    fitted, _ = fit(parts.train, train_params())
    with pytest.raises(RatchetError, match="validation table: no rows"):
        validate(fitted, parts.train, parts.valid.iloc[:0], train_params(), P)
