"""The model artifact as dvc.yaml declares it (`artifacts:`), at any revision."""

from __future__ import annotations

import os
from dataclasses import dataclass

import yaml

from ratchet.core import gitrev
from ratchet.core.errors import RatchetError
from ratchet.registry import tags


@dataclass(frozen=True)
class Artifact:
    name: str
    path: str


def declared(repo: str | os.PathLike, rev: str | None = None, name: str | None = None) -> Artifact:
    """The model artifact in dvc.yaml (in the working tree, or at `rev`)."""
    if rev is None:
        try:
            text = (tags.toplevel(repo) / "dvc.yaml").read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
    else:
        text = gitrev.show(rev, "dvc.yaml", repo=repo)
    where = f"dvc.yaml at {rev[:12]}" if rev else "dvc.yaml"
    if text is None:
        raise RatchetError(f"{where}: not found")
    artifacts = (yaml.safe_load(text) or {}).get("artifacts") or {}
    models = {k: v for k, v in artifacts.items() if (v or {}).get("type") == "model"}
    if name is not None:
        if name not in models:
            raise RatchetError(
                f"{where}: no model artifact named {name!r} (have: {sorted(models)})"
            )
        return Artifact(name, models[name]["path"])
    if len(models) != 1:
        raise RatchetError(
            f"{where}: expected one artifact of type model in 'artifacts:', found {sorted(models)}"
        )
    ((found, spec),) = models.items()
    return Artifact(found, spec["path"])


def locked_md5(repo: str | os.PathLike, rev: str, path: str) -> str:
    """The md5 dvc.lock at `rev` records for output `path`."""
    text = gitrev.show(rev, "dvc.lock", repo=repo)
    if text is None:
        raise RatchetError(
            f"dvc.lock at {rev[:12]}: not found (was the pipeline run and committed?)"
        )
    for stage in (yaml.safe_load(text) or {}).get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("path") == path and out.get("md5"):
                return out["md5"]
    raise RatchetError(f"dvc.lock at {rev[:12]}: no output {path!r} with an md5")
