"""Validation throughput and peak memory on large samples of the bundled schema.

    python -m benchmarks.validation --rows 1000000 10000000

Each size runs in a fresh process (so peak RSS is that run's own): it reads a Parquet
copy of the sample and validates it with the full schema and dataset expectations.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(path: str, repeats: int) -> dict:
    from ratchet import validate
    from ratchet.rawdata import read_raw

    start = time.perf_counter()
    df = read_raw(path)
    read_s = time.perf_counter() - start
    frame_mb = df.memory_usage(deep=True).sum() / 2**20
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = validate.check(df, rows=(1, 10**9))
        times.append(time.perf_counter() - start)
        assert result.passed, [f.line() for f in result.errors]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best = sorted(times)[len(times) // 2]
    return {
        "rows": len(df),
        "read_s": round(read_s, 2),
        "validate_s": round(best, 2),
        "rows_per_s": round(len(df) / best),
        "frame_mib": round(frame_mb),
        "peak_rss_mib": round(peak_mb),
        "rss_before_validate_mib": round(baseline_mb),
    }


def generate(path: str, rows: int) -> None:
    from ratchet import sample

    sample.generate(rows, seed=1).to_parquet(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        return generate(args.generate, args.rows[0])
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeats)))
        return

    header = ("rows", "read s", "check s", "rows/s", "frame MiB", "RSS read MiB", "peak MiB")
    widths = (11, 7, 8, 11, 10, 13, 9)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"sample_{rows}.parquet"
            # Generated in a child too: Linux carries a parent's peak RSS into a forked
            # child, so a parent that held the table would inflate the measured peak.
            subprocess.run(
                [sys.executable, "-m", "benchmarks.validation", "--generate", str(path),
                 "--rows", str(rows)],
                check=True,
            )  # fmt: skip
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.validation", "--measure", str(path),
                 "--repeats", str(args.repeats)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{r['rows']:>11,} {r['read_s']:>7} {r['validate_s']:>8} {r['rows_per_s']:>11,}"
                f" {r['frame_mib']:>10} {r['rss_before_validate_mib']:>13} {r['peak_rss_mib']:>9}"
            )
            path.unlink()


if __name__ == "__main__":
    main()
