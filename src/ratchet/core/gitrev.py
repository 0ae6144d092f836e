"""Read files as a git revision committed them, never as the working tree has them.

The gate takes its base values and rules from here: a pull request can edit any file in
its working tree, but not what its base revision committed.
"""

from __future__ import annotations

import os
import subprocess

from ratchet.core.errors import RatchetError

Repo = str | os.PathLike | None  # a directory in the repository; None: the current one


def _git(*args: str, repo: Repo = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RatchetError("git: command not found (install git)") from None


def resolve(rev: str, *, repo: Repo = None, name: str | None = None) -> str:
    """The full commit SHA of `rev`, or an error that says why it is unknown.

    `name` is how the error refers to the revision (e.g. "--base main").
    """
    result = _git(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", repo=repo
    )
    if result.returncode == 0:
        return result.stdout.strip()
    inside = _git("rev-parse", "--is-inside-work-tree", repo=repo)
    if inside.returncode != 0:
        raise RatchetError("git: not inside a git repository (run from the repository root)")
    shallow = _git("rev-parse", "--is-shallow-repository", repo=repo).stdout.strip() == "true"
    hint = (
        "; this clone is shallow: fetch full history (git fetch --unshallow, or "
        "actions/checkout with fetch-depth: 0)"
        if shallow
        else ""
    )
    raise RatchetError(f"{name or f'revision {rev!r}'}: unknown revision{hint}")


def show(sha: str, path: str, *, repo: Repo = None) -> str | None:
    """The text of `path` as commit `sha` has it, or None if that commit has no such file."""
    result = _git("cat-file", "blob", f"{sha}:{path}", repo=repo)
    if result.returncode != 0:
        if _git("cat-file", "-e", f"{sha}^{{commit}}", repo=repo).returncode != 0:
            raise RatchetError(f"git: commit {sha} is not available")
        return None
    return result.stdout


def head() -> str:
    return resolve("HEAD")


def changed(paths: list[str]) -> list[str]:
    """Which of `paths` differ from HEAD in the working tree (modified, deleted or new)."""
    result = _git("status", "--porcelain=v1", "--untracked-files=all", "--", *paths)
    if result.returncode != 0:
        raise RatchetError(f"git status: {result.stderr.strip()}")
    return sorted({line[3:].strip('"') for line in result.stdout.splitlines()})


def dirty() -> bool:
    """Whether tracked files differ from HEAD (the report then says so in its footer)."""
    return bool(_git("status", "--porcelain=v1", "--untracked-files=no").stdout.strip())
