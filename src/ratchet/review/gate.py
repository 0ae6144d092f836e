"""`ratchet gate`: pass or fail this change against the base revision's rules.

Exit 0 when every rule passes, 1 when any fails (or the results are stale), 2 on a usage
or data error. CI runs it after `dvc repro` and `ratchet report`.
"""

from __future__ import annotations

import argparse

from ratchet.review import compare
from ratchet.review.compare import Comparison
from ratchet.review.rules import Check, describe, fmt, fmt_delta, fmt_interval


def values(c: Check) -> str:
    """base -> this change (Δ), with the paired interval and its method when paired."""
    base, current = c.compared
    out = f"{fmt(base)} -> {fmt(current)} ({fmt_delta(c.delta)}"
    if c.paired is not None:
        out += f" {fmt_interval(c.paired)} {c.paired.method}"
    return out + ")"


def lines(cmp: Comparison) -> list[str]:
    """What the gate prints: one line per rule, then notes, then the verdict."""
    where = "base" if cmp.rules_from_base else "this change (the base has none)"
    if cmp.dataset_switch:
        where = "this change (new dataset)"
    out = [
        f"gate: {cmp.base_rev} ({cmp.base_sha[:7]}) -> this change ({cmp.head_sha[:7]}); "
        f"rules from {where}"
    ]
    width = max(len(c.metric) for c in cmp.checks)
    for c in cmp.checks:
        status = "PASS" if c.passed else "FAIL"
        why = "; ".join(c.failures) if c.failures else describe(c.rule)
        out.append(f"  {status} {c.metric:<{width}}  {values(c)}  {why}")
    out += [f"  FAIL {problem}" for problem in cmp.stale]
    if cmp.pairing is not None:
        out.append(f"note: {cmp.pairing.summary(cmp.base_sha)}")
    if cmp.dataset_switch:
        out.append(
            f"note: new baseline: {cmp.dataset_switch}; regression limits skipped, floors and "
            "ceilings apply (review the dataset switch and this change's gate rules)"
        )
    elif cmp.base_metrics is None:
        out.append(
            f"note: {cmp.base_rev} has no {cmp.gate.metrics} (first run): "
            "regression limits skipped, floors and ceilings still apply"
        )
    if cmp.rules_changed:
        out.append(
            "note: gate rules changed in this change; it is checked under the base's rules "
            "(review the change to 'gate' in params.yaml)"
        )
    failed = sum(not c.passed for c in cmp.checks)
    verdict = "PASS" if cmp.passed else "FAIL"
    stale = ", results stale" if cmp.stale else ""
    out.append(
        f"gate: {verdict} ({len(cmp.checks) - failed} of {len(cmp.checks)} rules pass{stale})"
    )
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="git revision to compare with (e.g. main)")


def command(args: argparse.Namespace) -> int:
    cmp = compare.collect(args.base, args.params)
    print("\n".join(lines(cmp)))
    return 0 if cmp.passed else 1
