"""What the template costs, by data size: the pipeline against a bare script, and more.

For each size it runs the real pipeline (`dvc repro -f`) in a fresh copy of the template
with `sample.rows` set, the same work as one bare Python process with no DVC and no files
(the floor), a no-op `dvc repro`, validation throughput, `ratchet score` throughput and a
`ratchet drift` report. Each number is the median of --repeats runs. It prints the tables
and writes them, with the machine and the date, into --output between its markers.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from benchmarks import drift, pipeline, report, scoring
from benchmarks.measure import median, timed
from benchmarks.template import EXAMPLE, ROOT, params_text
from ratchet.dataset.contract import CONTRACT_FILE, ENV_VAR

PARTS = ("pipeline", "bare", "validation", "scoring", "drift")
HUGE = 10_000_000
DRIFT_REFERENCE_ROWS = 100_000


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__.splitlines()[0],
        epilog="scoring uses the model the pipeline run trains, so it needs 'pipeline'",
    )
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="table sizes (default: %(default)s)",
    )
    parser.add_argument("--huge", action="store_true", help=f"also {HUGE:,} rows (long)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per number (median)")
    parser.add_argument("--noop-repeats", type=int, default=5, help="no-op `dvc repro` runs")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="measure only these parts (default: all)",
    )
    report.add_output_arguments(parser)
    parser.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.huge and HUGE not in args.rows:
        args.rows.append(HUGE)
    if "scoring" in args.only and "pipeline" not in args.only:
        parser.error("--only scoring needs pipeline too (it scores with the pipeline's model)")
    if min(args.rows) < 1_000 or args.repeats < 1 or args.noop_repeats < 1:
        parser.error("--rows must be at least 1000 (validate.rows_min); repeats at least 1")
    return args


def measure_size(rows: int, args: argparse.Namespace, workdir: Path) -> dict:
    out: dict = {"rows": rows}
    if "pipeline" in args.only:
        out["pipeline"] = pipeline.measure(workdir, rows, args.repeats, args.noop_repeats)
        _say(f"{rows:,} rows: pipeline {out['pipeline']['end_to_end_s']:.1f} s")
    if "bare" in args.only:
        params_file = workdir / f"bare-params-{rows}.yaml"
        params_file.write_text(params_text(rows))
        cmd = [sys.executable, "-m", "benchmarks.bare", "--params", str(params_file)]
        runs = [timed(cmd, ROOT) for _ in range(args.repeats)]
        steps = [json.loads(r.stdout.strip().splitlines()[-1])["steps"] for r in runs]
        out["bare"] = {
            "seconds": median([r.seconds for r in runs]),
            "cpu_s": median([r.cpu_s for r in runs]),
            "peak_mib": median([r.peak_mib for r in runs]),
            "steps": {k: median([s[k] for s in steps]) for k in steps[0]},
        }
        _say(f"{rows:,} rows: bare {out['bare']['seconds']:.1f} s")
    if "validation" in args.only:
        from ratchet.dataset import sample

        path = workdir / f"validation-{rows}.parquet"
        sample.generate(rows, seed=1).to_parquet(path, index=False)
        cmd = [sys.executable, "-m", "benchmarks.validation", str(path), str(args.repeats)]
        out["validation"] = json.loads(timed(cmd, ROOT).stdout.strip().splitlines()[-1])
        path.unlink()
    if "scoring" in args.only:
        repo = Path(out["pipeline"]["repo"])
        runs = [scoring.measure(repo, rows) for _ in range(args.repeats)]
        out["scoring"] = {k: median([r[k] for r in runs]) for k in runs[0]}
    if "drift" in args.only:
        ref_rows = min(rows, DRIFT_REFERENCE_ROWS)
        runs = [drift.measure(workdir, rows, ref_rows) for _ in range(args.repeats)]
        out["drift"] = {
            **runs[0],
            "seconds": median([r["seconds"] for r in runs]),
            "peak_mib": median([r["peak_mib"] for r in runs]),
        }
    return out


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The suite measures the bundled sample, whatever data the root's contract describes:
    # every command it starts reads the example's contract.
    os.environ[ENV_VAR] = str(EXAMPLE / CONTRACT_FILE)
    run = {
        "date": report.now(),
        "command": "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv),
        "repeats": args.repeats,
        "noop_repeats": args.noop_repeats,
        "load_before": _load(),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="ratchet-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for rows in sorted(args.rows):
            results.append(measure_size(rows, args, workdir))
    run["load_after"] = _load()
    info = report.machine()
    text = report.block(results, info, run)
    print(text.split("\n", 1)[1].rsplit("\n", 1)[0].strip())
    report.write_page(args.output, text)
    if args.json:
        args.json.write_text(
            json.dumps({"run": run, "machine": info, "results": results}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
