"""The paired gate end to end: real git branches, real `dvc repro`, the real commands.

`main` trains the template's model; branches change only noise (the split seed, the
sample seed), degrade the model, or switch the dataset. The base model comes from the
DVC cache, or, once its cache entry is gone, from reproducing the base commit.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLE_CONTRACT, make_template_repo, run, set_param
from ratchet.core.errors import RatchetError
from ratchet.core.params import MetricRule
from ratchet.review import baseline, shared_rows
from ratchet.review.intervals import Delta
from ratchet.review.rules import check_metric

REPORT = "reports/pr/report.md"
PAIRED = re.compile(r"paired on ([\d,]+) rows unseen by both models")


def commit(repo: Path, message: str) -> None:
    # A fresh index: `dvc repro` stages files itself (autostage), and an index entry it
    # refreshed in the same second as an edit can hide that edit from `git add -A`.
    run(["git", "rm", "-r", "-q", "--cached", "."], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


def branch(repo: Path, name: str, start: str = "main") -> None:
    run(["git", "checkout", "-q", "-b", name, start], repo)
    run(["dvc", "checkout", "-q", "--force"], repo)


def change(repo: Path, name: str, old: str, new: str) -> None:
    branch(repo, name)
    set_param(repo, old, new)
    run(["dvc", "repro", "-q"], repo)
    commit(repo, name)
    assert new in run(["git", "show", "HEAD:params.yaml"], repo).stdout  # the edit is in


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = make_template_repo(tmp_path_factory.mktemp("paired"), rows=3_000)
    # No floor or ceiling: on 600 test rows they alone would fail some harmless changes.
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(re.sub(r"min: 0\.80, |max: 0\.45, ", "", text))
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "pipeline")
    change(repo, "split-seed", "seed: 42             # split and fold", "seed: 7  # split and fold")
    change(repo, "new-data", "seed: 2026", "seed: 2027")
    change(repo, "degrade", "max_iter: 200", "max_iter: 3")
    change(repo, "point", "compare: paired", "compare: point")

    branch(repo, "feature-change")
    path = repo / "dataset" / "contract.yaml"
    text = path.read_text()
    assert "(tenure_months + 1)" in text
    path.write_text(text.replace("(tenure_months + 1)", "(tenure_months + 2)", 1))
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "an engineered feature computed differently")

    branch(repo, "other-dataset")
    path = repo / "dataset" / "contract.yaml"
    path.write_text(path.read_text().replace("name: churn ", "name: churn-eu ", 1))
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "another dataset")
    run(["git", "checkout", "-q", "main"], repo)
    return repo


def ci(repo: Path, name: str, base: str = "main"):
    """What the workflow does on a pull request: checkout, repro, report, gate."""
    run(["git", "checkout", "-q", "--force", name], repo)
    run(["dvc", "checkout", "-q", "--force"], repo, check=False)
    run(["dvc", "repro", "-q"], repo)
    run(["ratchet", "report", "--base", base], repo)
    gate = run(["ratchet", "gate", "--base", base], repo, check=False)
    return gate, (repo / REPORT).read_text()


def shared_count(text: str) -> int:
    match = PAIRED.search(text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def interval_cell(report: str, metric: str) -> str:
    (line,) = [x for x in report.splitlines() if x.startswith(f"| {metric} |")]
    return [cell.strip() for cell in line.strip("|").split("|")][4]


@pytest.mark.slow
def test_a_new_split_is_paired_on_rows_neither_model_trained_on(repo):
    gate, report = ci(repo, "split-seed")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    rows = shared_count(report)
    # A new split moves most of the base's training rows into this change's test split:
    # only test rows the base never trained on (about a fifth of 600) are compared.
    assert 60 < rows < 300, report
    assert "test rows left out: the base model trained on them" in report
    assert "from the DVC cache at" in gate.stdout
    interval = r"\[[+-]\d\.\d{4}, [+-]\d\.\d{4}\] delong"
    assert re.fullmatch(interval, interval_cell(report, "roc_auc"))


@pytest.mark.slow
def test_a_retrain_on_new_data_is_compared_on_all_its_test_rows(repo):
    gate, report = ci(repo, "new-data")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert shared_count(report) == 600, report  # another sample: no row was seen by the base
    assert "bootstrap" in interval_cell(report, "pr_auc")


@pytest.mark.slow
def test_a_real_degradation_fails_with_its_interval(repo):
    gate, report = ci(repo, "degrade")
    assert gate.returncode == 1, gate.stdout
    verdict = report.splitlines()[0]
    assert verdict.startswith("### ❌ Gate fails:") and "excludes 0" in verdict, verdict
    cell = interval_cell(report, "log_loss")
    low = float(cell.split(",")[0].strip("["))
    assert low > 0.02, cell  # the whole interval is worse than the allowance
    assert shared_count(gate.stdout) == 600


@pytest.mark.slow
def test_the_base_model_is_reproduced_when_the_cache_lacks_it(repo):
    run(["git", "checkout", "-q", "--force", "degrade"], repo)
    shutil.rmtree(repo / ".dvc" / "cache")  # neither the base's outputs nor its run-cache
    gate, report = ci(repo, "degrade")
    assert gate.returncode == 1, gate.stdout
    assert re.search(r"base model reproduced at [0-9a-f]{7} in \d+ s", report), report
    assert shared_count(report) == 600
    worktrees = run(["git", "worktree", "list"], repo).stdout.splitlines()
    assert len(worktrees) == 1, worktrees  # the temporary worktree is gone


@pytest.mark.slow
def test_point_comparison_is_a_params_switch(repo):
    gate, report = ci(repo, "point", base="point")  # rules come from the base
    assert gate.returncode == 0
    assert "gate.compare: point" in report and "paired on" not in report


@pytest.mark.slow
def test_another_dataset_falls_back_with_a_note(repo):
    _, report = ci(repo, "other-dataset")
    assert "New baseline" in report and "paired on" not in report, report


@pytest.mark.slow
def test_features_the_base_model_cannot_read_fall_back_to_committed_metrics(repo):
    gate, report = ci(repo, "feature-change")
    note = "not paired: feature 'charges_per_tenure_month' is computed differently"
    assert note in gate.stdout and "committed metrics compared instead" in gate.stdout
    assert "**Not paired:**" in report
    assert interval_cell(report, "roc_auc") == ""


# Pure parts: the semantics of a paired check, and which rows are shared.

RULE = MetricRule(direction="higher", max_regression=0.01)


def delta(d: float, low: float, high: float) -> Delta:
    return Delta("roc_auc", 0.85, 0.85 + d, d, low, high, "delong", 0, 1000)


@pytest.mark.parametrize(
    ("d", "low", "high", "fails"),
    [
        (-0.03, -0.05, -0.01, True),  # beyond the allowance and surely worse
        (-0.03, -0.06, +0.001, False),  # beyond the allowance, but could be noise
        (-0.005, -0.008, -0.002, False),  # surely worse, but within the allowance
        (+0.01, +0.002, +0.02, False),  # better
    ],
)
def test_a_paired_regression_fails_only_beyond_its_allowance_and_beyond_noise(d, low, high, fails):
    check = check_metric("roc_auc", RULE, 0.9, 0.85 + d, "m.json", delta(d, low, high))
    assert check.passed is not fails, check.failures
    assert check.delta == pytest.approx(d)


def test_floors_apply_to_this_changes_own_value_even_when_paired():
    rule = MetricRule(direction="higher", min=0.9)
    check = check_metric("roc_auc", rule, 0.95, 0.85, "m.json", delta(0.0, -0.01, 0.01))
    assert check.failures == ("below the floor 0.9000",)


def test_shared_rows_leave_out_the_base_training_rows_by_id_and_values():
    c = EXAMPLE_CONTRACT
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {c.id: [f"CUST-{i:08d}" for i in range(10)], c.raw_features[0]: rng.random(10),
         c.target: rng.integers(0, 2, 10)}
    )  # fmt: skip
    train = table.iloc[:4].copy()
    train.loc[3, c.raw_features[0]] = 5.0  # same id, other values: another observation
    keys = shared_rows.key_columns(c, c, train, table)
    assert keys == [c.id, c.raw_features[0], c.target]
    assert shared_rows.unseen(table, train, keys).tolist() == [False] * 3 + [True] * 7


def test_the_base_models_files_come_from_dvc_yaml_with_every_split_it_trained_on():
    stages = {
        "featurize": {"outs": ["f/train.parquet", "f/valid.parquet", "f/test.parquet"]},
        "train": {"deps": ["f/train.parquet", "f/valid.parquet", "src/x.py"],
                  "outs": ["m/model.skops", {"metrics/train/params.yaml": {"cache": False}}]},
        "evaluate": {"deps": ["m/model.skops", "f/test.parquet", "src/y.py"]},
    }  # fmt: skip
    paths = baseline.pipeline_paths({"stages": stages}, "dvc.yaml")
    assert paths == baseline.Paths("m/model.skops", ("f/train.parquet", "f/valid.parquet"),
                                   "f/test.parquet")  # fmt: skip
    del stages["evaluate"]
    with pytest.raises(RatchetError, match=r"dvc\.yaml: no stage reads exactly one \.skops"):
        baseline.pipeline_paths({"stages": stages}, "dvc.yaml")
