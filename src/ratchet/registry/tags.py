"""git, for the registry: read tags and files at a revision, create and push tags.

Tags are created through GTO's API so their names and messages are exactly what `gto`,
`dvc artifacts get` and DVC Studio read. Pushing is plain git, so a rejected push (someone
else's tag of the same name got there first) is reported, and the local tag that lost
the race is removed again: it was never published, so no shared history changes.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

from ratchet.core.errors import RatchetError
from ratchet.registry.events import RawTag

_SEP = "\x1f"
_END = "\x1e"


def git(repo: str | os.PathLike, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        reason = " ".join(result.stderr.split()) or f"exit {result.returncode}"
        raise RatchetError(f"git {' '.join(args)}: {reason}")
    return result.stdout


def toplevel(repo: str | os.PathLike = ".") -> Path:
    try:
        return Path(git(repo, "rev-parse", "--show-toplevel").strip())
    except RatchetError:
        raise RatchetError(f"{Path(repo).resolve()}: not inside a git repository") from None


def list_tags(repo: str | os.PathLike) -> list[RawTag]:
    fmt = _SEP.join(
        ["%(refname:strip=2)", "%(*objectname)", "%(objectname)", "%(creatordate:iso-strict)",
         "%(contents)"]
    ) + _END  # fmt: skip
    out = git(repo, "for-each-ref", "refs/tags", f"--format={fmt}")
    tags = []
    for record in out.split(_END):
        record = record.lstrip("\n")
        if not record:
            continue
        name, peeled, obj, created, message = record.split(_SEP, 4)
        tags.append(RawTag(name, peeled or obj, datetime.fromisoformat(created), message.strip()))
    return tags


def dirty_files(repo: str | os.PathLike) -> list[str]:
    out = git(repo, "status", "--porcelain", "--untracked-files=no")
    return [line[3:] for line in out.splitlines() if line.strip()]


def on_branch(repo: str | os.PathLike, commit: str, branch: str) -> bool:
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        if git(repo, "rev-parse", "--verify", "--quiet", ref, check=False).strip():
            result = subprocess.run(
                ["git", "merge-base", "--is-ancestor", commit, ref], cwd=repo, check=False
            )
            if result.returncode == 0:
                return True
    return False


def has_remote(repo: str | os.PathLike, remote: str = "origin") -> bool:
    return remote in git(repo, "remote").split()


def fetch_tags(repo: str | os.PathLike, remote: str = "origin") -> None:
    git(repo, "fetch", "--quiet", remote, "refs/tags/*:refs/tags/*")


def push_tag(repo: str | os.PathLike, tag: str, remote: str = "origin") -> None:
    result = subprocess.run(
        ["git", "push", "--quiet", remote, f"refs/tags/{tag}"],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        git(repo, "tag", "-d", tag, check=False)  # never published: undo the local tag
        reason = " ".join(result.stderr.split())
        raise RatchetError(
            f"push of tag {tag} to {remote} was rejected ({reason}); someone else may have "
            f"changed the registry meanwhile: run `git fetch --tags {remote}` and retry"
        )
