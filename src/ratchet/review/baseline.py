"""The base commit's model and splits, as its pipeline produced them (the I/O shell of pairing).

Two ways, the cheap one first:
- from the DVC cache (or the default remote) at the base commit: `dvc.lock` there names
  each output's hash, and CI usually still has them (the base was reproduced on main);
- else by reproducing the base commit in a temporary git worktree that shares this
  repository's DVC cache (`dvc repro` there, often instant from the run-cache), with the
  base's own source on PYTHONPATH so the base's code, not this change's, produces its model.

Which way was taken and how long it took are returned: the report states both.
"""

from __future__ import annotations

import io as bytes_io
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from ratchet.core import gitrev, params
from ratchet.core.errors import RatchetError
from ratchet.core.io import ARROW_TEXT
from ratchet.dataset import contract

DVC_YAML = "dvc.yaml"


@dataclass(frozen=True)
class Paths:
    """Where a revision's pipeline keeps the model and its two splits."""

    model: str
    train: tuple[str, ...]  # every split the model's stage reads (train, and validation)
    test: str


@dataclass(frozen=True)
class Artifacts:
    model: bytes
    train: pd.DataFrame
    source: str  # "cache" or "reproduced"
    seconds: float


def pipeline_paths(dvc_yaml: dict[str, Any], where: str) -> Paths:
    """The model (a .skops out that a later stage reads), the split that stage scores
    (test) and the splits the model's own stage reads (train, and validation if any: rows
    used for early stopping were seen too), from dvc.yaml's stages."""
    stages = dvc_yaml.get("stages") or {}
    producer = {}
    for name, stage in stages.items():
        for out in stage.get("outs") or []:
            producer[out if isinstance(out, str) else next(iter(out))] = name
    for stage in stages.values():
        deps = [d for d in stage.get("deps") or [] if d in producer]
        models = [d for d in deps if d.endswith(".skops")]
        tests = [d for d in deps if d.endswith(".parquet")]
        if len(models) == 1 and len(tests) == 1:
            trainer = stages[producer[models[0]]]
            trains = [
                d for d in trainer.get("deps") or [] if d in producer and d.endswith(".parquet")
            ]
            if trains and tests[0] not in trains:
                return Paths(models[0], tuple(trains), tests[0])
    raise RatchetError(
        f"{where}: no stage reads exactly one .skops model and one .parquet split produced by "
        "other stages (cannot tell which files are the model, its training and its test split)"
    )


def base_paths(sha: str) -> Paths:
    text = gitrev.show(sha, DVC_YAML)
    if text is None:
        raise RatchetError(f"{sha[:7]}:{DVC_YAML}: missing")
    return pipeline_paths(params.parse_yaml(text, f"{sha[:7]}:{DVC_YAML}"), f"{sha[:7]}:{DVC_YAML}")


def from_cache(sha: str, paths: Paths) -> tuple[bytes, list[bytes]] | None:
    """The model and training splits' bytes from the DVC cache or remote; None: absent."""
    import dvc.api
    from dvc.exceptions import DvcException

    try:
        model = dvc.api.read(paths.model, repo=os.getcwd(), rev=sha, mode="rb")
        train = [dvc.api.read(p, repo=os.getcwd(), rev=sha, mode="rb") for p in paths.train]
    except (DvcException, OSError):  # not in the cache and no remote holds it
        return None
    return model, train


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = " ".join((result.stderr or result.stdout).split())[-400:]
        raise RatchetError(f"reproducing the base: {' '.join(cmd)} failed: {tail}")


def cache_dir() -> Path:
    from dvc.repo import Repo

    with Repo(os.getcwd()) as repo:
        return Path(repo.cache.local.path).resolve()


def reproduce(sha: str, paths: Paths) -> tuple[bytes, list[bytes]]:
    """Check the base out in a temporary worktree sharing the DVC cache, `dvc repro` it
    with its own code, read the two files, and remove the worktree again."""
    shared = cache_dir()
    top = Path(tempfile.mkdtemp(prefix="ratchet-base-"))
    tree = top / "base"
    try:
        _run(["git", "worktree", "add", "--detach", "--quiet", str(tree), sha], Path.cwd())
        _run(["dvc", "config", "--local", "cache.dir", str(shared)], tree)
        env = {k: v for k, v in os.environ.items() if k != contract.ENV_VAR}
        # The base's own package first on the path: its pipeline, not this change's.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(tree / "src"), os.environ.get("PYTHONPATH")) if p
        )
        env.setdefault("DVC_NO_ANALYTICS", "1")
        # Whatever the cache holds (a tracked raw table, unchanged stages) is checked out
        # first; what is missing is then produced by `dvc repro`.
        subprocess.run(
            ["dvc", "checkout", "--quiet"], cwd=tree, env=env, capture_output=True, check=False
        )
        _run(["dvc", "repro", "--quiet"], tree, env)
        return (tree / paths.model).read_bytes(), [(tree / p).read_bytes() for p in paths.train]
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(top, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], capture_output=True, check=False)


def fetch(sha: str) -> Artifacts:
    """The base's model and train split: from the cache, else reproduced (and timed)."""
    paths = base_paths(sha)
    start = time.perf_counter()
    found = from_cache(sha, paths)
    source = "cache"
    if found is None:
        found = reproduce(sha, paths)
        source = "reproduced"
    model, train = found
    parts = zip(train, paths.train, strict=True)
    tables = [read_table(data, f"{sha[:7]}:{path}") for data, path in parts]
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    return Artifacts(model, table, source, time.perf_counter() - start)


def read_table(data: bytes, source: str) -> pd.DataFrame:
    """Parquet bytes read as the pipeline reads its splits, so row keys compare alike."""
    try:
        return pq.read_table(bytes_io.BytesIO(data)).to_pandas(types_mapper=ARROW_TEXT.get)
    except Exception as exc:  # pyarrow raises several unrelated types for a broken file
        raise RatchetError(f"{source}: cannot read Parquet ({exc})") from None
