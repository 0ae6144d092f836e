"""Wall time and peak memory of a command, and medians of repeated runs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.template import BIN


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_s: float  # user + system CPU of the command and the processes it waited for
    peak_mib: float  # the largest resident set of the command or any process it waited for
    returncode: int
    stdout: str
    stderr: str


STAGETIME = Path(__file__).with_name("stagetime.py")


def timed(cmd: list[str], cwd: str | os.PathLike, ok: tuple[int, ...] = (0,)) -> Run:
    """Run `cmd`, measuring its wall time and peak RSS (os.wait4: no polling, no psutil).

    The command starts from a small standard-library launcher (stagetime.py): Linux carries
    a process's peak RSS into the children it forks, so a child forked from this process,
    which may have held large tables, would report this process's peak as its own.
    """
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        log = Path(tmp) / "run.jsonl"
        launcher = [sys.executable, "-I", str(STAGETIME), str(log), "command", "--"]
        proc = subprocess.run(
            [*launcher, *map(str, cmd)], cwd=cwd, env=env, stdout=out, stderr=err, text=True
        )
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        lines = log.read_text().splitlines() if log.exists() else []
        if not lines:
            raise RuntimeError(f"{' '.join(map(str, cmd))} (in {cwd}) did not start\n{stderr}")
        record = json.loads(lines[-1])
        run = Run(
            record["seconds"],
            record["cpu_s"],
            record["peak_mib"],
            proc.returncode,
            stdout,
            stderr,
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
