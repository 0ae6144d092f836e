"""The Makefile: user values reach recipes as text, and the CI-only recipes behave."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE, ROOT, run

# Each part would run a command if pasted into a recipe: backticks and $(...) in the
# shell, $(shell ...) in make itself (also when make exports a command-line variable).
PAYLOAD = "v1`touch {dir}/backtick`$(touch {dir}/subshell)$(shell touch {dir}/make)"

# Every recipe that reads a value a user or a workflow passes in, and that value's name.
USER_VALUES = [
    ("pr-report", "BASE"),
    ("gate", "BASE"),
    ("model-check", "TAG"),
    ("model-smoke", "VERSION"),
    ("model-shadow", "VERSION"),
    ("model-shadow", "BASELINE"),
    ("model-shadow", "INPUT"),
    ("model-shadow", "SUMMARY"),
    ("model-release", "TAG"),
    ("model-release", "VERSION"),
    ("model-release", "MODEL_FILE"),
    ("serve", "VERSION"),
    ("serve", "STAGE"),
    ("monitor-batch", "SEED"),
    ("monitor-batch", "DRIFT"),
    ("drift", "STAGE"),
    ("sweep", "GRID"),
    ("sweep", "JOBS"),
    ("exps", "SORT"),
    ("exps", "ORDER"),
    ("exp-run", "EXP"),
    ("exp-run", "PARAMS"),
    ("bench", "BENCH_ROWS"),
    ("bench", "BENCH_REPEATS"),
    ("bench", "HUGE"),
    ("bench-spark", "BENCH_SPARK_ROWS"),
    ("bench-spark", "BENCH_SPARK_HUGE_REPEATS"),
    ("score-spark", "INPUT"),
    ("score-spark", "OUTPUT"),
    ("score-spark", "STAGE"),
    ("score-spark", "VERSION"),
    ("score-spark", "MODEL_FILE"),
    ("score-spark", "MASTER"),
    ("score-spark", "PARTITIONS"),
    ("score-spark", "PARTITION_BY"),
    ("score-spark", "QUARANTINE"),
]


def make(cwd: Path, *args: str, env: dict[str, str] | None = None):
    return run(["make", *args], cwd, check=False, env=env or {})


@pytest.mark.parametrize("how", ["command line", "environment"])
@pytest.mark.parametrize(("target", "name"), USER_VALUES)
def test_recipes_read_user_values_from_the_environment(tmp_path, target, name, how):
    payload = PAYLOAD.format(dir=tmp_path)
    if how == "command line":
        dry = make(ROOT, "-n", target, f"{name}={payload}")
    else:
        dry = make(ROOT, "-n", target, env={name: payload})
    assert dry.returncode == 0, dry.stderr
    # The recipe names the variable; the value itself is never part of the shell text.
    assert "touch" not in dry.stdout, dry.stdout
    assert list(tmp_path.iterdir()) == []


def makefile_copy(dest: Path) -> Path:
    """A git repository with this Makefile and the project's environment (linked)."""
    dest.mkdir()
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy2(ROOT / name, dest / name)  # mtimes kept: `make setup` is up to date
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy2(EXAMPLE / name, dest / name)
    for name in (".venv", ".uv"):
        if (ROOT / name).exists():
            os.symlink(ROOT / name, dest / name)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "ci@example.com"], dest)
    run(["git", "config", "user.name", "Ratchet CI"], dest)
    return dest


@pytest.mark.parametrize(("target", "name"), [("model-check", "TAG"), ("model-smoke", "VERSION")])
def test_a_hostile_tag_runs_nothing(tmp_path, target, name):
    repo = makefile_copy(tmp_path / "repo")
    payload = PAYLOAD.format(dir=tmp_path)
    result = make(repo, target, f"{name}={payload}")
    assert result.returncode != 0  # not a registry tag or version; nothing else happened
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]
    assert "$(shell touch" in result.stderr  # the value arrived whole, as text


def test_drift_issue_creates_its_label_when_missing():
    # gh needs GitHub; the recipe is checked as make would run it.
    dry = make(ROOT, "-n", "drift-issue").stdout
    assert "set -euo pipefail" in dry
    assert "gh label create drift" in dry
    assert (
        dry.index("gh label list")
        < dry.index("gh label create drift")
        < dry.index("gh issue create")
    )


@pytest.fixture
def results_repo(tmp_path) -> Path:
    """A Makefile copy with committed pipeline results (dvc.lock, metrics)."""
    repo = makefile_copy(tmp_path / "repo")
    (repo / "metrics").mkdir()
    (repo / "dvc.lock").write_text("schema: '2.0'\n")
    (repo / "metrics" / "m.json").write_text('{"roc_auc": 0.8}\n')
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline"], repo)
    return repo


def current_branch(repo: Path) -> str:
    return run(["git", "branch", "--show-current"], repo).stdout.strip()


def test_retrain_branch_commits_new_results_on_their_own_branch(results_repo):
    repo = results_repo
    unchanged = make(repo, "retrain-branch")
    assert unchanged.returncode == 0, unchanged.stderr
    assert "unchanged" in unchanged.stdout and current_branch(repo) == "main"

    (repo / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    (repo / "metrics" / "m.json").write_text('{"roc_auc": 0.9}\n')
    made = make(repo, "retrain-branch")
    assert made.returncode == 0, made.stderr
    assert current_branch(repo).startswith("retrain/")
    assert (
        run(["git", "rev-parse", "HEAD^"], repo).stdout
        == run(["git", "rev-parse", "main"], repo).stdout
    )
    changed = run(["git", "show", "--name-only", "--format=", "HEAD"], repo).stdout.split()
    assert changed == ["dvc.lock", "metrics/m.json"]
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], repo).stdout == ""


def test_retrain_pr_needs_a_retrain_branch_and_the_gate_verdict(results_repo):
    repo = results_repo
    off_branch = make(repo, "retrain-pr", env={"GATE": "pass"})
    assert off_branch.returncode != 0 and "retrain/" in off_branch.stderr
    run(["git", "switch", "-q", "-c", "retrain/20260101-000000"], repo)
    for gate in ("", "maybe"):
        no_verdict = make(repo, "retrain-pr", env={"GATE": gate})
        assert no_verdict.returncode != 0 and "GATE" in no_verdict.stderr


def test_monitor_batch_writes_a_demo_batch_only_where_the_sample_stage_runs(tmp_path):
    repo = makefile_copy(tmp_path / "repo")
    run(["dvc", "init", "-q"], repo)
    batch = repo / "data" / "monitor" / "current.csv"  # params monitor.current
    demo = make(repo, "monitor-batch", "SEED=3")
    assert demo.returncode == 0, demo.stderr
    assert batch.is_file() and len(batch.read_text().splitlines()) == 5_001

    # A project on its own data (no sample stage): its batch is used, never overwritten.
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    del dvc_yaml["stages"]["sample"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    batch.write_text("their,own\n1,2\n")
    kept = make(repo, "monitor-batch")
    assert kept.returncode == 0 and "checking data/monitor/current.csv" in kept.stdout
    assert batch.read_text() == "their,own\n1,2\n"
    batch.unlink()
    missing = make(repo, "monitor-batch")
    assert missing.returncode == 2
    assert "current.csv not found: point params monitor.current at a batch" in missing.stderr


def test_score_spark_names_what_is_missing_and_runs_nothing_without_it():
    result = make(ROOT, "-s", "score-spark", env={"INPUT": "", "OUTPUT": "out.parquet"})
    assert result.returncode != 0
    assert "INPUT: set INPUT to a path or table" in result.stderr
    assert "ratchet score" not in result.stderr
