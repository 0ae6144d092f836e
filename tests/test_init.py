"""`ratchet init`: a contract drafted from real data, checked against that data, and wired in.

The data is scikit-learn's copy of the Wisconsin breast cancer table (569 tumours, 30
measurements), exported the way real extracts look: the label as text, an id column, a
number column stored as text with blank cells, "NA" cells in another, a text band.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_template_repo, ratchet, run
from ratchet.core.errors import RatchetError
from ratchet.dataset import contract, init, rawdata, validation


def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = np.where(frame.pop("target") == 0, "malignant", "benign")
    frame.insert(0, "patient_id", [f"P{i:05d}" for i in range(len(frame))])
    # A text band from a real measurement: a low-cardinality category.
    frame["size band"] = pd.qcut(frame["mean area"], 3, labels=["small", "medium", "large"])
    frame["size band"] = frame["size band"].astype(str)
    return frame


def as_exported(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as a spreadsheet export writes them: numbers as text, some blanks and NAs."""
    out = frame.astype(object)
    texture = frame["mean texture"].map(lambda v: f"{v:g}").astype(object)
    texture.iloc[::37] = " "  # blank cells (a space) in a number column
    out["mean texture"] = texture
    smoothness = frame["worst smoothness"].map(lambda v: f"{v:g}").astype(object)
    smoothness.iloc[5::50] = "NA"
    out["worst smoothness"] = smoothness
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    as_exported(breast_cancer()).to_csv(folder / "breast_cancer.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def csv_file(data_dir) -> Path:
    return data_dir / "breast_cancer.csv"


@pytest.fixture(scope="module")
def drafted(csv_file) -> dict:
    frame = rawdata.read_raw(csv_file, as_text=True)
    return init.draft(frame, "diagnosis", name="breast-cancer", source=csv_file.name)


def passes_validation(document: dict, path: Path, rows: int) -> validation.Result:
    text = init.render(document, path.name, rows, "2026-01-01")
    c = contract.parse(yaml.safe_load(text), "drafted", text)
    with contract.use(c):
        return validation.check(rawdata.read_raw(path), rows=(rows // 2, rows * 10))


def test_the_draft_parses_and_the_file_it_came_from_passes_validation(drafted, csv_file):
    c = contract.parse(drafted)  # the document itself, before rendering
    assert c.target == "diagnosis" and c.id == "patient_id"
    result = passes_validation(drafted, csv_file, 569)
    assert result.passed, [f.line() for f in result.errors]
    assert result.table["diagnosis"].mean() == pytest.approx(212 / 569)  # malignant -> 1


def test_the_draft_infers_types_roles_labels_and_missing_tokens(drafted):
    columns = drafted["columns"]
    assert drafted["labels"] == {"malignant": 1, "benign": 0}  # the rarer, and named so
    assert drafted["missing"] == ["", "NA"]  # " " is "" after trimming
    assert drafted["trim"] is True and drafted["features"] == {}
    assert columns["patient_id"]["role"] == "id"
    assert columns["diagnosis"] == {
        "type": "category",
        "role": "target",
        "categories": ["malignant", "benign"],
        "why": columns["diagnosis"]["why"],
    }
    texture = columns["mean texture"]  # numbers stored as text, blanks among them
    assert texture["type"] == "float" and texture["nullable"] is True
    assert columns["worst smoothness"]["nullable"] is True
    assert columns["size band"] == {
        "type": "category",
        "categories": ["large", "medium", "small"],
        "why": columns["size band"]["why"],
    }
    observed = breast_cancer()
    for name, spec in columns.items():
        if spec.get("min") is None:
            continue
        low, high = observed[name].min(), observed[name].max()
        assert spec["min"] <= low and spec["max"] >= high, name
        assert spec["min"] >= 0  # every value is >= 0: never a negative bound
        assert "inferred" in spec["why"]


def test_the_draft_states_dataset_expectations_with_reasons(drafted):
    by_key = {(e["column"], e["check"]): e for e in drafted["expectations"]}
    rate = by_key[("diagnosis", "label_rate")]
    assert rate["min"] < 212 / 569 < rate["max"]
    assert by_key[("patient_id", "unique_share")]["min"] == 1.0
    share = 16 / 569  # every 37th of 569 rows is blank
    assert by_key[("mean texture", "null_share")]["max"] > share
    assert ("worst smoothness", "null_share") in by_key
    assert all(e["why"] for e in drafted["expectations"])


def test_a_parquet_file_drafts_a_contract_it_passes(data_dir):
    frame = breast_cancer()
    frame.loc[frame.index[::40], "mean texture"] = np.nan
    path = data_dir / "typed.parquet"
    frame.to_parquet(path, index=False)
    document = init.draft(rawdata.read_raw(path, as_text=True), "diagnosis", id="patient_id")
    assert document["columns"]["mean texture"]["nullable"] is True
    assert document["columns"]["mean radius"]["type"] == "float"
    result = passes_validation(document, path, len(frame))
    assert result.passed, [f.line() for f in result.errors]


def test_text_columns_become_categories_ids_or_ignored_text():
    n = 120
    frame = pd.DataFrame(
        {
            "Account ID": [f"A{i}" for i in range(n)],
            "plan": ["basic", "plus"] * (n // 2),
            "comment": [f"called on day {i}" for i in range(n)],
            "constant": ["x"] * n,
            "visits": [str(i % 7) if i % 9 else "None" for i in range(n)],
            "label": ["no", "yes", "no"] * (n // 3),
        }
    )
    document = init.draft(frame, "label")
    columns = document["columns"]
    assert document["id"] == "Account ID"
    assert columns["plan"]["categories"] == ["basic", "plus"]
    assert columns["comment"]["role"] == "ignore" and "free text" in columns["comment"]["why"]
    assert columns["constant"]["role"] == "ignore"
    assert columns["visits"] == {**columns["visits"], "type": "integer", "nullable": True}
    assert "None" in document["missing"]  # a placeholder among numbers
    assert document["labels"] == {"yes": 1, "no": 0}
    contract.parse(document)


@pytest.mark.parametrize(
    ("values", "positive"),
    [
        (["benign"] * 5 + ["malignant"] * 9, "malignant"),  # named, though not rarer
        (["red"] * 3 + ["blue"] * 9, "red"),  # no name: the rarer
        (["1", "2", "2"], "2"),  # numbers: the larger
    ],
)
def test_the_positive_label(values, positive):
    counts = pd.Series(values).value_counts()
    assert init.positive_label(counts, numeric=values[0].isdigit())[0] == positive


@pytest.mark.parametrize(
    ("low", "high", "integer", "expected"),
    [
        (6.981, 28.11, False, (1, 34)),
        (0.0, 0.4268, False, (0, 0.6)),
        (18, 90, True, (0, 110)),
        (-5.0, 5.0, False, (-8, 8)),
        (-40.0, -10.0, False, (-48, -2)),
        (-9.0, -1.0, False, (-11, 0)),
    ],
)
def test_ranges_are_widened_never_across_zero(low, high, integer, expected):
    assert init.widen(low, high, integer) == expected


@pytest.mark.parametrize(
    ("rate", "low", "high"), [(0.373, 0.22, 0.55), (0.5, 0.33, 0.67), (0.02, 0.01, 0.04)]
)
def test_label_rate_bounds_are_half_to_double_the_odds(rate, low, high):
    assert init.label_bounds(rate) == pytest.approx((low, high), abs=0.011)


def test_changes_list_columns_types_ranges_and_categories(drafted):
    new = yaml.safe_load(yaml.safe_dump(drafted))
    del new["columns"]["mean radius"]
    new["columns"]["biopsy site"] = {"type": "category", "categories": ["left", "right"]}
    new["columns"]["mean area"]["max"] = 5000
    new["columns"]["size band"]["categories"].append("huge")
    new["columns"]["mean texture"]["type"] = "integer"
    lines = init.changes(drafted, new)
    assert "- column 'mean radius'" in lines
    assert "+ column 'biopsy site': category, categories [left, right]" in lines
    assert "~ column 'mean area': max 3100 -> 5000" in lines
    assert "~ column 'size band': categories +huge" in lines
    assert "~ column 'mean texture': type float -> integer" in lines
    assert init.changes(drafted, drafted) == []


# --- the command, in a real git + DVC repository -----------------------------------------


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_template_repo(tmp_path / "repo", rows=2_000)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts[:1]
    }


def test_init_wires_the_file_into_the_pipeline(repo, csv_file):
    result = ratchet(repo, "init", "--from", str(csv_file), "--target", "diagnosis")
    out = result.stdout
    assert "'malignant' -> 1, 'benign' -> 0" in out and "id: patient_id" in out
    assert "mean radius: 1 to 34" in out and "dvc repro" in out
    assert "roc_auc: {direction: higher, max_regression: 0.01}" in out

    raw = "data/raw/breast-cancer.csv"
    assert (repo / raw).read_bytes() == csv_file.read_bytes()
    assert yaml.safe_load((repo / f"{raw}.dvc").read_text())["outs"][0]["path"] == (
        "breast-cancer.csv"
    )
    text = (repo / "dvc.yaml").read_text()
    dvc = yaml.safe_load(text)
    assert list(dvc["stages"]) == ["validate", "featurize", "train", "evaluate"]
    stage = dvc["stages"]["validate"]
    assert f"--input {raw} " in stage["cmd"] and raw in stage["deps"]
    assert "--input data/validated/breast-cancer.parquet" in dvc["stages"]["featurize"]["cmd"]
    assert list(dvc["artifacts"]) == ["breast-cancer-model"]
    assert "# persist: DVC would delete these" in text  # comments survive

    params_text = (repo / "params.yaml").read_text()
    params = yaml.safe_load(params_text)
    assert (params["validate"]["rows_min"], params["validate"]["rows_max"]) == (284, 5690)
    rules = params["gate"]["rules"]
    assert all("min" not in r and "max" not in r and "max_regression" in r for r in rules.values())
    assert "# fewer rows means a partial export" in params_text

    c = contract.load(repo / "dataset/contract.yaml")
    assert c.name == "breast-cancer" and "Drafted by `ratchet init` from breast_cancer.csv" in (
        c.text
    )

    # A rerun on the same file finds nothing to change; other data is a diff, not a write.
    before = snapshot(repo)
    again = ratchet(repo, "init", "--from", str(csv_file), "--target", "diagnosis")
    assert "already matches" in again.stdout
    other = csv_file.with_name("breast-cancer-v2.csv")
    frame = pd.read_csv(csv_file, dtype=str, keep_default_na=False).drop(columns=["mean radius"])
    frame["mean area"] = frame["mean area"].astype(float) * 3
    frame.to_csv(other, index=False)
    args = ["init", "--from", str(other), "--target", "diagnosis", "--name", "breast-cancer"]
    rerun = ratchet(repo, *args, check=False)
    assert rerun.returncode == 1
    assert "- column 'mean radius'" in rerun.stdout
    assert "~ column 'mean area': max 3100 -> 10000" in rerun.stdout
    assert "--force" in rerun.stdout
    assert snapshot(repo) == before

    # A forced rerun replaces the contract and the data; the project's own gate rules stay.
    own = params_text.replace("max_regression: 0.01}", "min: 0.95, max_regression: 0.01}", 1)
    (repo / "params.yaml").write_text(own)
    ratchet(repo, *args, "--force")
    assert yaml.safe_load((repo / "params.yaml").read_text())["gate"]["rules"]["roc_auc"] == {
        "direction": "higher",
        "min": 0.95,
        "max_regression": 0.01,
    }
    assert "mean radius" not in contract.load(repo / "dataset/contract.yaml").columns
    assert (repo / raw).read_bytes() == other.read_bytes()


def test_a_failing_dvc_add_leaves_everything_as_it_was(repo, csv_file, monkeypatch):
    before = snapshot(repo)

    def fail(path: str) -> None:
        raise RatchetError(f"dvc add {path} failed: disk full; nothing was changed")

    monkeypatch.setattr(init, "_dvc_add", fail)
    result = ratchet(repo, "init", "--from", str(csv_file), "--target", "diagnosis", check=False)
    assert result.returncode == 2 and "disk full" in result.stderr
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--from", "nowhere.csv", "--target", "y"], "nowhere.csv: file not found"),
        ("empty", ["--target", "y"], "file is empty"),
        ("data", ["--target", "outcome"], "--target 'outcome' is not a column"),
        ("one-label", ["--target", "diagnosis"], "has one value only ('benign')"),
        ("data", ["--target", "diagnosis", "--id", "size band"], "--id 'size band' is not unique"),
        ("no-rows", ["--target", "diagnosis"], "has a header but no rows"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(repo, csv_file, setup, args, message):
    source = repo.parent / "input.csv"
    if setup == "empty":
        source.write_text("")
    elif setup == "data":
        shutil.copy(csv_file, source)
    elif setup == "one-label":
        frame = pd.read_csv(csv_file)
        frame[frame["diagnosis"] == "benign"].to_csv(source, index=False)
    elif setup == "no-rows":
        source = source.with_suffix(".parquet")
        breast_cancer().head(0).to_parquet(source, index=False)
    if setup is not None:
        args = ["--from", str(source), *args]
    before = snapshot(repo)
    result = ratchet(repo, "init", *args, check=False)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert snapshot(repo) == before


@pytest.mark.slow
def test_init_then_dvc_repro_is_green(repo, csv_file):
    started = time.perf_counter()
    ratchet(repo, "init", "--from", str(csv_file), "--target", "diagnosis")
    run(["dvc", "repro"], repo)
    elapsed = time.perf_counter() - started
    metrics = yaml.safe_load((repo / "metrics/evaluate/metrics.json").read_text())
    assert metrics["roc_auc"] > 0.9
    data = yaml.safe_load((repo / "metrics/data.json").read_text())
    assert data
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "Use the breast cancer data"], repo)
    assert run(["dvc", "status"], repo).stdout.strip() == "Data and pipelines are up to date."
    print(f"init to green dvc repro: {elapsed:.1f} s")
