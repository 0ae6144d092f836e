"""`ratchet model ...`: register, promote, roll back, list, inspect and fetch versions.

Every decision is a new git tag in GTO's format; no tag is ever moved or deleted once
published. With --push the tag goes to the remote at once, after a fresh fetch of the
remote's tags, so two people deciding at the same time cannot both win.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

from gto import api as gto

from ratchet.core import gitrev, io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams, RegistryParams
from ratchet.registry import artifact, events, loading, modelcard, tags
from ratchet.review import rules


class Context:
    """The repository, its registry config, and the artifact's events, read once."""

    def __init__(self, args: argparse.Namespace, *, sync: bool = False) -> None:
        self.root = tags.toplevel(".")
        self.cfg = params.section("registry", RegistryParams, self.root / args.params)
        self.artifact = artifact.declared(self.root)
        self.push = bool(getattr(args, "push", False))
        remote = tags.has_remote(self.root, self.cfg.remote)
        if self.push and not remote:
            raise RatchetError(f"--push: no git remote named {self.cfg.remote!r}")
        if (self.push or sync) and remote:
            # Decide on the remote's latest state, not on a stale local copy.
            tags.fetch_tags(self.root, self.cfg.remote)
        self.events = events.events(tags.list_tags(self.root), self.artifact.name)

    def publish(self, tag: str) -> None:
        if self.push:
            tags.push_tag(self.root, tag, self.cfg.remote)
            print(f"pushed {tag} to {self.cfg.remote}")
        else:
            print(f"to publish it: git push {self.cfg.remote} '{tag}'  (or use --push)")


def _registered_at(ctx: Context, commit: str) -> str | None:
    for version, event in events.versions(ctx.events).items():
        if event.commit == commit:
            return version
    return None


def _check_consistent(ctx: Context, commit: str, head: str) -> None:
    """The commit's dvc.lock must describe its outputs, and the model must be fetchable."""
    if commit == head:
        dirty = tags.dirty_files(ctx.root)
        if dirty:
            raise RatchetError(
                f"working tree has uncommitted changes ({', '.join(dirty[:5])}); "
                "commit or stash them before registering HEAD"
            )
        from dvc.repo import Repo

        with Repo(str(ctx.root)) as repo:
            changed = repo.status()
        if changed:
            stale = ", ".join(sorted(changed))
            raise RatchetError(f"dvc.lock is stale for stages {stale}: run dvc repro and commit")
    ref = loading.ModelRef(ctx.artifact.name, "(new)", commit, ctx.artifact.path)
    loading.model_bytes(ctx.root, ref)


def _check_gate(ctx: Context, commit: str) -> str:
    """The candidate must pass its gate rules against the latest registered version.

    Each version can only move the model forward (or hold it within the allowed
    regression); the first version must clear the floors and ceilings.
    """
    source = f"{commit[:12]}:params.yaml"
    cfg = params.parse_yaml(gitrev.show(commit, "params.yaml", repo=ctx.root) or "", source)
    gate = params.parse_section("gate", GateParams, cfg, source)
    text = gitrev.show(commit, gate.metrics, repo=ctx.root)
    current = None if text is None else json.loads(text)
    previous = events.latest(ctx.events)
    base = None
    if previous is not None:
        base_text = gitrev.show(
            events.versions(ctx.events)[previous].commit, gate.metrics, repo=ctx.root
        )
        base = None if base_text is None else json.loads(base_text)
    failed = [c for c in rules.check_all(gate.rules, base, current, gate.metrics) if not c.passed]
    against = f"the latest version {previous}" if previous else "the gate's floors and ceilings"
    if failed:
        reasons = "; ".join(f"{c.metric}: {', '.join(c.failures)}" for c in failed)
        raise RatchetError(f"commit {commit[:12]} fails the gate against {against}: {reasons}")
    return against


def register(args: argparse.Namespace) -> int:
    ctx = Context(args)
    head = gitrev.resolve("HEAD", repo=ctx.root)
    commit = gitrev.resolve(args.rev, repo=ctx.root)
    if not tags.on_branch(ctx.root, commit, ctx.cfg.branch):
        raise RatchetError(
            f"commit {commit[:12]} is not on branch {ctx.cfg.branch!r}: register merged work only"
        )
    existing = _registered_at(ctx, commit)
    if existing:
        raise RatchetError(f"commit {commit[:12]} is already registered as {existing}")
    _check_consistent(ctx, commit, head)
    against = _check_gate(ctx, commit)
    version = events.next_version(ctx.events, args.bump or ctx.cfg.default_bump, args.version)
    card = modelcard.short(ctx.artifact.name, version, modelcard.facts(ctx.root, commit))
    tag = f"{ctx.artifact.name}@{version}"
    _after_last_event(ctx)
    gto.register(str(ctx.root), ctx.artifact.name, commit, version=version, message=card)
    print(f"registered {ctx.artifact.name} {version} at {commit[:12]} (tag {tag})")
    print(f"gate: passed against {against}")
    ctx.publish(tag)
    return 0


def _after_last_event(ctx: Context) -> None:
    """Wait, if need be, until the clock is past the newest registry tag's second.

    Tag dates have one-second resolution and GTO orders decisions by date: two decisions
    in the same second could read back in either order.
    """
    if ctx.events:
        newest = max(e.created for e in ctx.events)
        delay = newest.timestamp() + 1.0 - time.time()
        if delay > 0:
            time.sleep(delay)


def _assign(ctx: Context, version: str, stage: str, message: str) -> str:
    _after_last_event(ctx)
    before = {t.name for t in tags.list_tags(ctx.root)}
    # force: GTO would refuse to re-assign a version a stage held before (a rollback, or a
    # deliberate return to a version rolled back from).
    gto.assign(
        str(ctx.root), ctx.artifact.name, stage, version=version, message=message, force=True
    )
    (created,) = {t.name for t in tags.list_tags(ctx.root)} - before
    return created


def promote(args: argparse.Namespace) -> int:
    ctx = Context(args)
    events.check_promotion(ctx.events, args.version, args.to, ctx.cfg.stages)
    previous = events.holder(ctx.events, args.to)
    tag = _assign(ctx, args.version, args.to, f"Promote {args.version} to {args.to}")
    print(f"{args.to}: {previous or '(none)'} -> {args.version} (tag {tag})")
    ctx.publish(tag)
    return 0


def rollback(args: argparse.Namespace) -> int:
    ctx = Context(args)
    if args.stage not in ctx.cfg.stages:
        raise RatchetError(f"unknown stage {args.stage!r}; the stages are {ctx.cfg.stages}")
    current, previous = events.rollback_target(ctx.events, args.stage)
    message = events.rollback_message(args.stage, current, previous)
    tag = _assign(ctx, previous, args.stage, message)
    print(f"{args.stage}: {current} -> {previous} (rollback, tag {tag})")
    ctx.publish(tag)
    return 0


def _metrics_at(ctx: Context, commit: str) -> str:
    try:
        f = modelcard.facts(ctx.root, commit)
    except RatchetError:
        return "(no metrics)"
    return modelcard.headline(f.metrics, f.task)


def list_versions(args: argparse.Namespace) -> int:
    ctx = Context(args)
    live = events.versions(ctx.events)
    held = events.holders(ctx.events, ctx.cfg.stages)
    if not live:
        print(f"{ctx.artifact.name}: no versions registered")
        return 0
    print(f"{ctx.artifact.name}   stages: " + "  ".join(f"{s}={v or '-'}" for s, v in held.items()))
    for version, event in reversed(live.items()):
        stages = ",".join(s for s, v in held.items() if v == version) or "-"
        print(
            f"{version:<10} {stages:<16} {event.created:%Y-%m-%d %H:%M} {event.commit[:12]}  "
            f"{_metrics_at(ctx, event.commit)}"
        )
    return 0


def history(args: argparse.Namespace) -> int:
    root = tags.toplevel(".")
    raw = tags.list_tags(root)
    name = args.name or artifact.declared(root).name
    evts = events.events(raw, name)
    if not evts:
        known = events.artifacts(raw)
        if name not in known:
            try:
                artifact.declared(root, name=name)
            except RatchetError:
                raise RatchetError(
                    f"no artifact named {name!r}: no registry tag names it and dvc.yaml does "
                    f"not declare it (artifacts with tags: {', '.join(known) or 'none'})"
                ) from None
        print(f"{name}: no registry events")
    for e in reversed(evts):
        what = e.kind if e.stage is None else f"{e.kind} {e.stage}"
        if events.is_rollback(e):
            what += " (rollback)"
        print(f"{e.created:%Y-%m-%d %H:%M:%S}  {e.version:<10} {what:<24} {e.tag}")
    return 0


def card(args: argparse.Namespace) -> int:
    ctx = Context(args)
    live = events.versions(ctx.events)
    if args.version not in live:
        raise RatchetError(f"version {args.version} is not registered")
    event = live[args.version]
    held = [s for s, v in events.holders(ctx.events, ctx.cfg.stages).items() if v == args.version]
    text = modelcard.markdown(
        ctx.artifact.name,
        args.version,
        modelcard.facts(ctx.root, event.commit),
        registered=f"{event.created:%Y-%m-%d %H:%M %Z}",
        stages=held,
    )
    if args.output:
        io.write_text(args.output, text)
    else:
        print(text, end="")
    return 0


def get(args: argparse.Namespace) -> int:
    root = tags.toplevel(".")
    ref = loading.resolve(root, version=args.version, stage=args.stage, latest=args.latest)
    data = loading.model_bytes(root, ref)
    with io.atomic_path(args.output) as tmp:
        tmp.write_bytes(data)
    print(f"{ref.name} {ref.version} ({ref.commit[:12]}) -> {args.output}")
    if args.info:
        info = modelcard.summary(root, ref.name, ref.version, ref.commit, ref.stage)
        io.write_json(args.info, {**info, "md5": hashlib.md5(data).hexdigest()})
        print(f"what it is (for ratchet serve --info) -> {args.info}")
    return 0


def tag_info(args: argparse.Namespace) -> int:
    """What a pushed tag means, as `key=value` lines (the tag workflow's step outputs)."""
    ctx = Context(args)
    event = next((e for e in ctx.events if e.tag == args.tag), None)
    if event is None:
        raise RatchetError(
            f"tag {args.tag!r} is not a registry tag of {ctx.artifact.name} in GTO's format"
        )
    print(f"kind={event.kind}\nversion={event.version}\nstage={event.stage or ''}")
    print(f"commit={event.commit}")
    return 0


def smoke(args: argparse.Namespace) -> int:
    """Load a version the way serving will, and predict rows of its own held-out split."""
    from ratchet.dataset import contract, validation
    from ratchet.pipeline import model, predict
    from ratchet.registry import smoke as checks

    root = tags.toplevel(".")
    pipeline, ref = loading.load_with_ref(
        args.version, stage=args.stage, latest=args.latest, repo=root
    )
    # The rows a request would carry (id and raw features, as the model's contract says),
    # checked the way the service checks them: any dataset, any task, no sample generator.
    with contract.use(model.contract_for(pipeline)) as c:
        split = loading.held_out_rows(root, ref, c.inputs)
        picked = split.sample(n=min(args.rows, len(split)), random_state=args.seed)
        rows = picked.reset_index(drop=True)
        checked = validation.check(rows, require_target=False, expectations=False)
        if not checked.passed:
            raise RatchetError(f"smoke rows failed validation: {checked.errors[0].line()}")
        # Labels are not checked, only the outputs they come from: any threshold will do.
        outputs = predict.table_outputs(pipeline, checked.table, 0.5)
    detail = checks.check(outputs, c, len(rows), f"{ref.name} {ref.version}")
    print(f"smoke test passed: {ref.name} {ref.version} ({ref.commit[:12]}) {detail}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=func)
        return p

    r = action("register", register, "tag a commit of the main branch as a new version")
    r.add_argument("rev", nargs="?", default="HEAD", help="commit to register (default HEAD)")
    bump = r.add_mutually_exclusive_group()
    bump.add_argument("--bump", choices=["major", "minor", "patch"])
    bump.add_argument("--version", help="explicit version, e.g. v1.2.0")
    r.add_argument("--push", action="store_true", help="push the tag to the remote")

    p = action("promote", promote, "assign the next stage to a version")
    p.add_argument("version", help="e.g. v1.2.0")
    p.add_argument("--to", required=True, help="stage, e.g. staging or prod")
    p.add_argument("--push", action="store_true")

    b = action("rollback", rollback, "point a stage back at the version it held before")
    b.add_argument("--stage", required=True)
    b.add_argument("--push", action="store_true")

    action("list", list_versions, "versions, their stages and headline metrics")
    h = action("history", history, "an artifact's registry events, newest first")
    h.add_argument("name", nargs="?", help="artifact (default: the model in dvc.yaml)")

    c = action("card", card, "the model card of a version, as Markdown")
    c.add_argument("version")
    c.add_argument("-o", "--output", help="write to a file instead of stdout")

    g = action("get", get, "fetch a version's model file (verified against dvc.lock)")
    which = g.add_mutually_exclusive_group(required=True)
    which.add_argument("--version")
    which.add_argument("--stage")
    which.add_argument("--latest", action="store_true")
    g.add_argument("-o", "--output", required=True, help="where to write the model file")
    g.add_argument(
        "--info", help="also write name, version, stage, commit, metrics and md5 here (JSON)"
    )

    t = action("tag-info", tag_info, "what a registry tag means (kind, version, stage)")
    t.add_argument("tag")

    s = action("smoke", smoke, "load a version and predict rows of its held-out split with it")
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--version")
    which.add_argument("--stage")
    which.add_argument("--latest", action="store_true")
    s.add_argument("--rows", type=int, default=1_000, help="held-out rows to score")
    s.add_argument("--seed", type=int, default=0, help="seed of the row sample")


def command(args: argparse.Namespace) -> int:
    return args.handler(args)
