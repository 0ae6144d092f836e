"""The pipeline at one size: `dvc repro -f` end to end and per stage, and a no-op `dvc repro`.

Runs in a fresh copy of the template (`make_template_repo`) with `sample.rows` set, so the
real pipeline runs. Each stage's command is wrapped by `stagetime.py` in that copy's
dvc.yaml: one forced run gives the end-to-end time and every stage's wall time and peak
RSS; DVC's own share is the end-to-end time less the stages'.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import yaml

from benchmarks.measure import median, mib, timed
from benchmarks.template import make_template_repo

STAGETIME = Path(__file__).with_name("stagetime.py")
TABLE_SUFFIXES = (".csv", ".parquet")


def _path(entry: str | dict) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def stage_tables(dvc_yaml: dict) -> dict[str, str]:
    """Per stage, the table it works on: its first table dependency, else its first table out."""
    tables = {}
    for name, spec in dvc_yaml["stages"].items():
        paths = [_path(d) for d in spec.get("deps", [])] + [_path(o) for o in spec["outs"]]
        tables[name] = next(p for p in paths if p.endswith(TABLE_SUFFIXES))
    return tables


def instrument(repo: Path, log: Path) -> list[str]:
    """Wrap every stage's command in repo's dvc.yaml with stagetime.py; return stage names."""
    path = repo / "dvc.yaml"
    doc = yaml.safe_load(path.read_text())
    for name, spec in doc["stages"].items():
        prefix = [sys.executable, "-I", str(STAGETIME), str(log), name, "--"]
        spec["cmd"] = shlex.join(prefix) + " " + " ".join(spec["cmd"].split())
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return list(doc["stages"])


def table_mib(path: Path) -> float:
    """In-memory size of a table as its stage reads it (pandas, deep)."""
    from ratchet.core import io
    from ratchet.dataset.rawdata import read_raw

    frame = read_raw(path) if path.suffix == ".csv" else io.read_parquet(path)
    return mib(frame.memory_usage(deep=True).sum())


def measure(workdir: Path, rows: int, repeats: int, noop_repeats: int) -> dict:
    """Run the pipeline `repeats` times forced and `noop_repeats` times up to date."""
    repo = make_template_repo(workdir / f"pipeline-{rows}", rows)
    log = workdir / f"stages-{rows}.jsonl"
    stages = instrument(repo, log)
    forced = []
    for _ in range(repeats):
        log.unlink(missing_ok=True)
        run = timed(["dvc", "repro", "-f"], repo)
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        forced.append(
            {"seconds": run.seconds, "cpu_s": run.cpu_s, "peak_mib": run.peak_mib, "stages": lines}
        )
    timed(["dvc", "repro"], repo)  # settles DVC's state database after the forced runs
    noop = [timed(["dvc", "repro"], repo).seconds for _ in range(noop_repeats)]

    tables = stage_tables(yaml.safe_load((repo / "dvc.yaml").read_text()))
    per_stage = {}
    for stage in stages:
        runs = [s for f in forced for s in f["stages"] if s["stage"] == stage]
        per_stage[stage] = {
            "seconds": median([s["seconds"] for s in runs]),
            "cpu_s": median([s["cpu_s"] for s in runs]),
            "peak_mib": median([s["peak_mib"] for s in runs]),
            "table": tables[stage],
            "table_mib": table_mib(repo / tables[stage]),
        }
    end_to_end = median([f["seconds"] for f in forced])
    return {
        "repo": str(repo),
        "end_to_end_s": end_to_end,
        "end_to_end_runs_s": [f["seconds"] for f in forced],
        "end_to_end_cpu_s": median([f["cpu_s"] for f in forced]),
        "peak_mib": max(f["peak_mib"] for f in forced),
        "stages": per_stage,
        "dvc_overhead_s": median(
            [f["seconds"] - sum(s["seconds"] for s in f["stages"]) for f in forced]
        ),
        "noop_s": median(noop),
        "noop_runs_s": noop,
    }
