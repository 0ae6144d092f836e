"""Read files as a git revision committed them, never as the working tree has them.

The gate takes its base values and rules from here: a pull request can edit any file in
its working tree, but not what its base revision committed.
"""

from __future__ import annotations

import subprocess

from ratchet.errors import RatchetError


def _git(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RatchetError("git: command not found (install git)") from None


def resolve(rev: str) -> str:
    """The full commit SHA of `rev`, or an error that says why it is unknown."""
    result = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if result.returncode == 0:
        return result.stdout.strip()
    inside = _git("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0:
        raise RatchetError("git: not inside a git repository (run from the repository root)")
    shallow = _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    hint = (
        "; this clone is shallow: fetch full history (git fetch --unshallow, or "
        "actions/checkout with fetch-depth: 0)"
        if shallow
        else ""
    )
    raise RatchetError(f"--base {rev}: unknown revision{hint}")


def show(sha: str, path: str) -> str | None:
    """The text of `path` as commit `sha` has it, or None if that commit has no such file."""
    result = _git("cat-file", "blob", f"{sha}:{path}")
    if result.returncode != 0:
        if _git("cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
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
