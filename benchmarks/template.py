"""A fresh copy of the template in a temporary git repository, and running commands in it.

The pipeline tests and the benchmark suite both run the real `dvc repro` in such a copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The bundled sample's configuration: temporary projects are built from it, not from the
# root's, which a fork points at its own data.
EXAMPLE = ROOT / "examples" / "churn"

PROJECT_FILES = (  # from the root: how any Ratchet project is set up
    "pyproject.toml",
    ".gitignore",
    ".dvcignore",
    ".dvc/config",
    ".dvc/.gitignore",
)
EXAMPLE_FILES = ("dvc.yaml", "params.yaml", "dataset/contract.yaml")  # from the example
DEFAULT_ROWS_MAX = 2_000_000  # params.yaml validate.rows_max


def run(cmd: list[str], cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a command with the project's environment first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(kw.pop("env", {}))
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def params_text(rows: int) -> str:
    """The template's params.yaml with `sample.rows` set (and `validate.rows_max` raised)."""
    text = (EXAMPLE / "params.yaml").read_text().replace("rows: 20000", f"rows: {rows}", 1)
    if rows > DEFAULT_ROWS_MAX:
        text = text.replace(f"rows_max: {DEFAULT_ROWS_MAX}", f"rows_max: {rows}", 1)
    return text


def make_template_repo(dest: Path, rows: int) -> Path:
    """Copy the template (code, pipeline, config; no outputs) into a fresh git repository.

    `sample.rows` is set to `rows` (and `validate.rows_max` raised to it when needed).
    """
    for source, names in ((ROOT, PROJECT_FILES), (EXAMPLE, EXAMPLE_FILES)):
        for name in names:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target)
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "params.yaml").write_text(params_text(rows))
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "ci@example.com"], dest)
    run(["git", "config", "user.name", "Ratchet CI"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "template"], dest)
    return dest
