"""Multiclass and regression: metrics against scikit-learn's own functions, the split, the
estimators and the plots evaluate writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import metrics as skm

from conftest import project_files
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams, FeaturizeParams, TrainParams, parse_section
from ratchet.dataset import contract
from ratchet.pipeline import evaluate, model
from ratchet.pipeline.featurize import split
from ratchet.pipeline.metrics import metric_key, multiclass_metrics, regression_metrics
from ratchet.pipeline.train import run as train_run
from task_fixtures import toy_contract, toy_table

RNG = np.random.default_rng(0)


def test_multiclass_metrics_are_scikit_learns():
    y = RNG.integers(0, 3, 200)
    proba = RNG.dirichlet([1, 1, 1], 200)
    proba[np.arange(200), y] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    m = multiclass_metrics(y, proba, ("Iris setosa", "versicolor", "virginica"))
    pred = proba.argmax(axis=1)
    assert m["accuracy"] == round(skm.accuracy_score(y, pred), 6)
    assert m["balanced_accuracy"] == round(skm.balanced_accuracy_score(y, pred), 6)
    assert m["macro_f1"] == round(skm.f1_score(y, pred, average="macro"), 6)
    assert m["weighted_f1"] == round(skm.f1_score(y, pred, average="weighted"), 6)
    assert m["log_loss"] == round(skm.log_loss(y, proba), 6)
    assert m["roc_auc_ovr"] == round(skm.roc_auc_score(y, proba, multi_class="ovr"), 6)
    recall = skm.recall_score(y, pred, average=None)
    assert m["recall_iris_setosa"] == round(recall[0], 6)
    assert m["precision_virginica"] == round(skm.precision_score(y, pred, average=None)[2], 6)


def test_regression_metrics_are_scikit_learns_and_mape_needs_no_zero():
    y = RNG.normal(100, 20, 300)
    pred = y + RNG.normal(0, 5, 300)
    m = regression_metrics(y, pred)
    assert m["rmse"] == round(skm.root_mean_squared_error(y, pred), 6)
    assert m["mae"] == round(skm.mean_absolute_error(y, pred), 6)
    assert m["r2"] == round(skm.r2_score(y, pred), 6)
    assert m["median_ae"] == round(skm.median_absolute_error(y, pred), 6)
    assert m["mape"] == round(skm.mean_absolute_percentage_error(y, pred), 6)
    y[3] = 0.0
    assert "mape" not in regression_metrics(y, pred)


def test_metric_keys_of_class_names():
    assert metric_key("Iris Setosa") == "iris_setosa"
    assert metric_key("class-2") == "class_2"
    assert metric_key("???") == "class"


@pytest.mark.parametrize(
    ("task", "plots", "linear"),
    [
        ("multiclass", ["sklearn/confusion_matrix.json", "custom/importance.json",
                        "sklearn/precision_recall_by_class/a.json"], "logistic_regression"),
        ("regression", ["custom/predicted_actual.json", "custom/residuals.json",
                        "custom/residual_histogram.json", "custom/importance.json"], "ridge"),
    ],
)  # fmt: skip
def test_train_and_evaluate_per_task(tmp_path, repo_params, monkeypatch, task, plots, linear):
    monkeypatch.chdir(project_files(tmp_path))
    with contract.use(toy_contract(task)):
        train, test = split(toy_table(task), FeaturizeParams(test_size=0.3, seed=0))
        train.to_parquet("train.parquet")
        test.to_parquet("test.parquet")
        ep = parse_section("evaluate", EvaluateParams, repo_params)
        for estimator in ("hist_gradient_boosting", linear):
            tp = parse_section("train", TrainParams, repo_params).model_copy(
                update={"max_iter": 30, "estimator": estimator}
            )
            train_run("train.parquet", "model.skops", "live/train", tp)
            model.load("model.skops")  # every type is on the allowlist
            metrics = evaluate.run("model.skops", "test.parquet", "p.parquet", "live/eval", ep)
            if task == "multiclass":
                assert metrics["accuracy"] > 0.7 and "recall_c" in metrics
            else:
                assert metrics["r2"] > 0.6  # 30 trees at rate 0.05 still underfit
        written = json.loads((tmp_path / "live/eval/metrics.json").read_text())
        assert written == metrics
        for name in plots:
            assert (tmp_path / "live/eval/plots" / name).is_file(), name
        wrong = "ridge" if task == "multiclass" else "logistic_regression"
        tp = tp.model_copy(update={"estimator": wrong})
        with pytest.raises(RatchetError, match=f"{wrong} does not fit a {task} task"):
            train_run("train.parquet", "model.skops", "live/train", tp)


def test_a_class_too_small_to_split_is_one_line():
    with contract.use(toy_contract("multiclass")):
        table = toy_table("multiclass", 60)
        table.loc[0, "y"] = 2
        table.loc[1:, "y"] = table.loc[1:, "y"].clip(upper=1)
        with pytest.raises(RatchetError, match="need at least 2 rows of each class"):
            split(table, FeaturizeParams(test_size=0.3, seed=0))
        table.loc[:, "y"] = pd.array(np.arange(60) % 3, dtype="Int64")
        with pytest.raises(RatchetError, match="cannot split 60 rows"):
            split(table, FeaturizeParams(test_size=0.02, seed=0))


def test_an_unlisted_class_fails_validation_naming_the_labels():
    from ratchet.dataset import validation

    raw = pd.DataFrame({"x1": ["1.0", "2.0"], "x2": ["0", "1"], "g": ["p", "q"], "y": ["a", "z"]})
    with contract.use(toy_contract("multiclass")):
        lines = [f.line() for f in validation.check(raw).errors]
    assert any("every class must be listed in 'labels'" in line for line in lines), lines


def test_a_class_missing_from_the_test_split_is_one_line_naming_it():
    table = toy_table("multiclass", rows=300)
    rare = table.index[table["y"] == 2][2:]  # class c keeps only 2 rows
    table = table.drop(index=rare).reset_index(drop=True)
    with contract.use(toy_contract("multiclass")), pytest.raises(RatchetError) as err:
        split(table, FeaturizeParams(test_size=0.1, seed=0))
    assert str(err.value).startswith("column 'y': class 'c' has no rows in the test split")


@pytest.mark.parametrize(
    ("task", "check", "bounds", "passes"),
    [
        ("multiclass", "min_class_share", {"min": 0.2}, True),
        ("multiclass", "min_class_share", {"min": 0.4}, False),
        ("multiclass", "max_class_share", {"max": 0.3}, False),
        ("regression", "zero_share", {"max": 0.0}, True),
    ],
)  # fmt: skip
def test_class_balance_and_zero_share_expectations(task, check, bounds, passes):
    from ratchet.dataset import schema

    table = toy_table(task)
    shares = table["y"].value_counts(normalize=True)
    expectation = {"column": "y", "check": check, "why": "t", **bounds}
    document = yaml.safe_load(toy_contract(task).text)
    document["expectations"] = [expectation]
    with contract.use(contract.parse(document)):
        (e,) = schema.expectations()
        measured = e.measure(table)
    expected = {"min_class_share": shares.min(), "max_class_share": shares.max()}.get(check, 0.0)
    assert measured == pytest.approx(expected)
    assert e.holds(measured) is passes


def test_class_share_checks_need_a_class_target():
    document = yaml.safe_load(toy_contract("regression").text)
    document["expectations"] = [{"column": "y", "check": "min_class_share", "min": 0.1, "why": "t"}]
    with pytest.raises(RatchetError, match="min_class_share applies to a class target only"):
        contract.parse(document)
