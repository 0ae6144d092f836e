"""Permutation importance on encoded arrays gives scikit-learn's numbers, for every task and
both estimators, and falls back to scikit-learn where the preprocessing mixes columns."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from ratchet.core.params import FeaturizeParams
from ratchet.dataset import contract, schema
from ratchet.dataset.features import feature_columns
from ratchet.pipeline import importance, model
from ratchet.pipeline.evaluate import IMPORTANCE
from ratchet.pipeline.featurize import split
from task_fixtures import toy_contract, toy_model, toy_table

ESTIMATORS = {
    "multiclass": ["hist_gradient_boosting", "logistic_regression"],
    "regression": ["hist_gradient_boosting", "ridge"],
}
CASES = [(task, estimator) for task, names in ESTIMATORS.items() for estimator in names]


def held_out(task: str):
    table = toy_table(task, 600, seed=4)
    _, test = split(table, FeaturizeParams(test_size=0.5, seed=1))
    numeric, categorical = feature_columns(test)
    return test[numeric + categorical], test[schema.TARGET]


def fitted(tmp_path, task: str, estimator: str, repo_params: dict) -> Pipeline:
    return model.load(toy_model(tmp_path / task, task, repo_params, estimator=estimator))


@pytest.mark.parametrize(("task", "estimator"), CASES)
def test_the_means_are_scikit_learns(tmp_path, repo_params, task, estimator):
    pipeline = fitted(tmp_path, task, estimator, repo_params)
    with contract.use(toy_contract(task)):
        X, y = held_out(task)
        scoring = IMPORTANCE[task][0]
        assert importance.encoded_blocks(pipeline[0], list(X.columns)) is not None
        ours = importance.permutation_means(pipeline, X, y, scoring, 3, 7)
        theirs = permutation_importance(
            pipeline, X, y, scoring=scoring, n_repeats=3, random_state=7, n_jobs=1
        ).importances_mean
    np.testing.assert_array_equal(ours, theirs)
    assert np.abs(ours).max() > 0  # the toy label depends on its features


def test_the_binary_sample_model_gets_scikit_learns_numbers(model_file, validated):
    pipeline = model.load(model_file)  # the bundled sample's gradient boosting (ROC AUC)
    _, test = split(validated.iloc[:3_000], FeaturizeParams(test_size=0.3, seed=2))
    numeric, categorical = feature_columns(test)
    X, y = test[numeric + categorical], test[schema.TARGET]
    encoded = pipeline[0].transform(X)
    ours = importance.permutation_means(pipeline, X, y, "roc_auc", 2, 5, encoded)
    theirs = permutation_importance(
        pipeline, X, y, scoring="roc_auc", n_repeats=2, random_state=5, n_jobs=1
    ).importances_mean
    np.testing.assert_array_equal(ours, theirs)
    assert importance.encoded_blocks(pipeline[0], list(X.columns)) is not None  # no fallback
    np.testing.assert_array_equal(encoded, pipeline[0].transform(X))  # the caller's is kept


def test_a_one_hot_block_moves_as_one_column(tmp_path, repo_params):
    pipeline = fitted(tmp_path, "multiclass", "logistic_regression", repo_params)
    with contract.use(toy_contract("multiclass")):
        X, _ = held_out("multiclass")
    blocks = importance.encoded_blocks(pipeline[0], list(X.columns))
    widths = {c: len(b) for c, b in zip(X.columns, blocks, strict=True)}
    assert widths == {"x1": 1, "x2": 1, "g": 2}  # g's two categories, one-hot
    assert sorted(np.concatenate(blocks).tolist()) == list(range(4))


def test_a_preprocessing_that_mixes_columns_falls_back(tmp_path, repo_params):
    pipeline = fitted(tmp_path, "regression", "ridge", repo_params)
    with contract.use(toy_contract("regression")):
        X, y = held_out("regression")
        numeric = [c for c in X.columns if c != "g"]
        mixed = Pipeline([("pre", ColumnTransformer([("pca", PCA(2), numeric)])),
                          ("model", pipeline[-1].__class__())])  # fmt: skip
        mixed.fit(X, y)
        assert importance.encoded_blocks(mixed[0], list(X.columns)) is None
        ours = importance.permutation_means(mixed, X, y, "neg_root_mean_squared_error", 2, 0)
        theirs = permutation_importance(
            mixed, X, y, scoring="neg_root_mean_squared_error", n_repeats=2, random_state=0
        ).importances_mean
    np.testing.assert_array_equal(ours, theirs)


def test_the_sample_is_seeded_bounded_and_in_table_order():
    assert importance.sample_positions(100, 100, 0) is None
    picked = importance.sample_positions(1_000, 50, 3)
    assert len(picked) == 50 and np.all(np.diff(picked) > 0)
    assert picked.tolist() == importance.sample_positions(1_000, 50, 3).tolist()
