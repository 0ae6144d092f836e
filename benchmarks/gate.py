"""How often the merge gate fails a harmless change, and how often it catches a real one.

One template repository (benchmarks/template.py, --rows rows) is reproduced once and
committed on `main`: the base. Each change is a branch from it with params changed (see
benchmarks/gate_changes.py: --changes noise-only changes, then as many real
degradations), `dvc repro`, a commit, then `ratchet report --base` and `ratchet gate
--base` as CI runs them. Every change shares the base's DVC cache, so stages whose inputs
a change leaves alone are not recomputed.

Each change's TRUE effect is measured apart from the gate: base and change model score
--holdout rows of an independent sample of the same world, so the reader can check that
a noise change is harmless and a degradation really exceeds the gate's allowance.

When the gate has a `gate.compare` switch (paired | point), both modes are measured on
the same changes: a second base branch differs from `main` in that one key only, and
each change is gated against both. Prints the tables and writes them into --output
between their markers.

    python -m benchmarks.gate [--changes 20] [--rows 20000] [--holdout 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

from benchmarks import gate_changes, gate_report, report
from benchmarks.gate_changes import Change
from benchmarks.template import BIN, make_template_repo, run
from ratchet.core.params import GateParams
from ratchet.dataset import contract, sample
from ratchet.dataset.contract import CONTRACT_FILE, ENV_VAR
from ratchet.pipeline import model, predict
from ratchet.pipeline.metrics import classification_metrics

METRICS_FILE = "metrics/evaluate/metrics.json"
MODEL_FILE = "models/model.skops"
HOLDOUT_SEED = 987_654  # a sample no change trains or tests on
BASES = {"point": "main", "paired": "base-paired"}  # gate mode -> branch holding its rules


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gate", description=__doc__)
    parser.add_argument(
        "--changes", type=int, default=20, help="noise changes, and as many degradations"
    )
    parser.add_argument("--rows", type=int, default=20_000, help="sample.rows of the repository")
    parser.add_argument("--holdout", type=int, default=200_000, help="rows measuring true effects")
    report.add_output_arguments(parser)
    parser.add_argument(
        "--workdir", type=Path, help="keep the repository here (default: a temp dir)"
    )
    parser.add_argument(
        "--render", type=Path, help="only rewrite the tables from a --json file of an earlier run"
    )
    args = parser.parse_args(argv)
    if args.changes < 1 or args.rows < 1_000 or args.holdout < 1_000:
        parser.error("--changes must be at least 1; --rows and --holdout at least 1000")
    return args


def modes() -> list[str]:
    """Gate modes this checkout's gate has: paired too once `gate.compare` exists."""
    return ["point", "paired"] if "compare" in GateParams.model_fields else ["point"]


def set_params(repo: Path, values: dict) -> None:
    """Set dotted params keys in params.yaml, keeping its comments."""
    yaml = YAML()
    path = repo / "params.yaml"
    doc = yaml.load(path.read_text())
    for dotted, value in values.items():
        *parents, key = dotted.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[key] = value
    with path.open("w") as f:
        yaml.dump(doc, f)


def commit(repo: Path, message: str) -> None:
    # params.yaml is staged by content: an edit keeps its size (ruamel keeps the comment
    # column) and lands in the same second as the checkout, so `git add` can take the
    # file for unchanged by its stat data and commit the base's params.
    blob = run(["git", "hash-object", "-w", "params.yaml"], repo).stdout.strip()
    run(["git", "update-index", "--cacheinfo", f"100644,{blob},params.yaml"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)
    left = run(["git", "status", "--porcelain", "--untracked-files=no"], repo).stdout
    if left:  # the next checkout would carry these edits into the next change
        raise RuntimeError(f"{repo}: not committed after '{message}':\n{left}")


def timed_run(cmd: list[str], repo: Path, ok: tuple[int, ...] = (0,)):
    started = time.perf_counter()
    result = run(cmd, repo, check=False)
    seconds = time.perf_counter() - started
    if result.returncode not in ok:
        raise RuntimeError(
            f"{shlex.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result, seconds


def make_base(workdir: Path, rows: int, gate_modes: list[str]) -> tuple[Path, float]:
    """The base repository, reproduced and committed; (repo, seconds of its `dvc repro`)."""
    repo = workdir / "repo"
    if repo.exists():  # a rerun in the same --workdir: a new repository, the same cache
        shutil.rmtree(repo)
    repo = make_template_repo(repo, rows)
    # One cache for every branch (and for a later run with the same --workdir).
    run(["dvc", "cache", "dir", str(workdir / "dvc-cache")], repo)
    if "paired" in gate_modes:
        set_params(repo, {"gate.compare": "point"})
    _, seconds = timed_run(["dvc", "repro", "-q"], repo)
    commit(repo, "base")
    if "paired" in gate_modes:
        run(["git", "checkout", "-q", "-b", BASES["paired"]], repo)
        set_params(repo, {"gate.compare": "paired"})
        commit(repo, "gate: paired comparison")
        run(["git", "checkout", "-q", "main"], repo)
    return repo, seconds


def true_metrics(repo: Path, holdout, y) -> dict[str, float]:
    """The committed model's metrics on the held-out sample: its quality, without noise."""
    scores = predict.scores(model.load(repo / MODEL_FILE), holdout)
    return classification_metrics(y, scores, threshold=0.5)


def failed_metrics(gate_stdout: str) -> list[str]:
    """The metrics (or problems) the gate's FAIL lines name."""
    return [ln.split()[1] for ln in gate_stdout.splitlines() if ln.startswith("  FAIL ")]


def measure_change(repo: Path, change: Change, gate_modes: list[str], base: dict, holdout) -> dict:
    run(["git", "checkout", "-q", "main"], repo)
    run(["dvc", "checkout", "-q"], repo)  # the base's outputs, from the cache
    run(["git", "checkout", "-q", "-b", change.name], repo)
    set_params(repo, change.params)
    _, repro_s = timed_run(["dvc", "repro", "-q"], repo)
    commit(repo, change.kind)
    test = json.loads((repo / METRICS_FILE).read_text())
    true = true_metrics(repo, *holdout)
    out = {
        "name": change.name,
        "group": change.group,
        "kind": change.kind,
        "params": change.params,
        "repro_s": repro_s,
        "test_delta": {m: test[m] - base["test"][m] for m in gate_changes.METRICS},
        "true_delta": {m: true[m] - base["true"][m] for m in gate_changes.METRICS},
        "gate": {},
    }
    for mode in gate_modes:
        base_rev = BASES[mode]
        _, report_s = timed_run([str(BIN / "ratchet"), "report", "--base", base_rev], repo)
        gate, gate_s = timed_run(
            [str(BIN / "ratchet"), "gate", "--base", base_rev], repo, ok=(0, 1)
        )
        out["gate"][mode] = {
            "passed": gate.returncode == 0,
            "failed": failed_metrics(gate.stdout),
            "report_s": report_s,
            "gate_s": gate_s,
        }
    return out


def allowances(repo: Path) -> dict[str, float]:
    rules = YAML(typ="safe").load((repo / "params.yaml").read_text())["gate"]["rules"]
    return {m: rules[m]["max_regression"] for m in gate_changes.METRICS}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render:
        return publish(json.loads(args.render.read_text()), args)
    # Each change edits its repository's own contract and params: nothing may point the
    # commands at another contract.
    os.environ.pop(ENV_VAR, None)
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    started = time.perf_counter()
    gate_modes = modes()
    run_info = {"date": report.now(), "command": "python -m benchmarks.gate " + shlex.join(argv)}
    holdout_table = sample.generate(args.holdout, seed=HOLDOUT_SEED)
    with tempfile.TemporaryDirectory(prefix="ratchet-gate-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        repo, base_repro_s = make_base(workdir, args.rows, gate_modes)
        target = contract.load(repo / CONTRACT_FILE).target
        y = holdout_table[target].to_numpy()
        holdout = (holdout_table, y)
        base = {
            "test": json.loads((repo / METRICS_FILE).read_text()),
            "true": true_metrics(repo, *holdout),
        }
        say(f"base: dvc repro {base_repro_s:.1f} s, modes {', '.join(gate_modes)}")
        results = []
        for change in gate_changes.plan(args.changes):
            r = measure_change(repo, change, gate_modes, base, holdout)
            verdicts = " ".join(
                f"{m} {'pass' if g['passed'] else 'FAIL ' + ','.join(g['failed'])}"
                for m, g in r["gate"].items()
            )
            say(f"{change.name} ({change.kind}): repro {r['repro_s']:.0f} s; {verdicts}")
            results.append(r)
        limits = allowances(repo)
    run_info["wall_s"] = time.perf_counter() - started
    run_info["base_repro_s"] = base_repro_s
    data = {
        "run": run_info,
        "rows": args.rows,
        "holdout": args.holdout,
        "modes": gate_modes,
        "allowances": limits,
        "base": base,
        "results": results,
        "median_repro_s": statistics.median(r["repro_s"] for r in results),
    }
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return publish(data, args)


def publish(data: dict, args: argparse.Namespace) -> int:
    text = gate_report.block(data, report.machine())
    print(text.split("\n", 1)[1].rsplit("\n", 1)[0].strip())
    report.write_page(args.output, text, gate_report.START, gate_report.END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
