"""The dataset contract: every mistake in it is one line naming the key."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from ratchet.core.errors import RatchetError
from ratchet.dataset import contract, expressions, rawdata, schema
from ratchet.dataset.features import build_features

# A small contract of the tests' own: no column of the bundled sample.
FIXTURE = {
    "name": "loans",
    "task": "binary",
    "target": "defaulted",
    "id": "loan_ref",
    "labels": {"Yes": 1, "No": 0},
    "missing": ["", "NA", "?"],
    "trim": True,
    "columns": {
        "loan_ref": {"type": "text", "role": "id", "pattern": "^L[0-9]{4}$"},
        "amount": {"type": "float", "min": 0, "max": 1_000_000, "why": "principal"},
        "term": {"type": "integer", "min": 0, "max": 480, "nullable": True},
        "grade": {"type": "category", "categories": ["A", "B", "C"], "unknown": "other"},
        "branch": {"type": "text", "role": "ignore"},
        "defaulted": {"type": "category", "categories": ["Yes", "No"], "role": "target"},
    },
    "expectations": [
        {"column": "defaulted", "check": "label_rate", "min": 0.0, "max": 0.9, "why": "sanity"},
        {"column": "amount", "check": "p90", "max": 900_000, "why": "few jumbo loans"},
    ],
    "features": {
        "log_amount": "log1p(amount)",
        "amount_per_month": "amount / where(term > 0, term, nan)",
    },
}


def fixture(**changes) -> dict:
    document = copy.deepcopy(FIXTURE)
    for dotted, value in changes.items():
        node = document
        *path, last = dotted.split("__")
        for part in path:
            node = node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return document


DELETE = object()


def test_the_fixture_contract_resolves_roles_and_features():
    c = contract.parse(fixture())
    assert c.target == "defaulted" and c.id == "loan_ref"
    assert c.raw_features == ["amount", "term", "grade"]
    assert c.categorical == {"grade": ("A", "B", "C", "other")}
    assert c.engineered == ("log_amount", "amount_per_month")
    assert c.label_values == (0, 1)
    assert "loans" in c.text and yaml.safe_load(c.text)["target"] == "defaulted"
    # The API docs' example: what the rules allow, where no column needs a pattern's value.
    assert c.example_record() is None  # loan_ref must match ^L[0-9]{4}$ and has no example
    with_example = contract.parse(
        fixture(**{"columns__loan_ref__example": "L0001", "columns__amount__max": 0.3})
    )
    assert with_example.example_record() == {
        "loan_ref": "L0001",
        "amount": 0.15,
        "term": 240,
        "grade": "A",
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "ranking"}, "'task': Input should be 'binary', 'multiclass' or 'regression'"),
        ({"columns__amount__type": "money"}, "'columns.amount.type': Input should be"),
        ({"columns__amount__min": 5, "columns__amount__max": 1}, "min (5) is above max (1)"),
        ({"target": "outcome"}, "'target': 'outcome' is not among the columns"),
        ({"id": "ref"}, "'id': 'ref' is not among the columns"),
        ({"colour": "blue"}, "'colour': unknown key"),
        ({"columns__amount__minimum": 0}, "'columns.amount.minimum': unknown key"),
        ({"columns__grade__categories": DELETE}, "a category column needs `categories`"),
        ({"columns__term__categories": ["a"]}, "apply to category columns only"),
        ({"columns__loan_ref__pattern": "(["}, "`pattern` is not a regular expression"),
        ({"columns__amount__example": -5}, "`example` -5 breaks the column's own rules"),
        ({"columns__loan_ref__example": "X1"}, "`example` 'X1' breaks the column's own rules"),
        ({"labels": {"Yes": 2, "No": 0}}, "'labels': a binary task maps labels to 0 and 1"),
        ({"task": "regression"}, "'labels': a regression target is a number; no labels"),
        ({"task": "regression", "labels": None, "expectations": []},
         "'columns.defaulted.type': a regression target is integer or float, not category"),
        ({"task": "multiclass"}, "'labels': 2 classes; a multiclass task has 3 or more"),
        ({"task": "multiclass", "labels": None}, "'labels': a multiclass task lists its classes"),
        ({"task": "multiclass", "labels": {"a": 0, "b": 2, "c": 3}, "expectations": []},
         "'labels': number the classes 0 to 2, each once; got [0, 2, 3]"),
        ({"task": "multiclass", "labels": {f"v{i}": i for i in range(300)}, "expectations": []},
         "300 classes in 'defaulted' (at most 50); is it the right target column?"),
        ({"task": "multiclass", "labels": {"a": 0, "b": 1, "c": 2}},
         "label_rate applies to a binary target only"),
        ({"task": "multiclass", "labels": {"Type A": 0, "type-a": 1, "c": 2},
          "expectations": []},
         "classes 'Type A' and 'type-a' would share the column name 'type_a'"),
        ({"features__x": "amount.real"}, "'features.x': 'amount.real' is not allowed"),
        ({"features__x": "__import__('os')"}, "'features.x': unknown function '__import__'"),
        ({"features__x": "loan_ref + 1"}, "uses 'loan_ref', whose role is id"),
        ({"features__x": "grade * 2"}, "uses 'grade', a category column"),
        ({"features__x": "defaulted + 1"}, "unknown column 'defaulted'"),
        ({"features__amount": "term"}, "'features.amount': a column of the data has this name"),
        ({"expectations": [{"column": "nope", "check": "mean", "min": 1, "why": "x"}]},
         "'expectations[0].column': unknown column 'nope'"),
        ({"expectations": [{"column": "amount", "check": "mode", "min": 1, "why": "x"}]},
         "unknown check 'mode'"),
        ({"expectations": [{"column": "amount", "check": "mean", "why": "x"}]},
         "needs `min`, `max` or both"),
    ],
)  # fmt: skip
def test_a_bad_contract_is_one_line_naming_the_key(changes, message):
    with pytest.raises(RatchetError) as err:
        contract.parse(fixture(**changes), "dataset/contract.yaml")
    text = str(err.value)
    assert text.startswith("dataset/contract.yaml: ") and "\n" not in text
    assert message in text, text


def test_load_reports_a_missing_file_and_broken_yaml(tmp_path):
    with pytest.raises(RatchetError, match=r"contract.yaml: dataset contract not found"):
        contract.load(tmp_path / "contract.yaml")
    (tmp_path / "contract.yaml").write_text("name: [unclosed\n")
    with pytest.raises(RatchetError, match=r"contract.yaml: not valid YAML at line 2"):
        contract.load(tmp_path / "contract.yaml")
    (tmp_path / "contract.yaml").write_text("- a list\n")
    with pytest.raises(RatchetError, match=r"expected a mapping of keys, got list"):
        contract.load(tmp_path / "contract.yaml")


def raw_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_ref": [" L0001", "L0002 ", "L0003", "L0004"],
            "amount": ["1000", " ", "250.5", "NA"],
            "term": [12, 0, 24, 36],
            "grade": ["A", "Z", "?", "C "],
            "branch": ["north", "south", "east", "west"],
            "defaulted": ["Yes", "No ", "No", "Yes"],
        }
    )


def test_cells_are_trimmed_missing_tokens_become_null_and_labels_map():
    c = contract.parse(fixture(**{"columns__amount__nullable": True}))
    raw = raw_rows()
    out = rawdata.normalize(raw, c)
    assert raw["loan_ref"].iloc[0] == " L0001"  # the input is left as it was
    assert out["loan_ref"].tolist() == ["L0001", "L0002", "L0003", "L0004"]
    assert out["amount"].isna().tolist() == [False, True, False, True]
    assert out["grade"].tolist()[:2] == ["A", "Z"] and pd.isna(out["grade"].iloc[2])
    assert out["defaulted"].tolist() == [1, 0, 0, 1]


def test_a_float_label_column_maps_1_0_to_the_label_1():
    # One missing value makes a numeric label column float: 1 is read as 1.0.
    c = contract.parse(
        fixture(**{"task": "multiclass", "labels": {"1": 0, "2": 1, "3": 2}, "expectations": [],
                   "columns__defaulted": {"type": "integer", "role": "target"}})
    )  # fmt: skip
    out = rawdata.normalize(pd.DataFrame({"defaulted": [1.0, 3.0, np.nan, 2.0, 7.0]}), c)
    assert out["defaulted"].iloc[:2].tolist() == [0, 2] and pd.isna(out["defaulted"].iloc[2])
    assert out["defaulted"].iloc[3:].tolist() == [1, 7.0]  # 7 is no class: validation says so


def test_the_schema_follows_the_contract():
    c = contract.parse(fixture(**{"columns__amount__nullable": True}))
    table = rawdata.normalize(raw_rows(), c)
    with contract.use(c):
        typed = schema.raw_schema(expectations=False).validate(table.dropna(subset=["grade"]))
        assert str(typed["term"].dtype) == "Int64" and str(typed["amount"].dtype) == "float64"
        assert schema.ID == "loan_ref" and schema.TARGET == "defaulted"
        features = build_features(typed)
    assert list(features.columns) == ["amount", "term", "grade", "log_amount", "amount_per_month"]
    # "Z" is not a category: the open column puts it in the unknown bucket.
    assert features["grade"].tolist()[:2] == ["A", "other"]
    assert features["log_amount"].iloc[0] == pytest.approx(np.log1p(1000.0))
    assert np.isnan(features["amount_per_month"].iloc[1])  # missing amount
    assert features["amount_per_month"].iloc[0] == pytest.approx(1000 / 12)


def test_ignored_columns_are_no_feature_and_unknown_columns_fail():
    c = contract.parse(fixture())
    with contract.use(c):
        strict = schema.raw_schema(expectations=False, require_target=False)
        assert "branch" in strict.columns  # declared (role ignore), so accepted
        assert "branch" not in c.raw_features


def test_expressions_cover_the_documented_grammar():
    cols = {"a": np.array([1.0, 2.0, np.nan, 0.0]), "b": np.array([0.0, 1.0, 2.0, 3.0])}

    def run(text):
        return expressions.parse(text, set(cols), "features.x").evaluate(cols)

    np.testing.assert_array_equal(run("a / (b + 1)"), [1.0, 1.0, np.nan, 0.0])
    np.testing.assert_array_equal(run("where(a > 0, a, nan)"), [1.0, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(run("-a if b > 1 else a"), [1.0, 2.0, np.nan, -0.0])
    np.testing.assert_array_equal(run("(a > 0) & (b < 2)"), [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(run("max(a, b) + min(a, b) * 0"), [1.0, 2.0, 2.0, 3.0])
    np.testing.assert_array_equal(run("clip(b, 1, 2) ** 2"), [1.0, 1.0, 4.0, 4.0])
    np.testing.assert_array_equal(run("isnull(a) + abs(-b) // 2 % 2"), [0.0, 0.0, 2.0, 1.0])
    # Not finite is missing: a model never sees an infinity.
    np.testing.assert_array_equal(run("a / b"), [np.nan, 2.0, np.nan, 0.0])
    np.testing.assert_array_equal(run("log(b)"), [np.nan, 0.0, math.log(2.0), math.log(3.0)])
    assert np.isnan(run("a * 1e308 * 10")).tolist() == [True, True, True, False]
    for bad in ("a[0]", "lambda: 1", "[a for a in b]", "'x'", "True", "open(a)", "a +"):
        with pytest.raises(RatchetError, match=r"^features\.x: "):
            expressions.parse(bad, set(cols), "features.x")


def test_boolean_and_datetime_columns_read_check_and_serve():
    from ratchet.dataset import validation
    from ratchet.serving import api

    c = contract.parse(
        {
            "name": "visits", "task": "binary", "target": "came_back",
            "columns": {
                "member": {"type": "boolean"},
                "spend": {"type": "float", "min": 0},
                "visited": {"type": "datetime", "role": "ignore"},
                "came_back": {"type": "integer", "role": "target"},
            },
        }
    )  # fmt: skip
    raw = pd.DataFrame({
        "member": ["true", " No", "YES", "0"], "spend": [1.0, 2.0, 3.0, 4.0],
        "visited": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"],
        "came_back": [0, 1, 0, 1],
    })  # fmt: skip
    with contract.use(c):
        result = validation.check(raw, expectations=False)
        assert result.passed, [f.line() for f in result.errors]
        assert result.table["member"].tolist() == [True, False, True, False]
        assert str(result.table["visited"].dtype) == "datetime64[ns]"
        assert build_features(result.table).columns.tolist() == ["member", "spend"]
        assert build_features(result.table)["member"].tolist() == [1.0, 0.0, 1.0, 0.0]
        bad = validation.check(raw.assign(member=["maybe", "no", "yes", "1"]), expectations=False)
        assert [f.line() for f in bad.errors] == [
            "column 'member': coerce_dtype('boolean') failed for 1 row (e.g. row 1: 'maybe')"
        ]
        record = api.record_model()
        ok = record.model_validate(
            {"member": True, "spend": 2.5, "visited": "2024-05-01T10:00:00Z"}
        )
        assert api.table([ok], api.table_dtypes())["member"].tolist() == [True]
        with pytest.raises(ValidationError):
            record.model_validate({"member": 1, "spend": 2.5, "visited": "2024-05-01"})
