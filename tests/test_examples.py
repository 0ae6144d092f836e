"""examples/churn is the sample project the tests build on; while the root still runs the
sample, the two must not drift apart."""

from __future__ import annotations

import pytest
import yaml

from conftest import EXAMPLE, ROOT
from ratchet.dataset import contract
from ratchet.dataset.contract import CONTRACT_FILE


def root_runs_the_sample() -> bool:
    path = ROOT / CONTRACT_FILE
    return (
        path.is_file() and contract.load(path).name == contract.load(EXAMPLE / CONTRACT_FILE).name
    )


def keys(document, prefix=""):
    if isinstance(document, dict):
        out = set()
        for key, value in document.items():
            out |= {f"{prefix}{key}"} | keys(value, f"{prefix}{key}.")
        return out
    return set()


def test_the_example_is_a_complete_sample_project():
    c = contract.load(EXAMPLE / CONTRACT_FILE)
    stages = yaml.safe_load((EXAMPLE / "dvc.yaml").read_text())["stages"]
    assert stages["sample"]["outs"] == stages["validate"]["deps"][:1]
    assert "gate" in yaml.safe_load((EXAMPLE / "params.yaml").read_text())
    assert c.target in c.columns


@pytest.mark.skipif(not root_runs_the_sample(), reason="the root describes a fork's own data")
def test_while_the_root_runs_the_sample_it_matches_the_example():
    for name in ("dvc.yaml", CONTRACT_FILE):
        assert (ROOT / name).read_text() == (EXAMPLE / name).read_text(), name
    # Values may be tuned at the root; the knobs must be the same.
    root, example = (yaml.safe_load((d / "params.yaml").read_text()) for d in (ROOT, EXAMPLE))
    assert keys(root) == keys(example)
