"""The real pipeline: real git, real `dvc repro`, in a temporary copy of the template."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import make_template_repo, run

pytestmark = pytest.mark.slow


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = make_template_repo(tmp_path_factory.mktemp("template"), rows=3_000)
    run(["dvc", "repro"], repo)
    return repo


def test_repro_produces_every_output_with_sane_metrics(repo):
    for path in (
        "data/raw/churn.csv",
        "data/validated/churn.parquet",
        "data/features/train.parquet",
        "data/features/test.parquet",
        "models/model.skops",
        "data/predictions/test.parquet",
        "metrics/evaluate/plots/sklearn/roc.json",
        "metrics/evaluate/plots/custom/importance.json",
    ):
        assert (repo / path).is_file(), path
    metrics = json.loads((repo / "metrics/evaluate/metrics.json").read_text())
    assert 0.75 < metrics["roc_auc"] < 0.97
    assert 0.0 < metrics["brier"] < 0.2
    data = json.loads((repo / "metrics/data.json").read_text())
    assert data["rows"] == 3_000
    shown = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "roc_auc" in shown and "label_rate" in shown


def test_generated_outputs_are_ignored_by_git(repo):
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], repo).stdout
    untracked = [line[3:] for line in status.splitlines() if line.startswith("??")]
    # Only small, diffable results land in git; data and models go to the DVC cache.
    assert all(p.startswith(("metrics/", "reports/")) or p == "dvc.lock" for p in untracked), (
        untracked
    )


def test_second_repro_does_nothing_and_status_is_clean(repo):
    assert "up to date" in run(["dvc", "status"], repo).stdout
    out = run(["dvc", "repro"], repo).stdout
    assert "Running stage" not in out


def test_forced_rerun_gives_the_same_lock(repo):
    before = (repo / "dvc.lock").read_text()
    model_before = md5(repo / "models/model.skops")
    run(["dvc", "repro", "-f"], repo)
    assert (repo / "dvc.lock").read_text() == before
    assert md5(repo / "models/model.skops") == model_before


def test_param_change_reruns_only_downstream_stages(repo):
    params = repo / "params.yaml"
    original = params.read_text()
    params.write_text(original.replace("threshold: 0.5", "threshold: 0.4"))
    try:
        out = run(["dvc", "repro"], repo).stdout
        assert "Running stage 'evaluate'" in out
        assert "Running stage 'train'" not in out
    finally:
        params.write_text(original)
        run(["dvc", "repro"], repo)


def test_broken_own_data_stops_at_validate_and_keeps_the_model(repo):
    """The documented way to bring your own data, with a broken file."""
    model_before = md5(repo / "models/model.skops")
    metrics_before = (repo / "metrics/evaluate/metrics.json").read_text()
    data_before = (repo / "metrics/data.json").read_text()
    run(["dvc", "remove", "sample"], repo)
    raw = repo / "data/raw/churn.csv"
    lines = raw.read_text().splitlines()
    for plan in ("free", "pro", "enterprise"):  # text is quoted in the generated file
        lines[5] = lines[5].replace(f',"{plan}",', ',"platinum",')
    assert '"platinum"' in lines[5]
    raw.write_text("\n".join(lines) + "\n")
    run(["dvc", "add", "data/raw/churn.csv"], repo)

    result = run(["dvc", "repro"], repo, check=False)
    assert result.returncode != 0
    assert "column 'plan': isin" in result.stderr + result.stdout
    assert "Running stage 'train'" not in result.stdout
    assert md5(repo / "models/model.skops") == model_before
    assert (repo / "metrics/evaluate/metrics.json").read_text() == metrics_before
    assert (repo / "metrics/data.json").read_text() == data_before
    report = json.loads((repo / "reports/validation.json").read_text())
    assert report["status"] == "failed"
    assert report["errors"][0]["examples"][0]["row"] == 5
