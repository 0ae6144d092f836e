"""The model registry's rules, as pure functions over git tags in GTO's format.

Tags are the source of truth: `NAME@vX.Y.Z` registers a version at a commit,
`NAME#STAGE#N` assigns a stage to the version registered at the tagged commit (N is
GTO's per-artifact counter, so the highest N is the latest decision), `NAME#STAGE!#N`
unassigns, `NAME@vX.Y.Z!` deregisters. Nothing here runs git; `tags.py` does.

A rollback is an assignment whose annotated tag message reads
`Roll back STAGE from vA to vB`: the version the stage held just before it (vA) was
rolled back from, and no later rollback returns to it; only a deliberate promotion does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gto.constants import Action
from gto.tag import parse_name

from ratchet.core.errors import RatchetError

Kind = Literal["registration", "deregistration", "assignment", "unassignment"]
_KINDS: dict[Action, Kind] = {
    Action.REGISTER: "registration",
    Action.DEREGISTER: "deregistration",
    Action.ASSIGN: "assignment",
    Action.UNASSIGN: "unassignment",
}
VERSION_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_ROLLBACK_RE = re.compile(r"^Roll back (\S+) from (v\d+\.\d+\.\d+) to (v\d+\.\d+\.\d+)(?:\s|$)")


@dataclass(frozen=True)
class RawTag:
    """A git tag as `git for-each-ref` reports it."""

    name: str
    commit: str
    created: datetime
    message: str


@dataclass(frozen=True)
class Event:
    tag: str
    kind: Kind
    artifact: str
    version: str  # for stage events: the version registered at the tagged commit
    stage: str | None
    counter: int  # GTO's counter; registrations sort by time before any assignment
    commit: str
    created: datetime
    message: str


def parse_version(text: str) -> tuple[int, int, int]:
    match = VERSION_RE.match(text)
    if not match:
        raise RatchetError(f"version {text!r}: expected vMAJOR.MINOR.PATCH, e.g. v1.2.0")
    return int(match[1]), int(match[2]), int(match[3])


def artifacts(raw: list[RawTag]) -> list[str]:
    """The names of the artifacts that registry tags in GTO's format speak of, sorted."""
    names = set()
    for tag in raw:
        info = parse_name(tag.name, raise_on_fail=False)
        if info and info.get("action") in _KINDS:
            names.add(info["name"])
    return sorted(names)


def events(raw: list[RawTag], artifact: str) -> list[Event]:
    """The artifact's registry events, oldest first. Other tags are ignored."""
    parsed = []
    for tag in raw:
        info = parse_name(tag.name, raise_on_fail=False)
        if not info or info.get("name") != artifact or info.get("action") not in _KINDS:
            continue
        parsed.append((tag, info))
    version_at = {t.commit: i["version"] for t, i in parsed if i["action"] == Action.REGISTER}
    out = []
    for tag, info in parsed:
        kind = _KINDS[info["action"]]
        version = info.get("version") or version_at.get(tag.commit)
        if version is None:
            continue  # a stage tag on a commit with no registered version: not ours to judge
        out.append(
            Event(
                tag=tag.name,
                kind=kind,
                artifact=artifact,
                version=version,
                stage=info.get("stage"),
                counter=info.get("counter", 0),
                commit=tag.commit,
                created=tag.created,
                message=tag.message,
            )
        )
    return sorted(
        out,
        key=lambda e: (
            e.kind not in ("registration", "deregistration"),
            e.counter,
            e.created,
            e.tag,
        ),
    )


def versions(evts: list[Event]) -> dict[str, Event]:
    """Registered (and not deregistered) versions -> their registration event."""
    live: dict[str, Event] = {}
    for e in evts:
        if e.kind == "registration":
            live[e.version] = e
        elif e.kind == "deregistration":
            live.pop(e.version, None)
    return dict(sorted(live.items(), key=lambda kv: parse_version(kv[0])))


def stage_events(evts: list[Event], stage: str) -> list[Event]:
    return [e for e in evts if e.stage == stage and e.kind in ("assignment", "unassignment")]


def holder(evts: list[Event], stage: str) -> str | None:
    """The version a stage points at now: the latest assignment not since unassigned."""
    current: str | None = None
    for e in stage_events(evts, stage):
        if e.kind == "assignment":
            current = e.version
        elif e.version == current:
            current = None
    return current


def holders(evts: list[Event], stages: list[str]) -> dict[str, str | None]:
    return {s: holder(evts, s) for s in stages}


def latest(evts: list[Event]) -> str | None:
    live = versions(evts)
    return next(reversed(live)) if live else None


def next_version(evts: list[Event], bump: str | None, explicit: str | None) -> str:
    existing = list(versions(evts)) + [e.version for e in evts if e.kind == "deregistration"]
    if explicit is not None:
        parse_version(explicit)
        if explicit in existing:
            raise RatchetError(f"version {explicit} already exists; versions are immutable")
        newest = max(existing, key=parse_version, default=None)
        if newest is not None and parse_version(explicit) <= parse_version(newest):
            raise RatchetError(f"version {explicit} is not above the newest version {newest}")
        return explicit
    newest = max(existing, key=parse_version, default=None)
    if newest is None:
        return "v1.0.0"
    major, minor, patch = parse_version(newest)
    if bump == "major":
        return f"v{major + 1}.0.0"
    if bump == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    return f"v{major}.{minor + 1}.0"


def _left(evts: list[Event], stage: str, version: str) -> Event | None:
    """What ended the version's latest spell in the stage (None: never there, or still is)."""
    current: str | None = None
    left: Event | None = None
    for e in stage_events(evts, stage):
        before = current
        if e.kind == "assignment":
            current = e.version
        elif e.version == current:
            current = None
        if before == version and current != version:
            left = e
    return left


def check_promotion(evts: list[Event], version: str, stage: str, stages: list[str]) -> None:
    """Refuse anything but the next step of the promotion workflow.

    A version goes to a stage only from the stage before it, and only while it is still
    there: the version that stage holds now, not one it held once.
    """
    if stage not in stages:
        raise RatchetError(f"unknown stage {stage!r}; the stages are {' -> '.join(stages)}")
    if version not in versions(evts):
        known = ", ".join(versions(evts)) or "none"
        raise RatchetError(f"version {version} is not registered (registered: {known})")
    if holder(evts, stage) == version:
        raise RatchetError(f"version {version} is already in {stage}")
    position = stages.index(stage)
    if position == 0 or holder(evts, stages[position - 1]) == version:
        return
    previous = stages[position - 1]
    left = _left(evts, previous, version)
    if left is None:
        raise RatchetError(
            f"version {version} was never in {previous}: the registry enforces the promotion "
            f"workflow ({' -> '.join(stages)}), a model can't jump straight to {stage}"
        )
    how = (
        f"unassigned by {left.tag}"
        if left.kind == "unassignment"
        else f"replaced by {left.version}, {left.tag}"
    )
    raise RatchetError(
        f"version {version} is no longer in {previous} ({how}): only the version {previous} "
        f"holds now can go to {stage}; promote {version} to {previous} again first"
    )


def rollback_message(stage: str, current: str, target: str) -> str:
    """The message of a rollback's assignment tag: what marks it as a rollback."""
    return f"Roll back {stage} from {current} to {target}"


def is_rollback(event: Event) -> bool:
    match = _ROLLBACK_RE.match(event.message)
    return (
        event.kind == "assignment"
        and match is not None
        and (match[1], match[3]) == (event.stage, event.version)
    )


def rollback_target(evts: list[Event], stage: str) -> tuple[str, str]:
    """(current, target): the version the stage goes back to on a rollback.

    The target is the most recent version the stage held before its current one that
    has not left the stage since by a rollback or an unassignment, and is still
    registered. A deliberate promotion clears a version's rollback or unassignment.
    """
    current: str | None = None
    held: list[str] = []  # versions in the order the stage was assigned to them
    barred: dict[str, str] = {}  # version -> why a rollback must not return to it
    for e in stage_events(evts, stage):
        if e.kind == "unassignment":
            barred[e.version] = f"was unassigned by {e.tag}"
            if e.version == current:
                current = None
            continue
        if is_rollback(e) and current is not None and current != e.version:
            barred[current] = f"was rolled back from by {e.tag}"
        barred.pop(e.version, None)
        current = e.version
        held.append(e.version)
    if current is None:
        raise RatchetError(f"stage {stage!r} holds no version; nothing to roll back")
    live = versions(evts)
    skipped: dict[str, str] = {}
    for version in reversed(held):
        if version == current or version in skipped:
            continue
        if version in barred:
            skipped[version] = barred[version]
        elif version not in live:
            skipped[version] = "is deregistered"
        else:
            return current, version
    if not skipped:
        raise RatchetError(f"stage {stage!r} never held another version than {current}")
    reasons = "; ".join(f"{v} {why}" for v, why in skipped.items())
    raise RatchetError(
        f"stage {stage!r}: no version to roll back to from {current} ({reasons}); "
        f"a version that left {stage} returns only through `ratchet model promote`"
    )
