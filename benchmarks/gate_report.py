"""The gate benchmark's results as Markdown: error rates, each change, and the cost. Pure."""

from __future__ import annotations

import statistics

from benchmarks.gate_changes import (
    DEGRADATION,
    METRICS,
    NOISE,
    beyond_allowance,
    fails,
    pairwise_point_fails,
)

START = "<!-- gate results: written by `python -m benchmarks.gate`; edit outside these markers -->"
END = "<!-- end of gate results -->"
SHORT = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "log_loss": "log loss", "brier": "Brier"}


def _deltas(values: dict[str, float]) -> str:
    return " / ".join(f"{values[m]:+.4f}" for m in METRICS)


def rates_table(data: dict) -> str:
    modes = data["modes"]
    head = "| changes | true regression beyond an allowance | " + " | ".join(
        f"`{m}` gate fails" for m in modes
    )
    lines = [head + " |", "| --- | ---: | " + " | ".join(["---:"] * len(modes)) + " |"]
    for group, label in ((NOISE, "noise only"), (DEGRADATION, "real degradation")):
        rows = [r for r in data["results"] if r["group"] == group]
        beyond = sum(bool(beyond_allowance(r, data["allowances"])) for r in rows)
        cells = [f"{f}/{n}" for f, n in (fails(data["results"], group, m) for m in modes)]
        lines.append(f"| {label} | {beyond}/{len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pairwise_line(data: dict) -> str:
    f, n = pairwise_point_fails(data["results"], data["allowances"])
    return (
        f"Plain point comparison over every ordered pair of noise samples of one kind (the "
        f"base is one of them; any could have been the base): **{f}/{n} false fails "
        f"({f / n:.0%})**."
    )


def _verdict(gate: dict) -> str:
    return "pass" if gate["passed"] else "FAIL " + ", ".join(gate["failed"])


def changes_table(data: dict) -> str:
    modes = data["modes"]
    metric_names = " / ".join(SHORT[m] for m in METRICS)
    head = (
        f"| change | what changed | test Δ ({metric_names}) | true Δ on held-out rows | "
        + " | ".join(f"`{m}` gate" for m in modes)
        + " |"
    )
    lines = [head, "| --- | --- | ---: | ---: | " + " | ".join(["---"] * len(modes)) + " |"]
    for r in data["results"]:
        verdicts = " | ".join(_verdict(r["gate"][m]) for m in modes)
        lines.append(
            f"| {r['name']} | {r['kind']} | {_deltas(r['test_delta'])} "
            f"| {_deltas(r['true_delta'])} | {verdicts} |"
        )
    return "\n".join(lines)


def kinds_table(data: dict) -> str:
    """Mean true effect of each kind of change: what the gate should see through noise."""
    kinds: dict[str, list[dict]] = {}
    for r in data["results"]:
        kind = r["kind"].split(" + ")[0] if r["group"] == DEGRADATION else "noise only"
        kinds.setdefault(kind, []).append(r)
    limits = data["allowances"]
    lines = [
        "| kind | changes | mean true Δ ("
        + " / ".join(SHORT[m] for m in METRICS)
        + ") | allowance (worse by at most) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for kind, rows in kinds.items():
        mean = {m: statistics.fmean(r["true_delta"][m] for r in rows) for m in METRICS}
        allowed = " / ".join(f"{limits[m]:.2f}" for m in METRICS)
        lines.append(f"| {kind} | {len(rows)} | {_deltas(mean)} | {allowed} |")
    return "\n".join(lines)


def cost_table(data: dict) -> str:
    lines = [
        "| gate mode | `ratchet report` s (median) | `ratchet gate` s (median) |",
        "| --- | ---: | ---: |",
    ]
    for m in data["modes"]:
        report_s = statistics.median(r["gate"][m]["report_s"] for r in data["results"])
        gate_s = statistics.median(r["gate"][m]["gate_s"] for r in data["results"])
        lines.append(f"| `{m}` | {report_s:.1f} | {gate_s:.1f} |")
    return "\n".join(lines)


def block(data: dict, info: dict) -> str:
    run = data["run"]
    mem = f"{info['memory_gib']:.1f} GiB RAM" if info["memory_gib"] else "RAM unknown"
    n = len(data["results"]) // 2
    return f"""{START}

### Gate error rates

Measured {run["date"]} with `{run["command"]}`: {n} noise-only changes and {n} real
degradations of a {data["rows"]:,}-row repository; true effects on {data["holdout"]:,}
held-out rows of another sample. Machine: {info["cores"]} cores, {mem}, {info["cpu"]}.
Wall time {run["wall_s"] / 60:.1f} min (base `dvc repro` {run["base_repro_s"]:.0f} s, a
change's `dvc repro` {data["median_repro_s"]:.0f} s median).

{rates_table(data)}

{pairwise_line(data)}

Mean true effect of each kind of change (Δ = change minus base; the gate's allowance is how
much worse each metric may get):

{kinds_table(data)}

Cost per change in CI, on top of `dvc repro`:

{cost_table(data)}

<details><summary>Every change: its Δ on the test split, its true Δ, the verdicts</summary>

{changes_table(data)}

</details>

{END}"""
