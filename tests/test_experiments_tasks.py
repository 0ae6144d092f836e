"""Experiments ranked per task with real DVC: `make exps` and `ratchet exp best` sort by
the VALIDATION value of the gate's primary metric in its rule's direction (rmse ascending
for a regression, macro_f1 descending for a multiclass), never by a binary metric the
project lacks, and never by the test split's metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE, run
from ratchet.dataset import wiring
from test_makefile import make, makefile_copy

pytestmark = pytest.mark.slow

# A stand-in for the pipeline: the task's metrics as a plain function of train.max_depth,
# so which experiment is best is known and DVC still runs it. On validation depth 3 is best;
# on the test split the order is reversed (depth 9 best), so a ranking that peeked at the
# test metrics would show.
STAGE = """\
import json, os, sys
import yaml
depth = yaml.safe_load(open("params.yaml"))["train"]["max_depth"]
def values(d):
    if sys.argv[1] == "regression":
        return {"rmse": 1.5 * d, "mae": 1.2 * d, "r2": 1 - d / 20}
    return {"macro_f1": 1 - d / 20, "log_loss": d / 10, "accuracy": 1 - d / 25}
os.makedirs("metrics/evaluate", exist_ok=True)
os.makedirs("metrics/train", exist_ok=True)
json.dump({"train_rows": 100, "valid": values(depth)}, open("metrics/train/metrics.json", "w"))
json.dump(values(12 - depth), open("metrics/evaluate/metrics.json", "w"))
"""


def project(tmp_path: Path, task: str) -> Path:
    """A repository with the task's params (as `ratchet init` writes them), the stand-in
    stage committed, and experiments at depths 3, 5 and 9 (the baseline has 6)."""
    repo = makefile_copy(tmp_path / "repo")
    params, _ = wiring.retask_params((EXAMPLE / "params.yaml").read_text(), task)
    (repo / "params.yaml").write_text(params)
    (repo / "stage.py").write_text(STAGE)
    stage = {
        "cmd": f"python stage.py {task}",
        "deps": ["stage.py"],
        "params": ["train.max_depth"],
        "metrics": [
            {"metrics/train/metrics.json": {"cache": False}},
            {"metrics/evaluate/metrics.json": {"cache": False}},
        ],
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"evaluate": stage}}))
    run(["dvc", "init", "-q"], repo)
    run(["dvc", "repro", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    for depth in (5, 9, 3):
        run(["dvc", "exp", "run", "-q", "-n", f"depth-{depth}", "-S", f"train.max_depth={depth}"],
            repo)  # fmt: skip
    return repo


def listed(table: str) -> list[str]:
    """The experiment names of a `dvc exp show` table, top to bottom."""
    return re.findall(r"\b(depth-\d)\b", table)


@pytest.mark.parametrize(
    ("task", "column", "order", "best_first"),
    [
        ("regression", "rmse", "asc", ["depth-3", "depth-5", "depth-9"]),
        ("multiclass", "macro_f1", "desc", ["depth-3", "depth-5", "depth-9"]),
    ],
)
def test_experiments_rank_by_the_tasks_primary_metric(tmp_path, task, column, order, best_first):
    repo = project(tmp_path, task)
    sort = run(["ratchet", "exp", "sort"], repo).stdout.strip()
    assert sort == f"metrics/train/metrics.json:valid.{column} {order}"

    shown = make(repo, "exps")
    assert shown.returncode == 0, shown.stderr
    assert listed(shown.stdout) == best_first
    reversed_ = make(repo, "exps", f"ORDER={'desc' if order == 'asc' else 'asc'}")
    assert listed(reversed_.stdout) == best_first[::-1]  # ORDER still overrides

    best = run(["ratchet", "exp", "best"], repo, check=False)
    assert best.returncode == 0, best.stdout + best.stderr
    assert f"ranked by validation **{column}**" in best.stdout
    assert "**Best: depth-3**" in best.stdout
    assert re.search(r"\| 3 \| depth-9 \| FAIL \|", best.stdout)  # worse than the baseline
    assert "roc_auc" not in shown.stdout + best.stdout
    metrics = json.loads((repo / "metrics/evaluate/metrics.json").read_text())
    assert column in metrics  # the workspace still holds the baseline's results
