"""dvc.yaml must say exactly what each stage reads, or DVC skips stages it should rerun."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from ratchet.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ratchet"
NOT_DEPS = {"cli", "__init__", "__main__"}  # dispatch only; holds no stage logic


# The root pipeline (a fork's own data) and the bundled sample's: both must be honest.
PIPELINES = {"root": ROOT / "dvc.yaml", "example": ROOT / "examples" / "churn" / "dvc.yaml"}
MODEL_STAGES = ["validate", "featurize", "train", "evaluate"]


def load_dvc_yaml(which: str = "root") -> dict:
    return yaml.safe_load(PIPELINES[which].read_text())


def ratchet_imports(module: str) -> set[str]:
    """Modules of this package that `module` imports, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name in NOT_DEPS:
            continue
        seen.add(name)
        tree = ast.parse((SRC / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "ratchet":
                todo += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ratchet."):
                todo.append(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                todo += [a.name.split(".")[1] for a in node.names if a.name.startswith("ratchet.")]
    return {m for m in seen if (SRC / f"{m}.py").exists()}


def params_read(module: str) -> set[str]:
    sections = set()
    for name in ratchet_imports(module):
        text = (SRC / f"{name}.py").read_text()
        sections |= set(re.findall(r'params\.section\(\s*"(\w+)"', text))
    return sections


STAGES = {
    f"{which}:{name}": spec
    for which in PIPELINES
    for name, spec in load_dvc_yaml(which)["stages"].items()
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_lists_exactly_the_code_it_runs(stage):
    spec = STAGES[stage]
    command = spec["cmd"].split()[1]
    module = COMMANDS[command][0].split(".")[1]
    expected = {f"src/ratchet/{m}.py" for m in ratchet_imports(module)}
    listed = {d for d in spec["deps"] if d.startswith("src/")}
    assert listed == expected, f"stage {stage}: deps should be {sorted(expected)}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_lists_exactly_the_params_it_reads(stage):
    spec = STAGES[stage]
    module = COMMANDS[spec["cmd"].split()[1]][0].split(".")[1]
    assert set(spec.get("params", [])) == params_read(module)


@pytest.mark.parametrize("stage", list(STAGES))
def test_stages_that_read_the_contract_depend_on_its_file(stage):
    spec = STAGES[stage]
    module = COMMANDS[spec["cmd"].split()[1]][0].split(".")[1]
    reads = "contract" in ratchet_imports(module)
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
