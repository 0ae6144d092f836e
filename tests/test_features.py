import pandas as pd
import pytest

from ratchet.core.errors import RatchetError
from ratchet.core.params import FeaturizeParams
from ratchet.dataset import schema
from ratchet.dataset.features import build_features, engineered, feature_columns
from ratchet.pipeline.featurize import split


def test_build_features_is_pure_and_row_wise(validated):
    full = build_features(validated)
    part = build_features(validated.iloc[10:20])
    pd.testing.assert_frame_equal(full.iloc[10:20], part)
    assert schema.ID not in full and schema.TARGET not in full
    assert set(engineered()) <= set(full.columns)


def test_categories_are_fixed_by_the_contract(validated):
    for column, categories in schema.CATEGORICAL.items():
        one_value = validated[validated[column] == categories[0]].head(5)
        feats = build_features(one_value)
        assert list(feats[column].cat.categories) == list(categories)


def test_engineered_values(validated):
    row = validated.iloc[[0]]
    f = build_features(row).iloc[0]
    expected = row["monthly_charges"].iloc[0] / (row["tenure_months"].iloc[0] + 1)
    assert f["charges_per_tenure_month"] == pytest.approx(expected)


def test_missing_income_gives_missing_ratio_not_an_error(validated):
    row = validated[validated["income"].isna()].head(1)
    assert pd.isna(build_features(row)["charges_to_income"].iloc[0])


def test_feature_columns_split_by_dtype(validated):
    numeric, categorical = feature_columns(build_features(validated))
    assert categorical == ["plan", "region", "signup_channel"]
    assert "age" in numeric and "log_days_since_last_login" in numeric


def test_split_is_seeded_and_stratified(validated):
    p = FeaturizeParams(test_size=0.25, seed=3)
    train, test = split(validated, p)
    again, _ = split(validated, p)
    pd.testing.assert_frame_equal(train, again)
    assert len(test) == pytest.approx(0.25 * len(validated), abs=1)
    assert set(train[schema.ID]).isdisjoint(test[schema.ID])
    rate = validated[schema.TARGET].mean()
    assert train[schema.TARGET].mean() == pytest.approx(rate, abs=0.01)
    assert test[schema.TARGET].mean() == pytest.approx(rate, abs=0.01)
    other, _ = split(validated, FeaturizeParams(test_size=0.25, seed=4))
    assert not train[schema.ID].equals(other[schema.ID])


def test_split_refuses_a_single_class(validated):
    one_class = validated[validated[schema.TARGET] == 0]
    with pytest.raises(RatchetError, match=f"column '{schema.TARGET}'"):
        split(one_class, FeaturizeParams(test_size=0.2, seed=1))
