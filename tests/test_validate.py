import json

import pandas as pd
import pytest

from ratchet.core.errors import RatchetError, ValidationFailed
from ratchet.core.params import ValidateParams
from ratchet.dataset import contract, schema, validation
from ratchet.dataset.rawdata import read_raw
from ratchet.pipeline import validate

ROWS = (100, 100_000)


def keys(failures):
    return {f.key for f in failures}


def check(df, **kw):
    return validation.check(df, rows=ROWS, **kw)


def test_clean_sample_passes_and_is_typed(raw):
    result = check(raw)
    assert result.passed and not result.warnings
    assert str(result.table["age"].dtype) == "Int64"
    assert str(result.table[schema.TARGET].dtype) == "Int64"
    assert result.table["plan"].dtype == schema.TEXT


def test_every_failure_is_reported_in_one_pass(raw):
    bad = raw.copy()
    bad.loc[3, "age"] = 150
    bad.loc[4, "plan"] = "platinum"
    bad.loc[5, schema.ID] = bad.loc[6, schema.ID]
    bad.loc[7, schema.TARGET] = 2
    bad.loc[8, schema.ID] = "cust-1"
    result = check(bad)
    assert not result.passed
    assert {
        "age.in_range",
        "plan.isin",
        "customer_id.unique_share",
        "customer_id.str_matches",
        "churned.isin",
    } <= keys(result.errors)
    dup = next(f for f in result.errors if f.key == "customer_id.unique_share")
    assert [e["row"] for e in dup.examples] == [6, 7] and dup.count == 2
    assert "unique_share is 0.999" in dup.line()
    age = next(f for f in result.errors if f.column == "age")
    assert age.count == 1
    assert age.examples == [{"row": 4, "value": "150"}]  # 1-based data row
    assert "column 'age'" in age.line() and "row 4: '150'" in age.line()


def test_examples_are_capped_at_five(raw):
    bad = raw.copy()
    bad.loc[:19, "region"] = "atlantis"
    (failure,) = check(bad).errors
    assert failure.count == 20 and len(failure.examples) == validation.MAX_EXAMPLES


def test_missing_and_extra_columns(raw):
    result = check(raw.drop(columns=["region"]).assign(favourite_colour="blue"))
    assert {
        "region.required column is missing",
        "favourite_colour.column is not in the schema",
    } <= keys(result.errors)
    lines = [f.line() for f in result.errors]
    assert "column 'region': required column is missing" in lines


def test_numbers_as_text_and_blanks_in_numeric_column(raw):
    bad = raw.copy()
    bad["tenure_months"] = bad["tenure_months"].astype(str)
    bad.loc[2, "tenure_months"] = "twelve"
    bad["monthly_charges"] = bad["monthly_charges"].astype(object)
    bad.loc[8, "monthly_charges"] = None
    result = check(bad)
    found = keys(result.errors)
    assert "tenure_months.coerce_dtype" in found
    assert "monthly_charges.not_nullable" in found
    # The coercion failure is the message; no TypeError noise from the column's other checks.
    tenure = [f for f in result.errors if f.column == "tenure_months"]
    assert [f.check.split("(")[0] for f in tenure] == ["coerce_dtype"]
    assert tenure[0].examples == [{"row": 3, "value": "twelve"}]


def test_null_labels_fail(raw):
    bad = raw.copy()
    bad[schema.TARGET] = bad[schema.TARGET].astype("Int64")
    bad.loc[1, schema.TARGET] = pd.NA
    assert "churned.not_nullable" in keys(check(bad).errors)


def test_yes_no_labels_are_rejected_with_a_hint(raw):
    bad = raw.copy()
    bad[schema.TARGET] = bad[schema.TARGET].map({0: "No", 1: "Yes"})
    (failure,) = [f for f in check(bad).errors if f.column == schema.TARGET][:1]
    assert "map them first (e.g. Yes -> 1, No -> 0)" in failure.line()


def test_any_word_label_gets_the_hint_and_a_wrong_number_does_not(raw):
    words = raw.assign(**{schema.TARGET: raw[schema.TARGET].map({0: "stayed", 1: "left"})})
    (failure,) = [f for f in check(words).errors if f.column == schema.TARGET][:1]
    assert "'labels' in the dataset contract" in failure.line()
    (failure,) = [f for f in check(raw.assign(**{schema.TARGET: 2})).errors][:1]
    assert "map them" not in failure.line()


def test_single_class_label_breaks_the_label_rate(raw):
    result = check(raw.assign(**{schema.TARGET: 0}))
    (failure,) = [f for f in result.errors if f.key == "churned.label_rate"]
    assert "label_rate is 0, expected between 0.05 and 0.4" in failure.line()


def test_all_null_columns(raw):
    result = check(raw.assign(income=float("nan"), age=pd.NA))
    found = keys(result.errors)
    assert "income.null_share" in found  # nullable column: the dataset expectation catches it
    assert "age.not_nullable" in found


def test_dataset_expectations_report_observed_value_and_reason(raw):
    result = check(raw.assign(monthly_charges=raw["monthly_charges"] * 100))  # cents, not euros
    (failure,) = [f for f in result.errors if f.key == "monthly_charges.median"]
    assert "expected between 5 and 200" in failure.line()
    assert "unit or currency change" in failure.line()


def test_row_count_bounds(raw):
    result = validation.check(raw, rows=(10, len(raw) // 10))  # a file 10x the usual size
    (failure,) = [f for f in result.errors if f.key == "table.row_count"]
    assert f"row_count is {len(raw)}" in failure.line()


def test_warn_policy_reports_and_passes(raw):
    drifted = raw.assign(income=raw["income"].where(raw.index % 2 == 0))
    strict = check(drifted)
    assert keys(strict.errors) == {"income.null_share"}
    lenient = check(drifted, warn=frozenset({"income.null_share"}))
    assert lenient.passed and lenient.table is not None and len(lenient.table) == len(raw)
    assert keys(lenient.warnings) == {"income.null_share"}
    assert lenient.warnings[0].policy == "warn"


def test_warn_on_a_row_check_keeps_the_rows(raw):
    bad = raw.copy()
    bad.loc[0, "age"] = 130
    result = check(bad, warn=frozenset({"age.in_range"}))
    assert result.passed and result.table.loc[0, "age"] == 130


def params(**kw):
    return ValidateParams(rows_min=100, rows_max=100_000, **kw)


def test_policy_keys_are_checked():
    with pytest.raises(RatchetError, match=r"'validate\.policy\.age\.inrange' is not a check"):
        validation.check_policy(params(policy={"age.inrange": "warn"}))
    with pytest.raises(RatchetError, match="cannot be warn"):
        validation.check_policy(params(policy={"churned.isin": "warn"}))
    assert validation.check_policy(
        params(policy={"age.mean": "warn", "age.in_range": "error"})
    ) == {"age.mean"}


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
    raw.assign(notes="x").to_csv(src, index=False)
    p = paths(tmp_path)
    validate.run(src, **p, p=params(allow_extra_columns=["notes", "absent"]))
    assert len(pd.read_parquet(p["output"])) == len(raw)
    report = json.loads(p["report_path"].read_text())
    assert report["status"] == "passed" and report["dropped_columns"] == ["notes"]
    assert json.loads(p["metrics"].read_text())["rows"] == len(raw)


@pytest.fixture
def good_run(tmp_path, raw):
    src = tmp_path / "raw.csv"
    raw.to_csv(src, index=False)
    p = paths(tmp_path)
    validate.run(src, **p, p=params())
    return src, p, (p["output"].read_bytes(), p["metrics"].read_bytes())


def test_run_failure_writes_report_and_keeps_old_outputs(good_run, raw):
    src, p, before = good_run
    bad = raw.copy()
    bad.loc[0, "age"] = -5
    bad.to_csv(src, index=False)
    with pytest.raises(ValidationFailed) as err:
        validate.run(src, **p, p=params())
    assert "column 'age'" in str(err.value) and "row 1: '-5'" in str(err.value)
    report = json.loads(p["report_path"].read_text())
    assert report["status"] == "failed"
    assert report["errors"][0]["key"] == "age.in_range"
    cases = pd.read_csv(p["report_path"].with_name("validation_failures.csv"))
    assert cases.loc[0, "row"] == 1 and cases.loc[0, "value"] == -5
    assert cases.loc[0, "policy"] == "error"
    assert (p["output"].read_bytes(), p["metrics"].read_bytes()) == before


def test_unreadable_file_still_writes_a_failed_report(good_run):
    src, p, before = good_run
    src.write_text("")
    with pytest.raises(RatchetError, match="file is empty"):
        validate.run(src, **p, p=params())
    report = json.loads(p["report_path"].read_text())
    assert report["status"] == "failed" and "file is empty" in report["errors"][0]["detail"]
    assert (p["output"].read_bytes(), p["metrics"].read_bytes()) == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "file is empty"),
        ("header.csv", b"customer_id,age\n", "has a header but no rows"),
        ("binary.csv", bytes(range(256)) * 4, "binary, not CSV text"),
        ("latin1.csv", "customer_id,région\nCUST-00000001,Zürich\n".encode("latin-1"), "not UTF-8"),
        ("semicolon.csv", b"customer_id;age;plan\nCUST-00000001;40;pro\n", "semicolon-separated"),
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


def test_truncated_real_parquet(tmp_path, raw):
    path = tmp_path / "raw.parquet"
    raw.to_parquet(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RatchetError, match="not a readable Parquet file"):
        read_raw(path)


def test_missing_raw_file(tmp_path):
    with pytest.raises(RatchetError, match="file not found"):
        read_raw(tmp_path / "nope.csv")


def test_parquet_round_trip(tmp_path, raw):
    path = tmp_path / "raw.parquet"
    raw.to_parquet(path)
    assert check(read_raw(path)).passed


def test_csv_blanks_and_text_in_numeric_columns(tmp_path, raw):
    path = tmp_path / "raw.csv"
    text = raw.head(200).to_csv(index=False).splitlines()
    header = text[0].split(",")
    row = text[5].split(",")
    row[header.index("monthly_charges")] = ""
    row[header.index("age")] = "forty"
    text[5] = ",".join(row)
    path.write_text("\n".join(text) + "\n")
    result = check(read_raw(path))
    assert {"monthly_charges.not_nullable", "age.coerce_dtype"} <= keys(result.errors)


@pytest.mark.parametrize("role", ["id", "target"])
def test_data_without_its_id_or_target_is_one_failure_not_a_traceback(raw, role):
    column = schema.ID if role == "id" else schema.TARGET
    result = validation.check(raw.drop(columns=[column]))
    assert not result.passed
    assert [f.line() for f in result.errors] == [f"column '{column}': required column is missing"]


def test_data_metrics_name_the_target_by_task():
    from ratchet.review.report import Extras, data_section
    from task_fixtures import toy_contract, toy_table

    with contract.use(toy_contract("multiclass")):
        table = toy_table("multiclass")
        m = validate.data_metrics(table)
    shares = table["y"].value_counts(normalize=True)
    assert "label_rate" not in m
    assert m["class_share"] == {n: round(shares[i], 6) for i, n in enumerate("abc")}
    with contract.use(toy_contract("regression")):
        r = validate.data_metrics(toy_table("regression"))
    assert "label_rate" not in r and r["target_mean"] == pytest.approx(10.0, abs=0.5)
    base = {**m, "class_share": {**m["class_share"], "a": 0.5}}
    lines = data_section(Extras(base_data=base, current_data=m, warnings=[], plot_files=[]))
    assert "label rate" not in "\n".join(lines)
    (row,) = [line for line in lines if line.startswith("| share of a |")]
    assert row == f"| share of a | 0.5000 | {m['class_share']['a']:.4f} | " + (
        f"{m['class_share']['a'] - 0.5:+.4f} |"
    )
