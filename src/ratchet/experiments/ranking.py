"""Rank DVC experiments under the gate's rules. Pure: `dvc exp show` data in, a table out.

The input is what `dvc exp show --json` prints (`ExpState.dumpd()` of DVC's Python API):
the baseline commit, and under it one entry per experiment with its params, metrics and
executor state (success, failed, queued, running). Each finished experiment is checked
with the gate's rules against the baseline, and ranked: experiments that would pass the
gate first, then by the ranking metric in its rule's direction (ties: by the gate's other
metrics). Failed experiments are listed with their error.

Everything here reads VALIDATION metrics (the train stage's `valid` section), never the
test split's (the gate's metrics file): picking the best of many runs by their test score
and then gating the winner on that same test split would reward luck on those rows. The
test split is left to the pull request's report and gate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams, MetricRule
from ratchet.review.rules import Check, check_all, fmt, fmt_delta, number

PARAMS_FILE = "params.yaml"
# Where the train stage logs validation metrics (ratchet.pipeline.train.VALID): the same
# names as the gate's metrics, nested under one key, so `dvc exp show` shows valid.roc_auc.
VALIDATION_METRICS = "metrics/train/metrics.json"
VALIDATION_SECTION = "valid"
# Lines of a failed run's log worth quoting, most specific first.
ERROR_PATTERNS = (
    re.compile(r"^ratchet [\w-]+: error: .*"),
    re.compile(r"^\w*(Error|Exception): .*"),
    re.compile(r"^ERROR: .*"),
)


@dataclass(frozen=True)
class Experiment:
    name: str
    rev: str
    state: str  # success, failed, queued, running
    params: dict[str, Any]  # flattened: train.max_depth -> 6
    metrics: dict[str, Any] | None  # validation metrics; None if missing or unreadable
    log: str | None = None  # a failed run's log file, if DVC kept one


@dataclass(frozen=True)
class Ranked:
    exp: Experiment
    value: float | None
    checks: list[Check] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True)
class Ranking:
    baseline: Experiment
    metric: str
    direction: Literal["higher", "lower"]
    ranked: list[Ranked]
    failed: list[tuple[Experiment, str]]  # with its error
    unfinished: list[Experiment]
    skipped: list[str] = field(default_factory=list)  # gate metrics with no validation value

    @property
    def winner(self) -> Ranked | None:
        """The best experiment that would pass the gate, if any."""
        return self.ranked[0] if self.ranked and self.ranked[0].passes else None


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted keys: {'train': {'seed': 1}} -> {'train.seed': 1}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _file_data(files: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
    result = (files or {}).get(path) or {}
    data = result.get("data")
    return data if isinstance(data, dict) and not result.get("error") else None


def _params(files: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(files or {}):
        data = _file_data(files, path) or {}
        prefix = "" if path == PARAMS_FILE else f"{path}:"
        out.update({f"{prefix}{k}": v for k, v in flatten(data).items()})
    return out


def _validation(files: dict[str, Any] | None) -> dict[str, Any] | None:
    section = (_file_data(files, VALIDATION_METRICS) or {}).get(VALIDATION_SECTION)
    return section if isinstance(section, dict) else None


def _experiment(state: dict[str, Any], name: str | None, status: str, log):
    data = state.get("data") or {}
    return Experiment(
        name=name or state.get("name") or str(state.get("rev", ""))[:7],
        rev=str(state.get("rev", "")),
        state=status,
        params=_params(data.get("params")),
        metrics=_validation(data.get("metrics")),
        log=log,
    )


def parse_show(dump: list[dict[str, Any]]) -> tuple[Experiment, list[Experiment]]:
    """The baseline (the first non-workspace entry) and the experiments derived from it,
    each with its validation metrics only."""
    baselines = [s for s in dump if s.get("rev") != "workspace"]
    if not baselines:
        raise RatchetError("dvc exp show: no baseline commit (is there a commit yet?)")
    base = baselines[0]
    baseline = _experiment(base, base.get("name"), "baseline", None)
    exps = []
    for exp_range in base.get("experiments") or []:
        revs = exp_range.get("revs") or []
        if not revs:
            continue
        executor = exp_range.get("executor") or {}
        status = executor.get("state") or "success"
        log = (executor.get("local") or {}).get("log")
        exps.append(_experiment(revs[0], exp_range.get("name"), status, log))
    return baseline, exps


def error_line(log_text: str | None) -> str:
    """The most telling line of a failed run's log."""
    lines = [line.strip() for line in (log_text or "").splitlines() if line.strip()]
    for pattern in ERROR_PATTERNS:
        hits = [line for line in lines if pattern.match(line)]
        if hits:
            return hits[-1] if pattern is not ERROR_PATTERNS[2] else hits[0]
    return "experiment run failed (no log kept: see its output, e.g. dvc queue logs NAME)"


def changed_params(exp: Experiment, baseline: Experiment) -> list[str]:
    """`key=value` for every param the experiment sets differently from the baseline."""
    return [
        f"{key}={_show(value)}"
        for key, value in sorted(exp.params.items())
        if baseline.params.get(key, object()) != value
    ]


def _show(value: Any) -> str:
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def rank(
    baseline: Experiment,
    experiments: list[Experiment],
    gate: GateParams,
    metric: str,
    direction: Literal["higher", "lower"],
    errors: dict[str, str],
) -> Ranking:
    """Rank finished experiments; `errors` maps a failed experiment's name to its error."""
    rules, skipped = _validated_rules(gate, [baseline, *experiments])
    if metric in skipped:
        raise RatchetError(
            f"--metric {metric!r} has no validation value (a binary task's thresholded metrics "
            f"are left to the gate on the test split): rank by one of {', '.join(rules)}"
        )
    ranked, failed, unfinished = [], [], []
    for exp in experiments:
        if exp.state == "failed":
            failed.append((exp, errors.get(exp.name, "experiment run failed")))
        elif exp.state in ("queued", "running"):
            unfinished.append(exp)
        else:
            value = number((exp.metrics or {}).get(metric))
            checks = check_all(rules, baseline.metrics, exp.metrics, exp.name)
            ranked.append(Ranked(exp, value, checks))

    # Ties on the ranking metric (common on small validation sets: macro_f1 of a few dozen
    # rows) go to the better value of the gate's other metrics, in their rules' order.
    tie_breaks = [(m, rule.direction) for m, rule in rules.items() if m != metric]

    def key(r: Ranked):
        values = [(r.value, direction)]
        values += [(number((r.exp.metrics or {}).get(m)), way) for m, way in tie_breaks]
        return (not r.passes, *(k for v, way in values for k in _order(v, way)), r.exp.name)

    return Ranking(
        baseline=baseline,
        metric=metric,
        direction=direction,
        ranked=sorted(ranked, key=key),
        failed=sorted(failed, key=lambda f: f[0].name),
        unfinished=sorted(unfinished, key=lambda e: e.name),
        skipped=skipped,
    )


def _validated_rules(
    gate: GateParams, runs: list[Experiment]
) -> tuple[dict[str, MetricRule], list[str]]:
    """The gate's rules whose metric some run has a validation value of, and the others
    (a binary task's thresholded metrics: the train stage does not read the threshold).
    With no validation metrics anywhere every rule stays, and every run fails as missing."""
    seen = {name for run in runs for name in (run.metrics or {})}
    if not seen:
        return dict(gate.rules), []
    kept = {m: rule for m, rule in gate.rules.items() if m in seen}
    return kept, [m for m in gate.rules if m not in seen]


def _order(value: float | None, direction: str) -> tuple[bool, float]:
    """Sort key of one metric value: best first, missing last."""
    if value is None:
        return (True, 0.0)
    return (False, -value if direction == "higher" else value)


def ranking_rule(gate: GateParams, metric: str | None, direction: str | None) -> tuple[str, str]:
    """The metric to rank by and which way is better: from its gate rule unless given."""
    name = metric or gate.primary
    rule: MetricRule | None = gate.rules.get(name)
    if direction:
        return name, direction
    if rule is None:
        raise RatchetError(
            f"--metric {name!r} has no rule in gate.rules: say which way is better with --direction"
        )
    return name, rule.direction


METRIC_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
ORDER = {"higher": "desc", "lower": "asc"}  # `dvc exp show --sort-order` of each direction


def sort_key(gate: GateParams, metric: str | None, order: str | None) -> tuple[str, str]:
    """`dvc exp show --sort-by/--sort-order` values that list the best experiment first: the
    validation twin of `gate.primary` (or `metric`), in its rule's direction unless `order`
    (asc, desc) is given."""
    name = metric or gate.primary
    if not METRIC_NAME.match(name):
        raise RatchetError(f"--metric {name!r}: a metric name is letters, digits and _ . -")
    if order is None and name not in gate.rules:
        raise RatchetError(
            f"--metric {name!r} has no rule in gate.rules: say which way is better with "
            "--order asc or desc (make exps: ORDER=)"
        )
    column = f"{VALIDATION_METRICS}:{VALIDATION_SECTION}.{name}"
    return column, order or ORDER[gate.rules[name].direction]


def markdown(r: Ranking, gate: GateParams, title: str) -> str:
    """The ranking as Markdown: readable in a terminal and in a GitHub job summary."""
    columns = [r.metric, *(m for m in gate.rules if m != r.metric and m not in r.skipped)]
    base = r.baseline
    out = [f"### {title}", ""]
    out.append(
        f"{len(r.ranked)} finished, {len(r.failed)} failed, {len(r.unfinished)} not finished; "
        f"ranked by validation **{r.metric}** ({r.direction} is better); gate: the rules of "
        f"`gate.rules` on validation metrics against the baseline's. The test split is not "
        f"read: the pull request's gate scores it."
    )
    if r.skipped:
        out.append(
            f"Not checked on validation (thresholded; the gate checks them on the test split): "
            f"{', '.join(r.skipped)}."
        )
    if base.metrics is None:
        out.append(
            f"The baseline has no validation metrics (`{VALIDATION_METRICS}`, "
            f"`{VALIDATION_SECTION}`): only floors and ceilings apply."
        )
    out += ["", "| # | experiment | gate | " + " | ".join(columns) + " | params changed |"]
    out.append("| ---: | --- | --- | " + " | ".join("---:" for _ in columns) + " | --- |")
    base_values = [fmt(number((base.metrics or {}).get(m))) for m in columns]
    out.append(f"|  | baseline `{base.rev[:7]}` |  | " + " | ".join(base_values) + " |  |")
    for i, item in enumerate(r.ranked, start=1):
        cells = []
        for m in columns:
            value = number((item.exp.metrics or {}).get(m))
            delta = None
            if value is not None and number((base.metrics or {}).get(m)) is not None:
                delta = value - number(base.metrics[m])
            cells.append(fmt(value) if delta is None else f"{fmt(value)} ({fmt_delta(delta)})")
        name = f"**{item.exp.name}**" if item is r.winner else item.exp.name
        verdict = "pass" if item.passes else "FAIL"
        params_text = " ".join(f"`{p}`" for p in changed_params(item.exp, base))
        out.append(f"| {i} | {name} | {verdict} | " + " | ".join(cells) + f" | {params_text} |")
    out.append("")
    if r.winner:
        w = r.winner
        out.append(f"**Best: {w.exp.name}** ({r.metric} {fmt(w.value)}, rev `{w.exp.rev[:7]}`).")
        base_value = number((base.metrics or {}).get(r.metric))
        if (
            base_value is not None
            and w.value is not None
            and not _better(w.value, base_value, r.direction)
        ):
            out.append(f"It does not improve on the baseline's {r.metric} ({fmt(base_value)}).")
    elif r.ranked:
        out.append("No experiment would pass the gate against the baseline.")
    else:
        out.append("No experiment finished.")
    failing = [i for i in r.ranked if not i.passes]
    if failing:
        out += ["", "Gate failures:"]
        for item in failing:
            reasons = "; ".join(
                f"{c.metric} {'; '.join(c.failures)}" for c in item.checks if c.failures
            )
            out.append(f"- {item.exp.name}: {reasons}")
    if r.failed:
        out += ["", f"Failed experiments ({len(r.failed)}):"]
        for exp, error in r.failed:
            params_text = " ".join(changed_params(exp, base)) or "no params changed"
            out.append(f"- {exp.name} ({params_text}): {error}")
    if r.unfinished:
        out += ["", f"Not finished ({len(r.unfinished)}; see `dvc queue status`):"]
        out += [f"- {exp.name}: {exp.state}" for exp in r.unfinished]
    return "\n".join(out) + "\n"


def _better(value: float, base: float, direction: str) -> bool:
    return value > base if direction == "higher" else value < base
