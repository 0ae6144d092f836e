"""The Spark session under spark-submit: the master is spark-submit's, not ours."""

from __future__ import annotations

from conftest import BIN, ROOT, run

# What a command does first under spark-submit: ask the engine for its session.
JOB = """
from ratchet.spark import engine
print("master:", engine.session().sparkContext.master)
"""


def test_spark_submit_keeps_its_own_master(tmp_path, spark):
    # `spark` only makes this skip (or fail in CI) without Java; the job runs in its own JVM.
    job = tmp_path / "job.py"
    job.write_text(JOB)
    result = run(
        [str(BIN / "spark-submit"), "--master", "local[1]", "--conf", "spark.log.level=ERROR",
         str(job)],
        ROOT,
    )  # fmt: skip
    # Were the engine to set its default local[*] here, a cluster job would run in the driver.
    assert "master: local[1]" in result.stdout, result.stdout + result.stderr
