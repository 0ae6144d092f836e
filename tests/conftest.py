"""Shared fixtures: small real data, the real schema, the real params file."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmarks.template import BIN, EXAMPLE, ROOT, make_template_repo, run
from ratchet.cli import configure_environment, main
from ratchet.core import params
from ratchet.dataset import contract, sample, schema
from ratchet.dataset.contract import CONTRACT_FILE

__all__ = [
    "BIN",
    "EXAMPLE",
    "ROOT",
    "make_template_repo",
    "run",
]  # the tests import these from here

# Nothing a test runs may phone home; OpenMP threads wait passively, as in `ratchet`.
configure_environment()


# The tests' own dataset: the bundled sample's contract, whatever the root's says. A fork
# that points the root at its own data keeps a passing `make test`: in-process code reads
# this contract (from collection on: parameter lists read it too), and temporary projects
# are built from examples/churn. Subprocesses that must read it get EXAMPLE_CONTRACT_ENV.
EXAMPLE_CONTRACT = contract.activate(contract.load(EXAMPLE / CONTRACT_FILE))
EXAMPLE_CONTRACT_ENV = {contract.ENV_VAR: str(EXAMPLE / CONTRACT_FILE)}


@pytest.fixture(scope="session")
def raw() -> pd.DataFrame:
    """A small sample table as the generator writes it (fixtures shrink data, not truth)."""
    return sample.generate(1_500, seed=7)


@pytest.fixture(scope="session")
def validated(raw: pd.DataFrame) -> pd.DataFrame:
    return schema.raw_schema().validate(raw)


@pytest.fixture(scope="session")
def repo_params() -> dict:
    return params.read_yaml(EXAMPLE / "params.yaml")


def project_files(dest: Path) -> Path:
    """params.yaml and the dataset contract in `dest`: what a command run there reads."""
    (dest / "dataset").mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "params.yaml", dest / "params.yaml")
    shutil.copy(EXAMPLE / CONTRACT_FILE, dest / CONTRACT_FILE)
    return dest


def train_model_file(validated: pd.DataFrame, path: Path, **train: object) -> Path:
    """A real model fitted on the fixture data with params.yaml's train section + `train`."""
    from ratchet.core.params import FeaturizeParams, TrainParams
    from ratchet.pipeline import model
    from ratchet.pipeline.featurize import split
    from ratchet.pipeline.train import fit

    p = params.parse_section("train", TrainParams, params.read_yaml(EXAMPLE / "params.yaml"))
    rows, _ = split(validated, FeaturizeParams(test_size=0.3, seed=0))
    fitted, _ = fit(rows, p.model_copy(update=train))
    path.write_bytes(model.to_bytes(fitted))
    return path


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, validated) -> Path:
    """A small gradient-boosting model (40 trees) as the train stage writes it."""
    return train_model_file(
        validated, tmp_path_factory.mktemp("model") / "model.skops", max_iter=40
    )


def ratchet(repo: Path, *args: str, check: bool = True) -> SimpleNamespace:
    """`ratchet ARGS` in `repo`, in this process (each subprocess would re-import sklearn)."""
    out, err, cwd = StringIO(), StringIO(), os.getcwd()
    os.chdir(repo)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(cwd)
    result = SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
    if check and code != 0:
        raise AssertionError(f"ratchet {' '.join(args)} exited {code}: {result.stderr}")
    return result


def commit_pipeline(repo: Path, message: str) -> None:
    """Run the pipeline and commit what it produced (dvc.lock, metrics; data in the cache)."""
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


@pytest.fixture(scope="session")
def registered_template(tmp_path_factory) -> Path:
    """A template repository (2,000 rows) whose pipeline commit is registered as v1.0.0.

    Built once per session; tests get their own copy from `registered_repo`.
    """
    repo = make_template_repo(tmp_path_factory.mktemp("registered"), rows=2_000)
    commit_pipeline(repo, "pipeline")
    ratchet(repo, "model", "register")
    return repo


def registered_repo(template: Path, dest: Path) -> Path:
    """A private copy of `registered_template` (git, tags, DVC cache and outputs)."""
    shutil.copytree(template, dest, symlinks=True)
    return dest


def set_param(repo: Path, old: str, new: str) -> None:
    """Edit the repository's params.yaml: the first `old` becomes `new` (it must be there)."""
    path = repo / "params.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    """Until `ratchet serve` on `port` answers GET /health; fails if the process exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"ratchet serve did not become healthy within {seconds} s")


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A real local Spark session (local[2]) shared by the Spark tests.

    Without Java or PySpark the tests skip locally; `.ci/run` sets RATCHET_SPARK_TESTS=required,
    which turns the skip into a failure, so CI always runs them.
    """
    from ratchet.core.errors import RatchetError
    from ratchet.spark import engine

    try:
        engine.pyspark()
        engine.find_java()
    except RatchetError as exc:
        if os.environ.get("RATCHET_SPARK_TESTS") == "required":
            pytest.fail(f"Spark tests are required here: {exc}")
        pytest.skip(str(exc))
    from pyspark.sql import SparkSession

    engine.worker_python()  # before the context starts: its workers must import ratchet
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("ratchet-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    # engine.session() returns this same session (getOrCreate) in the commands under test.
    yield engine.session("local[2]")
    session.stop()
