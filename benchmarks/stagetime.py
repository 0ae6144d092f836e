"""Run one pipeline stage's command and append its wall time and peak RSS to a log.

The suite prefixes each stage's `cmd` in a benchmark copy of dvc.yaml with

    python -I benchmarks/stagetime.py LOG STAGE -- CMD...

so one `dvc repro -f` gives the end-to-end time and each stage's own numbers: wall time,
CPU time (user + system; on a machine shared with other work it moves far less than
the wall time) and peak RSS. It imports
only the standard library (about 20 ms a stage) and exits with the command's exit code.
"""

import json
import os
import subprocess
import sys
import time

_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


def main(argv: list[str]) -> int:
    log, stage, sep, *cmd = argv
    if sep != "--" or not cmd:
        raise SystemExit("usage: stagetime.py LOG STAGE -- CMD...")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss * _RSS_UNIT / 2**20
    cpu = usage.ru_utime + usage.ru_stime  # the command and the processes it waited for
    record = {"stage": stage, "seconds": seconds, "cpu_s": cpu, "peak_mib": peak, "rc": code}
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record))
        fh.write("\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
