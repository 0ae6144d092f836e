"""`ratchet exp ...`: expand sweep grids, and rank experiments under the gate's rules.

`ratchet exp grid` prints the sweep's combinations (for `dvc exp run --queue` or a GitHub
Actions matrix); `ratchet exp sort` says how `make exps` sorts (the validation value of the
gate's primary metric, best first, whatever the task); `ratchet exp best` ranks the
experiments of the current commit (what `dvc exp show` lists) on validation metrics and can
turn the winner into a git branch, so it goes through the same pull-request gate, on the
untouched test split, as any other change.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams, SweepParams
from ratchet.experiments import ranking, sweep


def _grids(args: argparse.Namespace, doc: dict[str, Any]) -> list[sweep.Grid]:
    if args.specs:
        return [sweep.from_specs(args.specs)]
    return params.parse_section("sweep", SweepParams, doc, args.params).grids


def _task() -> str | None:
    """The dataset's task, so a grid is checked against it; None without a readable contract
    (the pipeline's validate stage says what is wrong with it)."""
    from ratchet.dataset import contract

    try:
        return contract.current().task
    except RatchetError:
        return None


def grid(args: argparse.Namespace) -> int:
    doc = params.read_yaml(args.params)
    grids = _grids(args, doc)
    sweep.check(grids, doc, str(args.params), _task())
    if args.format == "matrix":
        print(json.dumps(sweep.matrix(grids, args.prefix), separators=(",", ":")))
    elif args.format == "dvc":
        for g in grids:
            print(" ".join(sweep.dvc_args(g)))
    else:
        combos = [c for g in grids for c in sweep.combos(g)]
        for i, combo in enumerate(combos, start=1):
            print(f"{i:>3}  {' '.join(combo.overrides())}")
        print(f"{len(combos)} experiments in {len(grids)} grid(s)")
    return 0


def _exp_show(root: str) -> list[dict[str, Any]]:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(root) as repo:
            return [state.dumpd() for state in repo.experiments.show(hide_workspace=True)]
    except DvcException as exc:
        raise RatchetError(f"dvc exp show: {' '.join(str(exc).split())}") from None


def _read_log(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _missing(
    matrix_path: str, logs: str | None, exps: list[ranking.Experiment], baseline
) -> list[ranking.Experiment]:
    """Matrix entries that produced no experiment: their runs failed (a CI sweep)."""
    matrix = io.read_json(matrix_path)
    entries = matrix.get("include") if isinstance(matrix, dict) else None
    if not isinstance(entries, list):
        raise RatchetError(f"{matrix_path}: expected a GitHub Actions matrix with 'include'")
    found = {e.name for e in exps}
    missing = []
    for entry in entries:
        name = str(entry.get("name", ""))
        if name in found:
            continue
        overrides = dict(sweep.parse_spec(p) for p in str(entry.get("params", "")).split())
        log = str(Path(logs) / f"{name}.log") if logs else None
        missing.append(
            ranking.Experiment(
                name=name,
                rev="",
                state="failed",
                params={**baseline.params, **{k: v[0] for k, v in overrides.items()}},
                metrics=None,
                log=log,
            )
        )
    return missing


def _branch(root: str, exp: ranking.Experiment, name: str) -> None:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(root) as repo:
            repo.experiments.branch(exp.rev, name)
    except DvcException as exc:
        raise RatchetError(f"--branch {name}: {' '.join(str(exc).split())}") from None


def best(args: argparse.Namespace) -> int:
    root = os.getcwd()
    gate = params.section("gate", GateParams, args.params)
    metric, direction = ranking.ranking_rule(gate, args.metric, args.direction)
    baseline, exps = ranking.parse_show(_exp_show(root))
    exps = [e for e in exps if e.name.startswith(args.prefix or "")]
    if args.matrix:
        exps += _missing(args.matrix, args.logs, exps, baseline)
    if not exps:
        raise RatchetError(
            f"no experiments on this commit ({baseline.rev[:7]}) to rank: "
            "run some (dvc exp run, make sweep) or fetch them (dvc exp pull origin)"
        )
    errors = {e.name: ranking.error_line(_read_log(e.log)) for e in exps if e.state == "failed"}
    ranked = ranking.rank(baseline, exps, gate, metric, direction, errors)
    title = f"Experiments on {baseline.name or baseline.rev[:7]}"
    text = ranking.markdown(ranked, gate, title)
    print(text, end="")
    if args.output:
        io.write_text(args.output, text)
    if args.branch:
        if ranked.winner is None:
            raise RatchetError(
                f"--branch {args.branch}: no experiment would pass the gate; nothing to branch"
            )
        _branch(root, ranked.winner.exp, args.branch)
        print(
            f"\nbranch {args.branch} holds {ranked.winner.exp.name} "
            f"({ranked.winner.exp.rev[:7]}): git push origin {args.branch}, then open a pull "
            "request; the pipeline workflow gates it like any change"
        )
    # Non-zero when something needs a look: a failed run, or no experiment passes the gate.
    return 0 if ranked.winner and not ranked.failed else 1


def sort(args: argparse.Namespace) -> int:
    gate = params.section("gate", GateParams, args.params)
    print(" ".join(ranking.sort_key(gate, args.metric, args.order)))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    g = sub.add_parser("grid", help="expand the sweep grids (params.yaml: sweep, or KEY=V1,V2)")
    g.set_defaults(handler=grid)
    g.add_argument(
        "specs", nargs="*", metavar="KEY=V1,V2", help="one grid instead of params.yaml's"
    )
    g.add_argument(
        "--format",
        choices=["list", "dvc", "matrix"],
        default="list",
        help="list: one line per experiment; dvc: `dvc exp run --queue` args per grid; "
        "matrix: GitHub Actions matrix JSON",
    )
    g.add_argument("--prefix", default="grid", help="matrix experiment names: PREFIX-N")

    b = sub.add_parser(
        "best", help="rank this commit's experiments on validation metrics under the gate's rules"
    )
    b.set_defaults(handler=best)
    b.add_argument("--metric", help="rank by this metric (default: gate.primary)")
    b.add_argument(
        "--direction",
        choices=["higher", "lower"],
        help="which way is better, for a metric without a gate rule",
    )
    b.add_argument("--prefix", help="only experiments whose name starts with PREFIX")
    b.add_argument("--branch", metavar="NAME", help="create git branch NAME from the winner")
    b.add_argument(
        "--matrix",
        help="the sweep's matrix JSON: entries with no experiment are reported as failed",
    )
    b.add_argument("--logs", help="with --matrix: directory of NAME.log files of failed runs")
    b.add_argument("-o", "--output", help="also write the table (Markdown) to this file")

    s = sub.add_parser(
        "sort",
        help="print `dvc exp show` sorting, best first: METRICS_FILE:valid.METRIC asc|desc "
        "(default: gate.primary's validation value in its rule's direction; what `make exps` "
        "sorts by)",
    )
    s.set_defaults(handler=sort)
    s.add_argument("--metric", help="sort by this metric (default: gate.primary)")
    s.add_argument(
        "--order", choices=["asc", "desc"], help="needed for a metric without a gate rule"
    )


def command(args: argparse.Namespace) -> int:
    return args.handler(args)
