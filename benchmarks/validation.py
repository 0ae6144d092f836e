"""Validation throughput and peak memory: the full schema and expectations on a Parquet table.

    python -m benchmarks.validation PATH [REPEATS]

Runs in its own process (the suite starts it), so peak RSS is this run's own: it reads
the table as the validate stage does and validates it REPEATS times; prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from benchmarks.measure import median


def measure(path: str, repeats: int) -> dict:
    from ratchet.dataset import validation
    from ratchet.dataset.rawdata import read_raw

    start = time.perf_counter()
    df = read_raw(path)
    read_s = time.perf_counter() - start
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = validation.check(df, rows=(1, 10**9))
        times.append(time.perf_counter() - start)
        assert result.passed, [f.line() for f in result.errors]
    seconds = median(times)
    return {
        "rows": len(df),
        "read_s": read_s,
        "validate_s": seconds,
        "rows_per_s": len(df) / seconds,
        "frame_mib": df.memory_usage(deep=True).sum() / 2**20,
        "rss_after_read_mib": before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3)))
