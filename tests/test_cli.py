"""Bad input from the command line: one line naming the file/key/column, non-zero exit."""

from __future__ import annotations

import pytest

from conftest import project_files, run


@pytest.fixture
def workdir(tmp_path, raw):
    project_files(tmp_path)
    raw.to_csv(tmp_path / "raw.csv", index=False)
    return tmp_path


def ratchet(workdir, *args):
    return run(["ratchet", *args], workdir, check=False)


def assert_one_line_error(result, *needles, code=2):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


VALIDATE = ["--output", "v.parquet", "--metrics", "d.json", "--report", "r.json"]


def test_missing_params_key(workdir):
    text = (workdir / "params.yaml").read_text().replace("  test_size: 0.2", "")
    (workdir / "params.yaml").write_text(text)
    result = ratchet(
        workdir, "featurize", "--input", "v.parquet", "--train", "a", "--valid", "c", "--test", "b"
    )
    assert_one_line_error(result, "params.yaml", "missing key 'featurize.test_size'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_time_split_setting_is_one_line(workdir):
    text = (workdir / "params.yaml").read_text().replace("split: random", "split: time")
    (workdir / "params.yaml").write_text(text)
    assert ratchet(workdir, "validate", "--input", "raw.csv", *VALIDATE).returncode == 0
    args = ["--input", "v.parquet", "--train", "a", "--valid", "c", "--test", "b"]
    result = ratchet(workdir, "featurize", *args)
    assert_one_line_error(result, "'featurize.time_column' is needed")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (workdir / "a").exists()


def test_wrong_type_in_params(workdir):
    text = (workdir / "params.yaml").read_text().replace("max_iter: 200", "max_iter: many")
    (workdir / "params.yaml").write_text(text)
    result = ratchet(
        workdir, "train", "--input", "t.parquet", "--valid", "v", "--model", "m", "--live-dir", "l"
    )
    assert_one_line_error(result, "'train.max_iter'", "got 'many'")
    assert not (workdir / "m").exists()


def test_empty_raw_file(workdir):
    (workdir / "raw.csv").write_text("")
    result = ratchet(workdir, "validate", "--input", "raw.csv", *VALIDATE)
    assert_one_line_error(result, "raw.csv: file is empty")
    assert not (workdir / "v.parquet").exists()


def test_missing_column_stops_validate_with_a_summary(workdir):
    import pandas as pd

    df = pd.read_csv(workdir / "raw.csv").drop(columns=["plan"])
    df.to_csv(workdir / "raw.csv", index=False)
    result = ratchet(workdir, "validate", "--input", "raw.csv", *VALIDATE)
    assert_one_line_error(result, "column 'plan': required column is missing", code=1)
    assert not (workdir / "v.parquet").exists()
    assert (workdir / "r.json").exists()


def test_missing_model_file(workdir):
    result = ratchet(
        workdir, "evaluate", "--model", "nope.skops", "--input", "t.parquet",
        "--predictions", "p.parquet", "--live-dir", "l",
    )  # fmt: skip
    assert_one_line_error(result, "nope.skops: model file not found")


def test_help_lists_every_stage(workdir):
    result = ratchet(workdir, "--help")
    assert result.returncode == 0
    for stage in ("sample", "validate", "featurize", "train", "evaluate"):
        assert stage in result.stdout


def test_checks_lists_every_check_with_its_policy(workdir):
    text = (workdir / "params.yaml").read_text().replace("policy: {}", "policy: {age.mean: warn}")
    (workdir / "params.yaml").write_text(text)
    result = ratchet(workdir, "checks")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "warn" in lines["age.mean"] and "working age" in lines["age.mean"]
    assert "error (fixed)" in lines["churned.isin"]
    assert "rows between 1000 and 2000000" in lines["table.row_count"]


def test_warned_check_passes_and_says_so(workdir):
    import pandas as pd

    df = pd.read_csv(workdir / "raw.csv")
    df.loc[0, "age"] = 119.0 + 11  # out of range
    df.to_csv(workdir / "raw.csv", index=False)
    text = (
        (workdir / "params.yaml").read_text().replace("policy: {}", "policy: {age.in_range: warn}")
    )
    (workdir / "params.yaml").write_text(text)
    result = ratchet(workdir, "validate", "--input", "raw.csv", *VALIDATE)
    assert result.returncode == 0, result.stderr
    assert "(warn) column 'age': in_range(18, 120) failed for 1 row (e.g. row 1: '130')" in (
        result.stdout
    )
