import numpy as np
import pandas as pd
import pytest

from ratchet.cli import main
from ratchet.dataset import sample, schema


def test_same_seed_same_table_and_other_seed_differs():
    a, b = sample.generate(500, seed=3), sample.generate(500, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(sample.generate(500, seed=4))


def test_sample_passes_the_schema_and_has_unique_ids(raw):
    typed = schema.raw_schema().validate(raw)
    assert list(typed.columns) == list(raw.columns)
    assert typed[schema.ID].is_unique


def test_label_rate_and_missing_income_are_as_documented():
    df = sample.generate(20_000, seed=11)
    assert 0.15 < df[schema.TARGET].mean() < 0.25
    assert 0.01 < df["income"].isna().mean() < 0.03


def test_drifted_batch_shifts_the_documented_columns():
    base = sample.generate(20_000, seed=5)
    drifted = sample.generate(20_000, seed=5, drift=True)
    assert drifted["days_since_last_login"].mean() > 1.7 * base["days_since_last_login"].mean()
    assert drifted["age"].mean() < base["age"].mean() - 6
    assert (drifted["plan"] == "free").mean() > (base["plan"] == "free").mean() + 0.1
    assert np.isclose(drifted["region"].value_counts(normalize=True)["north"], 0.3, atol=0.02)


def test_sample_command_writes_identical_bytes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("sample:\n  rows: 300\n  seed: 1\n")
    assert main(["sample", "--output", "a.csv"]) == 0
    assert main(["sample", "--output", "b.csv"]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "a.csv")) == 300


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_sample_rows_override(tmp_path, monkeypatch, suffix):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("sample:\n  rows: 300\n  seed: 1\n")
    out = f"x{suffix}"
    assert main(["sample", "--output", out, "--rows", "123"]) == 0
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    assert len(read(tmp_path / out)) == 123
