"""The compiled inference form gives the pipeline's outputs bit for bit (np.array_equal).

Every task (the toy fixtures for multiclass and regression, the sample's
binary model), thousands of rows per model holding missing values in every column,
categories the model never saw, every known category, values exactly on the trees'
split thresholds, and extremes (the largest floats, infinities, -0.0, subnormals). Both
of the form's tree walks are compared: numpy for a few rows and TreePredictor tree by tree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import train_model_file
from ratchet.core.errors import RatchetError
from ratchet.dataset import contract, features
from ratchet.pipeline import compiled, model, predict
from task_fixtures import raw_rows, toy_model

EXTREMES = [
    0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1e300, -1e300,
    np.finfo("float64").max, -np.finfo("float64").max, np.inf, -np.inf,
]  # fmt: skip
UNSEEN = "category-the-model-never-saw"


def hard_features(pipeline, base: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """`rows` feature rows drawn from `base`, then made hard, column by column: a tenth
    missing, a tenth extreme, a tenth exactly on a split threshold of that feature; each
    categorical column holds every known category, missing values and an unseen one."""
    rng = np.random.default_rng(seed)
    feats = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    form = compiled.compile(pipeline)
    order = [col.name for col in form.columns]
    for name in feats.columns:
        values = feats[name]
        pick = rng.random(rows)
        if isinstance(values.dtype, pd.CategoricalDtype):
            known = list(values.cat.categories)
            cats = pd.Categorical(values, categories=[*known, UNSEEN])
            cats[pick < 0.1] = np.nan
            cats[(pick >= 0.1) & (pick < 0.2)] = UNSEEN
            cats[: len(known)] = known  # every known category, whatever the draw
            feats[name] = cats
            continue
        out = values.to_numpy(dtype="float64").copy()
        out[pick < 0.1] = np.nan
        extreme = (pick >= 0.1) & (pick < 0.2)
        out[extreme] = rng.choice(EXTREMES, int(extreme.sum()))
        on_split = (pick >= 0.2) & (pick < 0.3)
        thresholds = form.threshold[
            ~form.leaf & ~form.categorical & (form.feature == order.index(name))
        ]
        if len(thresholds):
            out[on_split] = rng.choice(thresholds, int(on_split.sum()))
        feats[name] = out
    return feats


def reference(pipeline, feats: pd.DataFrame, task: str) -> np.ndarray:
    """scikit-learn's own answer for the feature table."""
    if task == "regression":
        return pipeline.predict(feats)
    return pipeline.predict_proba(feats)


def assert_bit_equal(pipeline, feats: pd.DataFrame, c: contract.Contract) -> None:
    form = predict.compiled_form(pipeline)
    assert form is not None, compiled.why_not(pipeline)
    X = form.matrix(feats)
    assert X is not None
    expected = reference(pipeline, feats, c.task)
    fast = form.predict if c.task == "regression" else form.predict_proba
    # Many rows: TreePredictor tree by tree; and numpy on small slices.
    assert len(feats) > compiled.NUMPY_MAX_ROWS
    assert np.array_equal(fast(X), expected)
    size = compiled.NUMPY_MAX_ROWS
    walked = np.concatenate([fast(X[i : i + size]) for i in range(0, 2_000, size)])
    assert np.array_equal(walked, expected[:2_000])
    assert np.array_equal(form._raw_numpy(X[:2_000]), form._raw_trees(X[:2_000], 1))
    # And what every command reads: predict.outputs, key by key, against the pipeline's.
    with contract.use(c):
        got = predict.outputs(pipeline, feats, 0.5, c)
    if c.task == "regression":
        assert np.array_equal(got["prediction"], expected)
    elif c.task == "binary":
        assert np.array_equal(got["score"], expected[:, 1])
    else:
        assert np.array_equal(got["score"], expected.max(axis=1))
        for i, name in enumerate(c.class_names):
            assert np.array_equal(got[predict.proba_column(name)], expected[:, i])


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_toy_models_are_bit_equal(tmp_path, repo_params, task):
    pipeline = model.load(toy_model(tmp_path, task, repo_params, max_iter=30))
    c = model.contract_for(pipeline)
    with contract.use(c):
        base = features.build_features(raw_rows(task, 500, seed=1), c)
    assert_bit_equal(pipeline, hard_features(pipeline, base, 6_000, seed=2), c)


def test_sample_model_is_bit_equal(model_file, validated):
    pipeline = model.load(model_file)
    c = model.contract_for(pipeline)
    base = features.build_features(validated, c)
    assert_bit_equal(pipeline, hard_features(pipeline, base, 6_000, seed=3), c)


def test_the_compiled_form_is_the_one_predict_uses(model_file, validated):
    pipeline = model.load(model_file)
    form = predict.compiled_form(pipeline)
    assert form is predict.compiled_form(pipeline)  # built once per loaded pipeline
    feats = features.build_features(validated.head(3))
    # The categorical column's codes go through both fitted encoders into one lookup.
    encoded = pipeline[0].transform(feats)
    again = pipeline[-1]._preprocessor.transform(encoded)
    assert np.array_equal(form.matrix(feats), again, equal_nan=True)


def test_a_linear_model_falls_back_to_the_pipeline(tmp_path, validated):
    pipeline = model.load(
        train_model_file(validated, tmp_path / "lr.skops", estimator="logistic_regression")
    )
    assert predict.compiled_form(pipeline) is None
    assert "LogisticRegression" in compiled.why_not(pipeline)
    feats = features.build_features(validated)
    got = predict.outputs(pipeline, feats, 0.5)
    assert np.array_equal(got["score"], pipeline.predict_proba(feats)[:, 1])


def test_a_table_of_other_dtypes_falls_back_to_the_pipeline(model_file, validated):
    pipeline = model.load(model_file)
    feats = features.build_features(validated.head(50))
    numeric = next(n for n in feats.columns if feats[n].dtype == "float64")
    odd = feats.assign(**{numeric: feats[numeric].astype("float32")})
    assert predict.compiled_form(pipeline).matrix(odd) is None
    got = predict.outputs(pipeline, odd, 0.5)
    assert np.array_equal(got["score"], pipeline.predict_proba(odd)[:, 1])
    # Columns by name, as the ColumnTransformer takes them: any order is the same table,
    # and a missing column goes to the pipeline, which refuses it as it always has.
    shuffled = feats[list(reversed(feats.columns))]
    assert np.array_equal(
        predict.outputs(pipeline, shuffled, 0.5)["score"], pipeline.predict_proba(feats)[:, 1]
    )
    assert predict.compiled_form(pipeline).matrix(feats.drop(columns=[numeric])) is None
    with pytest.raises(ValueError, match=numeric):
        predict.outputs(pipeline, feats.drop(columns=[numeric]), 0.5)


def test_the_environment_can_force_the_pipeline(model_file, monkeypatch):
    monkeypatch.setenv(compiled.ENV_VAR, "pipeline")
    pipeline = model.load(model_file)
    assert compiled.compile(pipeline) is None
    assert compiled.why_not(pipeline) == f"{compiled.ENV_VAR}=pipeline"


def test_a_tree_pointing_outside_itself_is_refused(model_file):
    """scikit-learn walks node indices unchecked: a crafted file could read out of bounds."""
    pipeline = model.load(model_file)
    tree = pipeline[-1]._predictors[3][0]
    inner = int(np.flatnonzero(tree.nodes["is_leaf"] == 0)[0])
    tree.nodes["right"][inner] = len(tree.nodes) + 1_000
    with pytest.raises(RatchetError, match="model's tree 4 is malformed"):
        compiled.compile(pipeline)
    tree.nodes["right"][inner] = inner  # a loop back onto itself
    with pytest.raises(RatchetError, match=f"node {inner} points outside"):
        compiled.compile(pipeline)
