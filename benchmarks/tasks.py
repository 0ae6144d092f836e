"""Multiclass and regression on real public tables, as a user adopts Ratchet, with timings.

For each task: a fresh copy of the template, `ratchet init` on the public table
(scikit-learn's wine for multiclass, diabetes for regression), `dvc repro` (timed), then
a pull request that degrades the model (3 trees instead of 200) and its report. Prints
each task's metrics and the seconds of its `dvc repro`; with --docs DIR it also copies
each pull request's report and plots to DIR/<task>/, the example reports the README shows.

    python -m benchmarks.tasks [--docs docs/examples]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.public_data import table
from benchmarks.template import BIN, make_template_repo, run

METRICS = "metrics/evaluate/metrics.json"
TASKS = ("multiclass", "regression")


def adopt(workdir: Path, task: str) -> tuple[Path, float]:
    """A template repository switched to the task's public table; (repo, repro seconds)."""
    repo = make_template_repo(workdir / task, rows=1_000)
    frame, target = table(task)
    source = workdir / f"{task}.csv"
    frame.to_csv(source, index=False)
    run([str(BIN / "ratchet"), "init", "--from", str(source), "--target", target], repo)
    started = time.perf_counter()
    run(["dvc", "repro", "-q"], repo)
    seconds = time.perf_counter() - started
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", f"Use the {task} table"], repo)
    return repo, seconds


def degraded_report(repo: Path, trees: int = 3) -> Path:
    """Report of a pull request that cuts the trees from 200 to `trees`; its directory."""
    run(["git", "checkout", "-q", "-b", "fewer-trees"], repo)
    path = repo / "params.yaml"
    path.write_text(path.read_text().replace("max_iter: 200", f"max_iter: {trees}", 1))
    run(["dvc", "repro", "-q"], repo)
    run(["git", "commit", "-qam", "Fewer trees"], repo)
    run([str(BIN / "ratchet"), "report", "--base", "main"], repo)
    return repo / "reports/pr"


def publish(report_dir: Path, dest: Path) -> None:
    """Copy the report and its plots; the report's image links are relative, so they hold."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(report_dir, dest, ignore=shutil.ignore_patterns("*.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tasks", description=__doc__)
    parser.add_argument("--docs", type=Path, help="copy each task's example report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ratchet-tasks-") as tmp:
        for task in TASKS:
            repo, seconds = adopt(Path(tmp), task)
            metrics = json.loads((repo / METRICS).read_text())
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            print(f"{task}: dvc repro {seconds:.1f} s\n  {shown}", flush=True)
            report_dir = degraded_report(repo)
            if args.docs:
                publish(report_dir, args.docs / task)
                print(f"  example report -> {args.docs / task}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
