"""Parameter grids for experiments: parse, check and expand them. Pure: no I/O.

A grid maps params keys to the values to try; every combination is one experiment. The
grids come from `params.yaml: sweep` or from `KEY=V1,V2` specs on the command line (the
syntax of `dvc exp run -S`). They are checked before anything runs, so a typo in a key or
a value the params model rejects fails in a second instead of after a queue of runs; so does
an estimator that does not fit the dataset's task (ridge for a classifier, class_weight
for a regression).
Values are kept to plain tokens (letters, digits, `_ . + -`): they travel through a
GitHub Actions matrix and a shell command line, where anything else would need quoting.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from ratchet.core import params
from ratchet.core.errors import RatchetError

Scalar = str | int | float | bool | None
Grid = dict[str, list[Scalar]]

TOKEN = re.compile(r"^[A-Za-z0-9_.+-]+$")
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
GITHUB_MATRIX_LIMIT = 256


@dataclass(frozen=True)
class Combo:
    """One experiment of a grid: params key -> value, in the grid's key order."""

    values: tuple[tuple[str, Scalar], ...]

    def overrides(self) -> list[str]:
        """`KEY=VALUE` strings for `dvc exp run -S`."""
        return [f"{key}={render(value)}" for key, value in self.values]


def render(value: Scalar) -> str:
    """A value as YAML reads it back: null, true, 0.1, hist_gradient_boosting."""
    if value is None or isinstance(value, bool):
        return yaml.safe_dump(value).splitlines()[0]
    text = repr(value) if isinstance(value, float) else str(value)
    if not TOKEN.match(text):
        raise RatchetError(
            f"value {text!r}: use letters, digits and _ . + - only "
            "(values are passed on command lines and in the CI matrix)"
        )
    return text


def parse_spec(spec: str) -> tuple[str, list[Scalar]]:
    """`train.max_depth=3,6,9` -> ('train.max_depth', [3, 6, 9])."""
    key, sep, values = spec.partition("=")
    if not sep or not values:
        raise RatchetError(f"grid {spec!r}: expected KEY=VALUE[,VALUE...]")
    parsed = []
    for item in values.split(","):
        if not TOKEN.match(item):
            raise RatchetError(
                f"grid {spec!r}: value {item!r} is not a plain value "
                "(comma-separated values only; no ranges, spaces or quotes)"
            )
        parsed.append(yaml.safe_load(item))
    return key.strip(), parsed


def from_specs(specs: list[str]) -> Grid:
    grid: Grid = {}
    for spec in specs:
        key, values = parse_spec(spec)
        if key in grid:
            raise RatchetError(f"grid: key {key!r} is given twice")
        grid[key] = values
    return grid


def combos(grid: Grid) -> list[Combo]:
    """Every combination, the first key varying slowest (as DVC queues them)."""
    keys = list(grid)
    return [Combo(tuple(zip(keys, vs, strict=True))) for vs in itertools.product(*grid.values())]


def check(grids: list[Grid], doc: dict[str, Any], source: str, task: str | None = None) -> None:
    """Every key names a params key, and every combination passes its section's model (and,
    given the dataset's task, trains a model of that task)."""
    for grid in grids:
        if not grid:
            raise RatchetError(f"{source}: a sweep grid is empty")
        for key, values in grid.items():
            if not KEY.match(key) or not _has_key(doc, key):
                raise RatchetError(f"{source}: sweep key {key!r} is not a key of {source}")
            if not values:
                raise RatchetError(f"{source}: sweep key {key!r} has no values")
            for value in values:
                render(value)
        for combo in combos(grid):
            _check_combo(combo, doc, source, task)


def _has_key(doc: dict[str, Any], dotted: str) -> bool:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _check_combo(combo: Combo, doc: dict[str, Any], source: str, task: str | None) -> None:
    changed = copy.deepcopy(doc)
    for key, value in combo.values:
        *parents, leaf = key.split(".")
        node = changed
        for part in parents:
            node = node[part]
        node[leaf] = value
    for name in sorted({key.split(".")[0] for key, _ in combo.values}):
        model = params.SECTIONS.get(name)
        if model is None:
            continue
        try:
            parsed = params.parse_section(name, model, changed, source)
        except RatchetError as exc:
            raise RatchetError(f"sweep {' '.join(combo.overrides())}: {exc}") from None
        mismatch = (
            task and isinstance(parsed, params.TrainParams) and params.task_mismatch(parsed, task)
        )
        if mismatch:
            raise RatchetError(f"sweep {' '.join(combo.overrides())}: {source}: {mismatch}")


def dvc_args(grid: Grid) -> list[str]:
    """`dvc exp run --queue` arguments that queue the whole grid: -S key=v1,v2 ..."""
    args = []
    for key, values in grid.items():
        args += ["-S", f"{key}={','.join(render(v) for v in values)}"]
    return args


def matrix(grids: list[Grid], prefix: str) -> dict[str, list[dict[str, str]]]:
    """A GitHub Actions matrix: one entry per combination, named PREFIX-N."""
    entries = [combo for grid in grids for combo in combos(grid)]
    if len(entries) > GITHUB_MATRIX_LIMIT:
        raise RatchetError(
            f"sweep: {len(entries)} combinations; a GitHub Actions matrix holds at most "
            f"{GITHUB_MATRIX_LIMIT}"
        )
    if not TOKEN.match(prefix):
        raise RatchetError(f"--prefix {prefix!r}: use letters, digits and _ . + - only")
    return {
        "include": [
            {"name": f"{prefix}-{i}", "params": " ".join(c.overrides())}
            for i, c in enumerate(entries, start=1)
        ]
    }
