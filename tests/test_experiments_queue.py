"""A real queued sweep: `dvc exp run --queue` of a 2x2 grid plus a broken experiment, run
two at a time, then ranked, branched, reproduced and gated; and the CI path, where each
experiment travels through a git remote as an exp ref and is ranked in another clone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BIN, make_template_repo, run

pytestmark = pytest.mark.slow

METRICS = "metrics/evaluate/metrics.json"  # the test split's: the gate reads it, exp best never
VALIDATION = "metrics/train/metrics.json"  # the train stage's; exp best ranks on `valid`


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[Path]:
    repo = make_template_repo(tmp_path_factory.mktemp("sweep"), rows=4_000)
    run(["dvc", "repro", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline results"], repo)
    grid = ["-S", "train.max_depth=3,6", "-S", "train.learning_rate=0.03,0.1"]
    run(["dvc", "exp", "run", "--queue", *grid], repo)
    run(["dvc", "exp", "run", "--queue", "-n", "broken", "-S", "train.max_iter=0"], repo)
    started = time.monotonic()
    # Output to a file, not a pipe: a queue worker that outlives `dvc exp run` would hold a
    # pipe open, and reading it to the end would wait for that worker.
    log = repo.parent / "run-all.log"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with log.open("w") as out:
        code = subprocess.run(
            ["dvc", "exp", "run", "--run-all", "--jobs", "2"], cwd=repo, env=env,
            stdout=out, stderr=subprocess.STDOUT, timeout=900,
        ).returncode  # fmt: skip
    assert code == 0, log.read_text()
    print(f"queued sweep of 5 experiments, 2 at a time: {time.monotonic() - started:.0f} s")
    yield repo
    run(["dvc", "queue", "stop", "--kill"], repo, check=False)


def exp_show(repo: Path) -> list[dict]:
    """The experiments under HEAD, as DVC's own CLI reports them."""
    (baseline,) = json.loads(run(["dvc", "exp", "show", "--json", "--hide-workspace"], repo).stdout)
    return baseline["experiments"] or []


def roc_auc(exp_range: dict, path: str = VALIDATION) -> float | None:
    """An experiment's validation ROC AUC (or, with path=METRICS, its test ROC AUC)."""
    data = exp_range["revs"][0]["data"]["metrics"].get(path, {}).get("data", {})
    return (data.get("valid") or {} if path == VALIDATION else data).get("roc_auc")


def best_of(output: str) -> str:
    match = re.search(r"\*\*Best: ([\w.-]+)\*\*", output)
    assert match, output
    return match.group(1)


def test_the_grid_finishes_with_four_experiments_carrying_metrics(repo):
    exps = exp_show(repo)
    done = [e for e in exps if (e.get("executor") or {}).get("state", "success") == "success"]
    assert len(done) == 4
    assert all(isinstance(roc_auc(e), float) for e in done)
    assert all(isinstance(roc_auc(e, METRICS), float) for e in done)
    params = {
        tuple(e["revs"][0]["data"]["params"]["params.yaml"]["data"]["train"][k]
              for k in ("max_depth", "learning_rate"))
        for e in done
    }  # fmt: skip
    assert params == {(3, 0.03), (3, 0.1), (6, 0.03), (6, 0.1)}
    failed = [e for e in exps if (e.get("executor") or {}).get("state") == "failed"]
    assert [e["name"] for e in failed] == ["broken"]


def test_best_picks_the_top_gate_passing_experiment_and_reports_the_failure(repo):
    result = run(["ratchet", "exp", "best"], repo, check=False)
    assert result.returncode == 1, result.stderr  # one experiment failed: it needs a look
    out = result.stdout
    rows = [line for line in out.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) == 4
    passing = {re.sub(r"\*", "", r.split("|")[2].strip()) for r in rows if "| pass |" in r}
    by_name = {e["name"]: roc_auc(e) for e in exp_show(repo) if roc_auc(e) is not None}
    winner = best_of(out)
    assert winner == max(passing, key=lambda n: (by_name[n], n))
    assert rows[0].startswith(f"| 1 | **{winner}** | pass |")
    assert (
        "- broken (train.max_iter=0): ratchet train: error: params.yaml: "
        "'train.max_iter' input should be greater than or equal to 1, got 0"
    ) in out


def test_experiments_pushed_to_a_git_remote_rank_the_same_in_another_clone(repo, tmp_path):
    remote = tmp_path / "remote.git"
    run(["git", "init", "-q", "--bare", str(remote)], tmp_path)
    run(["git", "push", "-q", str(remote), "main"], repo)
    run(["dvc", "exp", "push", "--no-cache", str(remote), "--rev", "HEAD"], repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "-b", "main", str(remote), str(clone)], tmp_path)
    run(["dvc", "exp", "pull", "--no-cache", "origin"], clone)
    matrix = tmp_path / "matrix.json"
    matrix.write_text(json.dumps({"include": [{"name": "ci-9", "params": "train.max_iter=0"}]}))
    result = run(["ratchet", "exp", "best", "--matrix", str(matrix)], clone, check=False)
    assert best_of(result.stdout) == best_of(
        run(["ratchet", "exp", "best"], repo, check=False).stdout
    )
    assert "4 finished, 1 failed" in result.stdout
    assert "- ci-9 (train.max_iter=0): experiment run failed" in result.stdout


def test_the_winners_branch_reproduces_its_metrics_and_passes_the_gate(repo):
    out = run(["ratchet", "exp", "best", "--branch", "sweep-winner"], repo, check=False).stdout
    winner = best_of(out)
    assert "branch sweep-winner holds" in out
    expected = {e["name"]: roc_auc(e, METRICS) for e in exp_show(repo)}[winner]
    again = run(["ratchet", "exp", "best", "--branch", "sweep-winner"], repo, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    run(["git", "checkout", "-q", "sweep-winner"], repo)
    try:
        run(["dvc", "repro", "-q", "--force", "train", "evaluate"], repo)
        assert run(["git", "status", "--porcelain"], repo).stdout == ""  # same lock, metrics
        assert json.loads((repo / METRICS).read_text())["roc_auc"] == expected
        gate = run(["ratchet", "gate", "--base", "main"], repo, check=False)
        assert gate.returncode == 0, gate.stdout + gate.stderr
    finally:
        run(["git", "checkout", "-q", "main"], repo)
        run(["dvc", "checkout", "-q", "--force"], repo)
