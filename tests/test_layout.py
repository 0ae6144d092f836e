"""The package's layout: areas as subpackages, their import contracts, and no machinery that
knows the bundled sample's columns."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLE, ROOT
from ratchet.cli import COMMANDS
from ratchet.dataset import contract
from ratchet.dataset.contract import CONTRACT_FILE

SRC = ROOT / "src" / "ratchet"
AREAS = {
    "spark",
    "core",
    "dataset",
    "pipeline",
    "review",
    "registry",
    "experiments",
    "serving",
    "monitoring",
}
# The one module that may name the sample's columns: it generates them.
SAMPLE = SRC / "dataset" / "sample.py"
# Words that are a sample column's name but mean something else where they appear.
NOT_THE_COLUMN = {
    # A label value that names the positive class, among "fraud", "spam", "left", ...
    (SRC / "dataset" / "init.py", "churned"),
}


def sample_columns() -> set[str]:
    """Names only the bundled sample has: its columns and engineered features, less the
    plain words (age, plan, ...) any dataset may use."""
    c = contract.load(EXAMPLE / CONTRACT_FILE)
    names = set(c.columns) | set(c.features)
    return {n for n in names if "_" in n} | {c.target}


def machinery() -> list[Path]:
    files = [p for p in SRC.rglob("*.py") if p != SAMPLE]
    files += [*(ROOT / ".github").rglob("*.yml"), ROOT / "Makefile", ROOT / "Dockerfile"]
    return sorted(p for p in files if p.is_file())


def test_the_sample_columns_are_found():
    names = sample_columns()
    assert {"customer_id", "monthly_charges", "churned", "days_since_last_login"} <= names
    assert "age" not in names


@pytest.mark.parametrize("path", machinery(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machinery_names_a_sample_column(path):
    text = path.read_text()
    found = {
        name
        for name in sample_columns()
        if re.search(rf"\b{name}\b", text) and (path, name) not in NOT_THE_COLUMN
    }
    assert not found, f"{path.relative_to(ROOT)} names the sample's columns {sorted(found)}"


def test_every_module_lives_in_an_area():
    top = {p.name for p in SRC.glob("*.py")}
    assert top == {"__init__.py", "__main__.py", "cli.py"}
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages == AREAS
    for name, (module, _) in COMMANDS.items():
        area = module.split(".")[1]
        assert area in AREAS and (SRC / area / f"{module.split('.')[2]}.py").is_file(), name


@pytest.mark.parametrize("area", sorted(AREAS))
def test_an_area_package_holds_only_its_docstring(area):
    """Importing a module runs its package's __init__.py: dvc.yaml lists it, so it stays
    empty of code."""
    body = ast.parse((SRC / area / "__init__.py").read_text()).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr), area
    assert isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)


def test_the_root_package_imports_nothing_when_imported():
    """Every stage runs src/ratchet/__init__.py, and dvc.yaml does not list it: it may only
    define the version and load the public API on first use."""
    for node in ast.parse((SRC / "__init__.py").read_text()).body:
        assert not isinstance(node, ast.Import | ast.ImportFrom), ast.unparse(node)
        if isinstance(node, ast.Assign):
            assert [t.id for t in node.targets] == ["__version__"]
        else:
            assert isinstance(node, ast.Expr | ast.FunctionDef), ast.unparse(node)


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
