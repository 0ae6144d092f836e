"""The Spark session the commands run in, and the options every engine command shares.

Locally the session is `local[*]` (or --master); under `spark-submit` the master, the
executors and their memory come from spark-submit, and --master is not needed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from ratchet.core.errors import RatchetError

ENGINES = ("pandas", "spark")
MIN_JAVA = 17
NEEDS_PYSPARK = (
    "--engine spark needs PySpark: run `make setup-spark` (or pip install 'ratchet[spark]')"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--engine and the Spark options, shared by score, validate and drift."""
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="pandas",
        help="pandas: one process (default); spark: PySpark, local or on a cluster",
    )
    group.add_argument(
        "--master",
        help="Spark master URL, e.g. local[2] or spark://host:7077 (default: spark-submit's, "
        "else local[*])",
    )
    group.add_argument(
        "--partitions", type=int, help="repartition the input into N partitions first"
    )


def check_arguments(args: argparse.Namespace) -> None:
    if args.engine != "spark" and (args.master or args.partitions):
        raise RatchetError("--master and --partitions need --engine spark")
    if args.partitions is not None and args.partitions < 1:
        raise RatchetError(f"--partitions must be at least 1, got {args.partitions}")


def java_version(java: str) -> int | None:
    """The major version `java -version` reports (8 for 1.8), or None if it cannot say."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def find_java() -> str:
    """The java Spark will start: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        where = f"JAVA_HOME={home}" if home else "PATH"
        raise RatchetError(
            f"--engine spark needs Java {MIN_JAVA}+, and there is none on {where} "
            "(Debian/Ubuntu: apt-get install default-jre-headless)"
        )
    major = java_version(java)
    if major is not None and major < MIN_JAVA:
        raise RatchetError(
            f"--engine spark needs Java {MIN_JAVA}+, but {java} is Java {major}; "
            "set JAVA_HOME to a newer one"
        )
    return java


def pyspark() -> Any:
    try:
        import pyspark as module
    except ImportError:
        raise RatchetError(NEEDS_PYSPARK) from None
    return module


def worker_python() -> None:
    """Python workers run this interpreter (the one with ratchet installed) unless the user
    chose one. Spark reads this when its context starts: set it before any session exists."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def session(master: str | None = None, app: str = "ratchet") -> Any:
    """A SparkSession: the running one under spark-submit, else a new one on `master`.

    Python workers run this interpreter (locally, the project's environment), Arrow moves
    the batches, and Spark's web UI stays off unless the user's configuration turns it on.
    """
    pyspark()
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    find_java()
    worker_python()
    try:
        # spark-submit's --master and --conf (and spark-defaults.conf) are system properties
        # of its JVM, which SparkConf() reads only once the gateway to it is open. Before,
        # it is an empty conf: the master below would then replace spark-submit's, and a
        # cluster job would run inside the driver as local[*].
        SparkContext._ensure_initialized()
    except Exception as exc:
        raise RatchetError(f"cannot start Spark ({_first_line(exc)})") from None
    conf = SparkConf()
    builder = SparkSession.builder.appName(app)
    if master or not conf.contains("spark.master"):
        builder = builder.master(master or "local[*]")
    if not conf.contains("spark.ui.enabled"):
        builder = builder.config("spark.ui.enabled", "false")
    if not conf.contains("spark.ui.showConsoleProgress"):
        # Progress bars would bury the command's own one-line messages on stderr.
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise RatchetError(f"cannot start Spark ({_first_line(exc)})") from None
    spark.sparkContext.setLogLevel(os.environ.get("RATCHET_SPARK_LOG_LEVEL", "ERROR"))
    return spark


def _first_line(exc: BaseException) -> str:
    """Py4J and JVM start-up errors carry pages of Java stack: their first line says it."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def one_line_errors(what: str) -> Iterator[None]:
    """Spark's failures as one RatchetError line, never a Py4J or JVM stack.

    A Python worker's exception arrives as the worker's whole traceback: its last entry
    (the exception and its message) is what the user needs. A JVM error (a table Spark
    cannot write, a lost executor) says what went wrong on its first line.
    """
    try:
        yield
    except RatchetError:
        raise
    except Exception as exc:
        if not _from_spark(exc):
            raise
        raise RatchetError(f"{what}: {error_line(_root_cause(exc))}") from None


def _root_cause(exc: BaseException) -> BaseException | str:
    """A Py4J error says only which JVM call failed ("An error occurred while calling
    o113.collectToPython"); the cause at the bottom of its Java chain says why (e.g.
    `Cannot run program "./environment/bin/python"`). Anything else is its own cause."""
    java = getattr(exc, "java_exception", None)
    if java is None or "An error occurred while calling" not in str(exc):
        return exc
    try:
        while java.getCause() is not None:
            java = java.getCause()
        return str(java.toString())
    except Exception:  # the gateway may already be gone
        return exc


def _from_spark(exc: BaseException) -> bool:
    names = {f"{t.__module__}.{t.__name__}" for t in type(exc).__mro__}
    return any(n.startswith(("pyspark.", "py4j.")) for n in names)


def error_line(exc: BaseException | str) -> str:
    """The line that says what failed: a Python traceback's final exception, else line one."""
    lines = [
        line
        for line in str(exc).strip().splitlines()
        if line.strip() and not line.strip().startswith("SQLSTATE:")
    ]
    if not lines:
        return type(exc).__name__
    frames = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call")]
    if frames:
        tail = lines[frames[-1] + 1 :]
        # A JVM error wrapping the traceback goes on with its own stack ("\tat ...").
        jvm = next((i for i, line in enumerate(tail) if line.startswith("\tat ")), len(tail))
        tail = tail[:jvm]
        # Frame lines are indented; the exception and its message (maybe several lines) follow.
        last_frame = max((i for i, line in enumerate(tail) if line[:1].isspace()), default=-1)
        message = " ".join(line.strip() for line in tail[last_frame + 1 :])
        if message:
            return message[:500]
    return lines[0][:500]
