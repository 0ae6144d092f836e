import json

import pandas as pd
import pytest

from ratchet import schema, validate
from ratchet.errors import RatchetError, ValidationFailed
from ratchet.rawdata import read_raw


def checks_failed(result):
    return {(f.column, f.check.split("(")[0]) for f in result.failures}


def test_clean_sample_passes_and_is_typed(raw):
    result = validate.check(raw)
    assert result.passed
    assert str(result.table["age"].dtype) == "Int64"
    assert str(result.table[schema.TARGET].dtype) == "Int64"


def test_every_failure_is_reported_in_one_pass(raw):
    bad = raw.copy()
    bad.loc[3, "age"] = 150
    bad.loc[4, "plan"] = "platinum"
    bad.loc[5, schema.ID] = bad.loc[6, schema.ID]
    bad.loc[7, schema.TARGET] = 2
    result = validate.check(bad)
    assert not result.passed
    assert {
        ("age", "in_range"),
        ("plan", "isin"),
        (schema.ID, "field_uniqueness"),
        (schema.TARGET, "isin"),
    } <= checks_failed(result)
    age = next(f for f in result.failures if f.column == "age")
    assert age.count == 1
    assert age.examples == [{"row": 4, "value": "150"}]  # 1-based data row
    assert "column 'age'" in age.line() and "row 4: '150'" in age.line()


def test_missing_and_extra_columns(raw):
    result = validate.check(raw.drop(columns=["region"]).assign(favourite_colour="blue"))
    failed = checks_failed(result)
    assert ("region", "required column is missing") in failed
    assert ("favourite_colour", "column is not in the schema") in failed
    lines = [f.line() for f in result.failures]
    assert "column 'region': required column is missing" in lines


def test_numbers_as_text_and_blanks_in_numeric_column(raw):
    bad = raw.copy()
    bad["tenure_months"] = bad["tenure_months"].astype(str)
    bad.loc[2, "tenure_months"] = "twelve"
    bad["monthly_charges"] = bad["monthly_charges"].astype(object)
    bad.loc[8, "monthly_charges"] = None
    result = validate.check(bad)
    failed = checks_failed(result)
    assert ("tenure_months", "coerce_dtype") in failed
    assert ("monthly_charges", "not_nullable") in failed


def test_null_labels_fail(raw):
    bad = raw.copy()
    bad[schema.TARGET] = bad[schema.TARGET].astype("Int64")
    bad.loc[1, schema.TARGET] = pd.NA
    assert (schema.TARGET, "not_nullable") in checks_failed(validate.check(bad))


def test_data_metrics(validated):
    m = validate.data_metrics(validated)
    assert m["rows"] == len(validated)
    assert m["label_rate"] == pytest.approx(validated[schema.TARGET].mean(), abs=1e-6)
    assert m["null_share"]["income"] > 0
    assert set(m["mean"]) == {
        "age",
        "days_since_last_login",
        "income",
        "monthly_charges",
        "support_tickets",
        "tenure_months",
    }


def paths(tmp_path):
    return dict(
        output=tmp_path / "valid.parquet",
        metrics=tmp_path / "data.json",
        report_path=tmp_path / "reports" / "validation.json",
    )


def test_run_writes_outputs_on_success(tmp_path, raw):
    src = tmp_path / "raw.csv"
    raw.to_csv(src, index=False)
    p = paths(tmp_path)
    validate.run(src, **p)
    assert len(pd.read_parquet(p["output"])) == len(raw)
    assert json.loads(p["report_path"].read_text())["status"] == "passed"
    assert json.loads(p["metrics"].read_text())["rows"] == len(raw)


def test_run_failure_writes_report_and_keeps_old_outputs(tmp_path, raw):
    src = tmp_path / "raw.csv"
    raw.to_csv(src, index=False)
    p = paths(tmp_path)
    validate.run(src, **p)
    before = p["output"].read_bytes(), p["metrics"].read_bytes()

    bad = raw.copy()
    bad.loc[0, "age"] = -5
    bad.to_csv(src, index=False)
    with pytest.raises(ValidationFailed) as err:
        validate.run(src, **p)
    assert "column 'age'" in str(err.value) and "row 1: '-5'" in str(err.value)
    report = json.loads(p["report_path"].read_text())
    assert report["status"] == "failed"
    assert report["failures"][0]["column"] == "age"
    cases = pd.read_csv(p["report_path"].with_name("validation_failures.csv"))
    assert cases.loc[0, "row"] == 1 and cases.loc[0, "value"] == -5
    assert (p["output"].read_bytes(), p["metrics"].read_bytes()) == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "file is empty"),
        ("header.csv", b"customer_id,age\n", "has a header but no rows"),
        ("binary.csv", bytes(range(256)) * 4, "binary, not CSV text"),
        ("latin1.csv", "customer_id,région\nCUST-00000001,Zürich\n".encode("latin-1"), "not UTF-8"),
        ("truncated.parquet", b"PAR1\x00\x01\x02", "not a readable Parquet file"),
        ("table.xlsx", b"whatever", "unsupported file type '.xlsx'"),
    ],
)
def test_unreadable_raw_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RatchetError, match=message) as err:
        read_raw(path)
    assert str(path) in str(err.value)


def test_missing_raw_file(tmp_path):
    with pytest.raises(RatchetError, match="file not found"):
        read_raw(tmp_path / "nope.csv")


def test_parquet_round_trip(tmp_path, raw):
    path = tmp_path / "raw.parquet"
    raw.to_parquet(path)
    assert validate.check(read_raw(path)).passed
