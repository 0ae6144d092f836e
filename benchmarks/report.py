"""The results as Markdown tables, the goals' verdicts, and the machine they ran on."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from importlib import metadata
from pathlib import Path

START = "<!-- results: written by `python -m benchmarks`; edit outside these markers -->"
END = "<!-- end of results -->"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
PACKAGES = (
    "dvc",
    "dvclive",
    "pandas",
    "numpy",
    "pyarrow",
    "scikit-learn",
    "pandera",
    "evidently",
    "ruamel.yaml",
    "ruamel.yaml.clib",
)
# Bare-script step that does a stage's work.
STEP = {
    "sample": "generate",
    "validate": "validate",
    "featurize": "featurize",
    "train": "train",
    "evaluate": "evaluate",
}
GOALS = {
    "ratio_rows": 1_000_000,
    "ratio": 1.3,
    "memory_factor": 3.0,
    "noop_s": 1.5,
    "huge_rows": 10_000_000,
}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    mem_gib = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if "model name" in ln),
            cpu,
        )
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (OSError, ValueError):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def summary_table(results: list[dict]) -> str:
    head = (
        "| rows | `dvc repro -f` s | bare script s | pipeline / bare | fixed overhead s "
        "| DVC's own s | peak RSS MiB (pipeline / bare) | no-op `dvc repro` s "
        "| validate rows/s | score rows/s | drift report s |"
    )
    lines = [head, "| " + " | ".join(["---:"] * 11) + " |"]
    for r in results:
        p, b = r.get("pipeline"), r.get("bare")
        v, s, d = r.get("validation"), r.get("scoring"), r.get("drift")
        ratio = p["end_to_end_s"] / b["seconds"] if p and b else None
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{r['rows']:,}",
                    _num(p and p["end_to_end_s"]),
                    _num(b and b["seconds"]),
                    _num(ratio, 2) + ("x" if ratio else ""),
                    _num(p["end_to_end_s"] - b["seconds"] if p and b else None),
                    _num(p and p["dvc_overhead_s"]),
                    f"{_num(p and p['peak_mib'], 0)} / {_num(b and b['peak_mib'], 0)}",
                    _num(p and p["noop_s"], 2),
                    _num(v and v["rows_per_s"], 0),
                    _num(s and s["rows_per_s"], 0),
                    _num(d and d["seconds"]),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def stage_table(results: list[dict]) -> str:
    lines = [
        "| rows | stage | wall s | bare step s | peak RSS MiB | its table | table MiB "
        "| peak / table |",
        "| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        p, b = r.get("pipeline"), r.get("bare")
        if not p:
            continue
        for stage, s in p["stages"].items():
            step = b["steps"].get(STEP.get(stage, stage)) if b else None
            lines.append(
                f"| {r['rows']:,} | {stage} | {_num(s['seconds'])} | {_num(step)} "
                f"| {_num(s['peak_mib'], 0)} | `{s['table']}` | {_num(s['table_mib'], 0)} "
                f"| {_num(s['peak_mib'] / s['table_mib'], 1)}x |"
            )
    return "\n".join(lines)


def goals(results: list[dict]) -> list[tuple[str, str, str]]:
    """(goal, measured, verdict) for each goal of the suite."""
    by_rows = {r["rows"]: r for r in results}
    out = []
    r = by_rows.get(GOALS["ratio_rows"])
    if r and r.get("pipeline") and r.get("bare"):
        ratio = r["pipeline"]["end_to_end_s"] / r["bare"]["seconds"]
        verdict = "met" if ratio <= GOALS["ratio"] else "not met"
        out.append(("pipeline ≤ 1.3x the bare script at 1M rows", f"{ratio:.2f}x", verdict))
    else:
        out.append(("pipeline ≤ 1.3x the bare script at 1M rows", "-", "not measured"))
    small = min(
        (r for r in results if r.get("pipeline") and r.get("bare")),
        key=lambda r: r["rows"],
        default=None,
    )
    if small:
        extra = small["pipeline"]["end_to_end_s"] - small["bare"]["seconds"]
        out.append(
            (
                f"fixed overhead at {small['rows']:,} rows (stated)",
                f"{extra:.1f} s over the bare script",
                "stated",
            )
        )
    measured = [r for r in results if r.get("pipeline")]
    if measured:
        big = max(measured, key=lambda r: r["rows"])
        stage, s = max(
            big["pipeline"]["stages"].items(), key=lambda kv: kv[1]["peak_mib"] / kv[1]["table_mib"]
        )
        factor = s["peak_mib"] / s["table_mib"]
        verdict = "met" if factor <= GOALS["memory_factor"] else "not met"
        out.append(
            (
                f"every stage's peak RSS ≤ 3x its table (at {big['rows']:,} rows)",
                f"worst: {stage} {factor:.1f}x",
                verdict,
            )
        )
        noop = max(r["pipeline"]["noop_s"] for r in measured)
        out.append(
            (
                "no-op `dvc repro` ≤ 1.5 s",
                f"{noop:.2f} s (slowest size)",
                "met" if noop <= GOALS["noop_s"] else "not met",
            )
        )
    huge = by_rows.get(GOALS["huge_rows"])
    if huge and huge.get("pipeline"):
        out.append(
            (
                "10M rows end to end on this machine",
                f"{huge['pipeline']['end_to_end_s'] / 60:.1f} min, "
                f"peak {huge['pipeline']['peak_mib'] / 1024:.1f} GiB",
                "met",
            )
        )
    else:
        out.append(("10M rows end to end on this machine", "-", "not run (`--huge`)"))
    return out


def block(results: list[dict], info: dict, run: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    mem = f"{info['memory_gib']:.1f} GiB RAM" if info["memory_gib"] else "RAM unknown"
    goal_rows = "\n".join(f"| {g} | {m} | {v} |" for g, m, v in goals(results))
    return f"""{START}

Measured {run["date"]} with `{run["command"]}`: median of {run["repeats"]} run(s) per
number (no-op: median of {run["noop_repeats"]}). Load average before / after:
{run["load_before"]} / {run["load_after"]}.

**Machine**: {info["cores"]} cores, {mem}, {info["cpu"]}; {info["os"]}; Python
{info["python"]}; {versions}.

### Pipeline against the bare script

{summary_table(results)}

### Stages

{stage_table(results)}

### Goals

| goal | measured | verdict |
| --- | --- | --- |
{goal_rows}

{END}"""


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """--output (the Markdown page) and --json (raw results): every benchmark writes both."""
    parser.add_argument(
        "--output",
        type=Path,
        default=PAGE,
        help="Markdown page to write (default: docs/benchmarks.md)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")


def write_page(path: Path, text: str, start: str = START, end: str = END) -> None:
    """Replace the results between the markers, keeping what is written around them.

    A page without the markers gets the block appended (another benchmark's section)."""
    if path.exists():
        page = path.read_text(encoding="utf-8")
        if start in page and end in page:
            head, _, rest = page.partition(start)
            _, _, tail = rest.partition(end)
            path.write_text(head + text + tail, encoding="utf-8")
            return
        path.write_text(page.rstrip("\n") + f"\n\n{text}\n", encoding="utf-8")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks\n\n{text}\n", encoding="utf-8")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
