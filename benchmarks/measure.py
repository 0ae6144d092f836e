"""Wall time and peak memory of a command, and medians of repeated runs."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.template import BIN

# ru_maxrss is in KiB on Linux and in bytes on macOS.
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float  # the largest resident set of the command or any process it waited for
    returncode: int
    stdout: str
    stderr: str


def timed(cmd: list[str], cwd: str | os.PathLike, ok: tuple[int, ...] = (0,)) -> Run:
    """Run `cmd`, measuring its wall time and peak RSS (os.wait4: no polling, no psutil)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        run = Run(
            seconds, usage.ru_maxrss * _RSS_UNIT / 2**20, proc.returncode, out.read(), err.read()
        )
    if run.returncode not in ok:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} (in {cwd}) exited {run.returncode}\n"
            f"{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
        )
    return run


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def mib(nbytes: float) -> float:
    return nbytes / 2**20


def file_mib(path: str | os.PathLike) -> float:
    return mib(Path(path).stat().st_size)
