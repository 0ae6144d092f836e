"""dvc.yaml must say exactly what each stage reads, or DVC skips stages it should rerun."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

from ratchet.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ratchet"
# The root package's own files: `cli` and `__main__` only dispatch, and `__init__` only
# defines the version (tests/test_layout.py keeps it so). Every stage imports them; listing
# them would rerun the whole pipeline on a version bump.
NOT_DEPS = {"cli", "__init__", "__main__", ""}


# The root pipeline (a fork's own data) and the bundled sample's: both must be honest.
PIPELINES = {"root": ROOT / "dvc.yaml", "example": ROOT / "examples" / "churn" / "dvc.yaml"}
MODEL_STAGES = ["validate", "featurize", "train", "evaluate"]


def load_dvc_yaml(which: str = "root") -> dict:
    return yaml.safe_load(PIPELINES[which].read_text())


def module_file(name: str) -> Path | None:
    """The file of a ratchet module given by its dotted name below the package ("core.io")."""
    path = SRC.joinpath(*name.split(".")) if name else SRC
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def imported(node: ast.AST, module: str) -> list[str]:
    """The ratchet modules (dotted, below the package) one import statement loads."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return [n.removeprefix("ratchet.") for n in names if n.startswith("ratchet.")]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.split(".")
        if module_file(module).name != "__init__.py":
            package = package[:-1]
        base = package[: len(package) - node.level + 1]
        target = ".".join([*base, *([node.module] if node.module else [])])
    elif node.module == "ratchet" or (node.module or "").startswith("ratchet."):
        target = node.module.removeprefix("ratchet").removeprefix(".")
    else:
        return []
    # `from package import module` loads the module too; `from module import name`, a name.
    names = [f"{target}.{a.name}".removeprefix(".") for a in node.names]
    return [target, *(n for n in names if module_file(n))]


def packages(name: str) -> list[str]:
    """The packages Python runs the __init__.py of before the module: "a.b.c" -> a, a.b."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@pytest.mark.parametrize(
    ("line", "module", "loads"),
    [
        ("from ratchet.core import io", "dataset.sample", ["core", "core.io"]),
        ("from ratchet.dataset.contract import Contract", "pipeline.model", ["dataset.contract"]),
        ("import ratchet.serving.score", "cli", ["serving.score"]),
        ("from . import io", "core.params", ["core", "core.io"]),
        ("from .errors import RatchetError", "core.io", ["core.errors"]),
        ("from ..dataset import schema", "pipeline.train", ["dataset", "dataset.schema"]),
        ("from ratchet import __version__", "review.report", [""]),
        ("import yaml", "core.params", []),
    ],
)
def test_the_walker_reads_every_form_of_import(line, module, loads):
    assert imported(ast.parse(line).body[0], module) == loads


def test_a_module_brings_its_packages():
    assert {"core", "core.io", "core.errors"} <= ratchet_imports("core.io")
    assert "pipeline" in ratchet_imports("pipeline.train")


def ratchet_imports(module: str) -> set[str]:
    """Modules of this package that `module` imports, transitively, with their packages."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name in NOT_DEPS:
            continue
        seen.add(name)
        todo += packages(name)
        for node in ast.walk(ast.parse(module_file(name).read_text())):
            todo += imported(node, name)
    return seen


def dep_files(module: str) -> set[str]:
    return {str(module_file(m).relative_to(ROOT)) for m in ratchet_imports(module)}


def stage_module(spec: dict) -> str:
    return COMMANDS[spec["cmd"].split()[1]][0].removeprefix("ratchet.")


def params_read(module: str) -> set[str]:
    """Sections a stage reads, or only their keys its module names in PARAMS_KEYS."""
    sections, narrowed = set(), {}
    for name in ratchet_imports(module):
        text = module_file(name).read_text()
        sections |= set(re.findall(r'params\.section\(\s*"(\w+)"', text))
        narrowed.update(getattr(importlib.import_module(f"ratchet.{name}"), "PARAMS_KEYS", {}))
    keys = {f"{s}.{k}" for s in sections & set(narrowed) for k in narrowed[s]}
    return (sections - set(narrowed)) | keys


STAGES = {
    f"{which}:{name}": spec
    for which in PIPELINES
    for name, spec in load_dvc_yaml(which)["stages"].items()
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_lists_exactly_the_code_it_runs(stage):
    spec = STAGES[stage]
    expected = dep_files(stage_module(spec))
    listed = {d for d in spec["deps"] if d.startswith("src/")}
    assert listed == expected, f"stage {stage}: deps should be {sorted(expected)}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_lists_exactly_the_params_it_reads(stage):
    spec = STAGES[stage]
    assert set(spec.get("params", [])) == params_read(stage_module(spec))


@pytest.mark.parametrize("stage", list(STAGES))
def test_stages_that_read_the_contract_depend_on_its_file(stage):
    spec = STAGES[stage]
    reads = "dataset.contract" in ratchet_imports(stage_module(spec))
    assert ("dataset/contract.yaml" in spec["deps"]) == reads, stage


def test_stages_run_in_order():
    example = list(load_dvc_yaml("example")["stages"])
    assert example == ["sample", *MODEL_STAGES]
    # A fork's data arrives by a stage of its own or a DVC-tracked file: the model stages
    # come last, in order.
    assert list(load_dvc_yaml("root")["stages"])[-4:] == MODEL_STAGES


@pytest.mark.parametrize("which", list(PIPELINES))
def test_plots_and_artifact_point_at_stage_outputs(which):
    doc = load_dvc_yaml(which)
    outs = set()
    for spec in STAGES.values():
        for section in ("outs", "metrics"):
            for out in spec.get(section, []):
                outs.add(next(iter(out)) if isinstance(out, dict) else out)
    for plot in doc["plots"]:
        (spec,) = plot.values()
        for path in spec["y"]:
            assert any(path == o or path.startswith(o.rstrip("/") + "/") for o in outs), path
    (artifact,) = doc["artifacts"].values()
    assert artifact["type"] == "model" and artifact["path"] in outs
