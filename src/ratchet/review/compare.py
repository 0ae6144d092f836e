"""Gather what the gate and the report compare: this change's pipeline results against
what the base revision committed, under the base revision's rules.

Trust boundary: the base's rules and metrics come from git (`gitrev.show`), never from the
working tree, which the change under review controls. This change's metrics come from the
working tree, and are trusted only if they are what the committed pipeline produces:
`dvc status` must be clean (the outputs match their inputs) and the working tree's
`dvc.lock` and git-tracked outputs must equal the commit's (CI ran `dvc repro` and nothing
moved). Together: the metrics compared are the ones CI just reproduced from the commit.

Paired (`gate.compare: paired`, the default): the base's model and train split come from
the DVC cache at the base commit (or its reproduction there, `ratchet.review.baseline`),
never from the working tree; both models score this change's test rows that neither was
trained on, and the regression limits are judged on that pair and its intervals.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ratchet.core import gitrev, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams
from ratchet.dataset.contract import CONTRACT_FILE
from ratchet.review import paired
from ratchet.review.paired import Pairing
from ratchet.review.rules import Check, check_all, fmt

LOCK = "dvc.lock"
DVC_YAML = "dvc.yaml"
STALE_HINT = "run dvc repro and commit"


@dataclass
class Comparison:
    base_rev: str
    base_sha: str
    head_sha: str
    params_path: str
    gate: GateParams
    rules_from_base: bool  # False: the base has no gate section (first pull request)
    rules_changed: bool  # the change edits the gate section (it applies after merge)
    base_params: dict[str, Any]
    current_params: dict[str, Any]
    base_metrics: dict[str, Any] | None  # None: the base has no metrics file yet
    current_metrics: dict[str, Any] | None  # None: this change has no metrics file
    stale: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    # Why the base's metrics are not comparable (another dataset); None: they are.
    dataset_switch: str | None = None
    # The paired comparison (or its fallback note); None: point comparison chosen, or
    # nothing to pair with (first run, new dataset).
    pairing: Pairing | None = None

    @property
    def passed(self) -> bool:
        return not self.stale and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[str]:
        """One phrase per problem, stale results first: what the verdict line names."""
        lines = list(self.stale)
        for c in self.checks:
            if c.failures:
                base, current = c.compared
                values = "" if current is None else f" {fmt(current)}"
                if base is not None and current is not None:
                    values = f" {fmt(base)} → {fmt(current)}"
                lines.append(f"{c.metric}{values}: {'; '.join(c.failures)}")
        return lines


def parse_json_object(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RatchetError(f"{source}: cannot read JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RatchetError(f"{source}: expected a JSON object of metrics")
    return data


def read_current(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise RatchetError(f"{path}: cannot read ({exc})") from None


def git_tracked_outputs(dvc_yaml: dict[str, Any]) -> list[str]:
    """Stage outputs kept in git (`cache: false`): they must match the commit too."""
    paths = []
    for stage in (dvc_yaml.get("stages") or {}).values():
        for kind in ("outs", "metrics", "plots"):
            for out in stage.get(kind) or []:
                if isinstance(out, dict):
                    ((path, opts),) = out.items()
                    if isinstance(opts, dict) and opts.get("cache") is False:
                        paths.append(path)
    return sorted(paths)


def pipeline_changes() -> list[str]:
    """Stages `dvc status` reports as not up to date (empty: outputs match inputs)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(os.getcwd()) as repo:
            return sorted(repo.status())
    except DvcException as exc:
        raise RatchetError(f"dvc status: {' '.join(str(exc).split())}") from None


def stale_results() -> list[str]:
    """Why this change's results are not the ones its commit produces (empty: they are)."""
    problems = []
    changes = pipeline_changes()
    if changes:
        names = ", ".join(s.split(":")[-1] for s in changes)
        problems.append(f"pipeline is not up to date (dvc status: {names}): {STALE_HINT}")
    dvc_yaml = params.parse_yaml(read_current(DVC_YAML) or "", DVC_YAML)
    differ = gitrev.changed([LOCK, *git_tracked_outputs(dvc_yaml)])
    if LOCK in differ:
        problems.append(f"{LOCK} is stale: {STALE_HINT}")
    outputs = [p for p in differ if p != LOCK]
    if outputs:
        shown = ", ".join(outputs[:3]) + (
            f" and {len(outputs) - 3} more" if len(outputs) > 3 else ""
        )
        problems.append(
            f"committed pipeline outputs differ from the pipeline's ({shown}): {STALE_HINT}"
        )
    return problems


def choose_rules(
    base_params: dict[str, Any], current_params: dict[str, Any], base_source: str, path: str
) -> tuple[GateParams, bool]:
    """The base's gate rules; the change's only when the base has none (first pull request)."""
    if "gate" in base_params:
        rules = params.parse_section("gate", GateParams, base_params, base_source)
        source = base_source
        from_base = True
    else:
        rules = params.parse_section("gate", GateParams, current_params, path)
        source = path
        from_base = False
    if rules.primary not in rules.rules:
        raise RatchetError(f"{source}: 'gate.primary' is {rules.primary!r}, which has no rule")
    return rules, from_base


# What makes two metrics files incomparable: another dataset, label or task.
IDENTITY = ("name", "target", "task", "labels")


def dataset_switch(base_text: str | None, current_text: str | None) -> str | None:
    """Why base and change measure different datasets, from their contracts; None: same.

    Only the dataset's identity counts: a new column, bound or feature is an ordinary
    change whose effect on the metrics the gate should judge.
    """
    if base_text is None and current_text is None:
        return None
    if base_text is None:
        return "the base has no dataset contract"
    if current_text is None:
        return "this change removes the dataset contract"
    try:
        base, current = yaml.safe_load(base_text), yaml.safe_load(current_text)
    except yaml.YAMLError:
        return "the base's dataset contract cannot be read"
    if not isinstance(base, dict) or not isinstance(current, dict):
        return "a dataset contract is not a mapping"
    changed = [
        f"{key} {base.get(key)!r} → {current.get(key)!r}"
        for key in IDENTITY
        if base.get(key) != current.get(key)
    ]
    return "dataset changed: " + ", ".join(changed) if changed else None


def collect(base: str, params_path: str = params.PARAMS_FILE) -> Comparison:
    base_sha = gitrev.resolve(base, name=f"--base {base}")
    head_sha = gitrev.head()
    current_params = params.read_yaml(params_path)
    base_source = f"{base}:{params_path}"
    base_text = gitrev.show(base_sha, params_path)
    base_params = params.parse_yaml(base_text or "", base_source)
    switch = dataset_switch(gitrev.show(base_sha, CONTRACT_FILE), read_current(CONTRACT_FILE))
    if switch:
        # The base's rules and metrics describe other data: this change's rules apply,
        # with no regression limits (a new baseline), and the report asks for a review.
        gate, from_base = choose_rules({}, current_params, base_source, params_path)
    else:
        gate, from_base = choose_rules(base_params, current_params, base_source, params_path)
    rules_changed = from_base and base_params.get("gate") != current_params.get("gate")

    path = gate.metrics
    base_text = gitrev.show(base_sha, path)
    base_metrics = None if base_text is None else parse_json_object(base_text, f"{base}:{path}")
    compared = None if switch else base_metrics
    current_text = read_current(path)
    current_metrics = None if current_text is None else parse_json_object(current_text, path)
    stale = stale_results()
    pairing = None
    if gate.compare == "paired" and compared is not None and current_metrics is not None:
        pairing = pair_or_note(base_sha, gate, current_params, params_path, stale)
    deltas = pairing.deltas if pairing is not None else {}
    return Comparison(
        base_rev=base,
        base_sha=base_sha,
        head_sha=head_sha,
        params_path=params_path,
        gate=gate,
        rules_from_base=from_base,
        rules_changed=rules_changed,
        base_params=base_params,
        current_params=current_params,
        base_metrics=base_metrics,
        current_metrics=current_metrics,
        stale=stale,
        checks=check_all(gate.rules, compared, current_metrics, path, deltas),
        dataset_switch=switch,
        pairing=pairing,
    )


def pair_or_note(
    base_sha: str, gate: GateParams, current_params: dict[str, Any], path: str, stale: list[str]
) -> Pairing:
    """The paired comparison; any reason it cannot be made becomes the fallback note."""
    if stale:
        return Pairing(note="this change's results are stale")
    try:
        return paired.pair(base_sha, gate, current_params, path)
    except RatchetError as exc:
        return Pairing(note=str(exc))
