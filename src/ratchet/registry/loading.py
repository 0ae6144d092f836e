"""Fetch and load a registered model by version, stage or latest, from any checkout.

The model file comes from the DVC cache or the configured remote at the version's
commit (DVC's Python API), its md5 is checked against that commit's dvc.lock, and it is
loaded with the skops allowlist: a swapped or tampered file is refused.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sklearn.pipeline import Pipeline

from ratchet.core.errors import RatchetError
from ratchet.pipeline import model
from ratchet.registry import artifact, events, tags


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    commit: str
    path: str
    stage: str | None = None


def resolve(
    repo: str | os.PathLike = ".",
    *,
    version: str | None = None,
    stage: str | None = None,
    latest: bool = False,
    name: str | None = None,
) -> ModelRef:
    """Turn --version / --stage / --latest into a registered version and its commit."""
    if sum(x is not None and x is not False for x in (version, stage, latest)) != 1:
        raise RatchetError("give exactly one of version, stage or latest")
    art = artifact.declared(repo, name=name)
    evts = events.events(tags.list_tags(repo), art.name)
    live = events.versions(evts)
    if stage is not None:
        version = events.holder(evts, stage)
        if version is None:
            raise RatchetError(f"{art.name}: no version is in stage {stage!r}")
    elif latest:
        version = events.latest(evts)
        if version is None:
            raise RatchetError(f"{art.name}: no version is registered yet")
    assert version is not None
    events.parse_version(version)
    if version not in live:
        raise RatchetError(f"{art.name}: version {version} is not registered")
    commit = live[version].commit
    path = artifact.declared(repo, rev=commit, name=art.name).path
    return ModelRef(art.name, version, commit, path, stage)


def model_bytes(repo: str | os.PathLike, ref: ModelRef) -> bytes:
    """The model file at the version's commit, verified against that commit's dvc.lock."""
    expected = artifact.locked_md5(repo, ref.commit, ref.path)
    # DVC's API is slow to import; a model loaded from a file never needs it.
    import dvc.api

    try:
        with dvc.api.open(ref.path, repo=str(tags.toplevel(repo)), rev=ref.commit, mode="rb") as fh:
            data = fh.read()
    except Exception as exc:  # DVC raises many types for a missing cache or remote object
        raise RatchetError(
            f"{ref.name} {ref.version}: cannot fetch {ref.path} at {ref.commit[:12]} from the DVC "
            f"cache or remote ({type(exc).__name__}: {' '.join(str(exc).split())})"
        ) from None
    actual = hashlib.md5(data).hexdigest()
    if actual != expected:
        raise RatchetError(
            f"{ref.name} {ref.version}: {ref.path} has md5 {actual}, but dvc.lock at "
            f"{ref.commit[:12]} records {expected}; refusing a model that is not the one registered"
        )
    return data


def load_model(
    version: str | None = None,
    *,
    stage: str | None = None,
    latest: bool = False,
    repo: str | os.PathLike = ".",
) -> Pipeline:
    """Load a registered model: `load_model("v1.2.0")`, `load_model(stage="prod")`."""
    return load_with_ref(version, stage=stage, latest=latest, repo=repo)[0]


def load_with_ref(
    version: str | None = None,
    *,
    stage: str | None = None,
    latest: bool = False,
    repo: str | os.PathLike = ".",
) -> tuple[Pipeline, ModelRef]:
    ref = resolve(repo, version=version, stage=stage, latest=latest)
    data = model_bytes(repo, ref)
    return model.from_bytes(data, f"{ref.name} {ref.version}"), ref


# The feature splits the pipeline writes: rows the model trained on, and held-out rows.
TRAIN_SPLIT = "data/features/train.parquet"
TEST_SPLIT = "data/features/test.parquet"


def held_out_rows(repo: str | os.PathLike, ref: ModelRef, columns: list[str]):
    """`columns` of the version's held-out split: raw rows no model of that commit saw."""
    split = table_at(repo, ref, TEST_SPLIT)
    missing = [c for c in columns if c not in split.columns]
    if missing:
        raise RatchetError(f"{TEST_SPLIT} at {ref.commit[:12]}: no column(s) {missing}")
    return split[columns]


def table_at(repo: str | os.PathLike, ref: ModelRef, path: str):
    """A Parquet table the pipeline wrote (e.g. a split), at the version's commit, via DVC."""
    import io

    import dvc.api
    import pandas as pd

    try:
        with dvc.api.open(path, repo=str(repo), rev=ref.commit, mode="rb") as fh:
            return pd.read_parquet(io.BytesIO(fh.read()))
    except Exception as exc:  # DVC raises many types for a missing cache or remote object
        raise RatchetError(
            f"{path} at {ref.commit[:12]} ({ref.name} {ref.version}): cannot fetch from the "
            f"DVC cache or remote ({type(exc).__name__})"
        ) from None


def file_version(path: str | os.PathLike) -> str:
    """How scores and the service name a model loaded from a file instead of the registry."""
    return f"file:{os.path.basename(path)}"


def load_file_or_registered(
    model_file: str | os.PathLike | None,
    version: str | None,
    stage: str | None,
    repo: str | os.PathLike = ".",
) -> tuple[Pipeline, ModelRef | None]:
    """--model FILE, else --version, else --stage: the model and, from the registry, its ref."""
    data, source, ref = file_or_registered_bytes(model_file, version, stage, repo)
    return model.from_bytes(data, source), ref


def file_or_registered_bytes(
    model_file: str | os.PathLike | None,
    version: str | None,
    stage: str | None,
    repo: str | os.PathLike = ".",
) -> tuple[bytes, str, ModelRef | None]:
    """(the model file's bytes, its name in messages, its registry ref or None).

    The bytes, not a path, are what a distributed scorer ships to machines that share no
    filesystem with this one; `model.from_bytes` loads them with the same allowlist.
    """
    if model_file:
        p = Path(model_file)
        try:
            return p.read_bytes(), str(p), None
        except FileNotFoundError:
            raise RatchetError(f"{p}: model file not found (run: dvc repro)") from None
    top = tags.toplevel(repo)
    ref = resolve(top, version=version, stage=None if version else stage)
    return model_bytes(top, ref), f"{ref.name} {ref.version}", ref
