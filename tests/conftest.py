"""Shared fixtures: small real data, the real schema, the real params file."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.template import BIN, ROOT, make_template_repo, run
from ratchet import params, sample, schema
from ratchet.cli import configure_environment

__all__ = ["BIN", "ROOT", "make_template_repo", "run"]  # the tests import these from here

# Nothing a test runs may phone home; OpenMP threads wait passively, as in `ratchet`.
configure_environment()


@pytest.fixture(scope="session")
def raw() -> pd.DataFrame:
    """A small sample table as the generator writes it (fixtures shrink data, not truth)."""
    return sample.generate(1_500, seed=7)


@pytest.fixture(scope="session")
def validated(raw: pd.DataFrame) -> pd.DataFrame:
    return schema.raw_schema().validate(raw)


@pytest.fixture(scope="session")
def repo_params() -> dict:
    return params.read_yaml(ROOT / "params.yaml")
