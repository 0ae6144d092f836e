"""`ratchet report`: one Markdown report of what this change does to the model.

Written for a pull-request comment: the verdict first, then the numbers a reviewer needs,
short enough to read at a glance and always under GitHub's comment size limit.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ratchet import __version__
from ratchet.core import gitrev, io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import ReportParams
from ratchet.review import plots
from ratchet.review.compare import (
    DVC_YAML,
    Comparison,
    collect,
    parse_json_object,
    read_current,
)
from ratchet.review.rules import describe, fmt, fmt_delta, fmt_interval, number

# GitHub rejects comments over 65,536 characters; CML adds a watermark and swaps image
# paths for URLs, so keep a margin.
MAX_CHARS = 60_000
MAX_PARAM_ROWS = 40
MAX_METRIC_ROWS = 40
MAX_WARNINGS = 20
DATA_KEYS = (("rows", "rows"), ("label_rate", "label rate"), ("target_mean", "target mean"))
TITLE = "Ratchet report"
ABSENT = object()  # a params key one side does not have


@dataclass
class Extras:
    """What the report shows beyond the gate: data, warnings, plots."""

    base_data: dict[str, Any] | None = None
    current_data: dict[str, Any] | None = None
    warnings: list[Any] = field(default_factory=list)
    plot_files: list[tuple[str, str]] = field(default_factory=list)  # (plot id, relative path)
    embed_images: bool = True
    dirty: bool = False


def verdict(cmp: Comparison) -> str:
    if cmp.passed:
        primary = next(c for c in cmp.checks if c.metric == cmp.gate.primary)
        base, current = primary.compared
        change = f"{fmt(base)} → {fmt(current)}"
        if primary.delta is not None:
            change += f", {fmt_delta(primary.delta)}"
        if primary.paired is not None:
            change += f" {fmt_interval(primary.paired)}"
        n = len(cmp.checks)
        return f"### ✅ Gate passes: {n} of {n} rules pass ({primary.metric} {change})"
    return "### ❌ Gate fails: " + "; ".join(cmp.failures)


def notices(cmp: Comparison) -> list[str]:
    out = []
    if cmp.dataset_switch:
        out.append(
            f"> 🆕 **New baseline:** {cmp.dataset_switch}. The base's metrics describe other "
            "data, so regression limits are skipped; this change's floors and ceilings apply. "
            "A human should review the dataset switch and the gate rules."
        )
    elif cmp.base_metrics is None:
        out.append(
            f"> 📭 **No base metrics:** `{cmp.base_rev}` has no `{cmp.gate.metrics}` yet (first "
            "run of the pipeline), so there is nothing to regress from: only the floors and "
            "ceilings apply."
        )
    if not cmp.rules_from_base and not cmp.dataset_switch:
        out.append(
            f"> 📌 `{cmp.base_rev}` has no `gate` rules in `{cmp.params_path}`: this change's "
            "rules are used."
        )
    if cmp.rules_changed:
        out.append(
            f"> ⚠️ **Gate rules changed.** This change edits `gate` in `{cmp.params_path}`; it "
            f"is checked under the rules of `{cmp.base_rev}`, and the new rules apply after "
            "merge. A human should review the rule change."
        )
    return out


def metrics_table(cmp: Comparison) -> list[str]:
    gated = {c.metric: c for c in cmp.checks}
    base, current = cmp.base_metrics or {}, cmp.current_metrics or {}
    if cmp.dataset_switch:
        base = {}  # another dataset's numbers: no column to compare with, no delta
    others = sorted((set(base) | set(current)) - set(gated))
    names = [*gated, *others]
    level = f"{cmp.gate.confidence:.0%}"
    rows = [
        f"| metric | base `{cmp.base_sha[:7]}` | this change | Δ | {level} interval | rule "
        "| result |",
        "| --- | ---: | ---: | ---: | :---: | --- | --- |",
    ]
    for name in names[:MAX_METRIC_ROWS]:
        b, c = number(base.get(name)), number(current.get(name))
        check = gated.get(name)
        interval = ""
        if check is not None and check.paired is not None:
            # Gated and paired: both models' values on the same rows, and the interval.
            b, c = check.paired.base, check.paired.new
            interval = f"{fmt_interval(check.paired)} {check.paired.method}"
        delta = None if b is None or c is None else c - b
        if check is None:
            rule, result = "", ""
        else:
            rule = describe(check.rule)
            result = "✅ pass" if check.passed else "❌ " + "; ".join(check.failures)
        shown_c = fmt(c) if c is not None or name not in current else f"`{current[name]!r}`"
        rows.append(
            f"| {name} | {fmt(b)} | {shown_c} | {fmt_delta(delta)} | {interval} | {rule} "
            f"| {result} |"
        )
    if len(names) > MAX_METRIC_ROWS:
        rows.append(f"| … {len(names) - MAX_METRIC_ROWS} more | | | | | | |")
    return rows


def pairing_lines(cmp: Comparison) -> list[str]:
    """How the gated metrics were compared: on the same rows (how many, where the base
    model came from), or why not; and what the interval and the verdict mean."""
    if cmp.pairing is None:
        if cmp.gate.compare == "point" and cmp.base_metrics and not cmp.dataset_switch:
            return ["Committed metrics compared as plain numbers (`gate.compare: point`)."]
        return []
    if cmp.pairing.note:
        return [f"> 📎 **Not paired:** {cmp.pairing.summary(cmp.base_sha)}."]
    return [
        f"Gated metrics {cmp.pairing.summary(cmp.base_sha)}. Δ is this change minus the "
        f"base on those rows; the interval is its {cmp.gate.confidence:.0%} paired interval "
        "(DeLong for ROC AUC, else a seeded bootstrap). A regression fails only when it "
        "exceeds its allowance and the interval lies wholly on the worse side of 0."
    ]


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key in data:
            out.update(flatten(data[key], f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def params_changes(base: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, base value, this change's value) for every key that differs, sorted."""
    b, c = flatten(base), flatten(current)
    return [
        (key, b.get(key, ABSENT), c.get(key, ABSENT))
        for key in sorted(set(b) | set(c))
        if b.get(key, ABSENT) != c.get(key, ABSENT)
    ]


def _value(v: Any) -> str:
    if v is ABSENT:
        return "*(absent)*"
    return "`" + json.dumps(v, sort_keys=True) + "`"


def params_section(cmp: Comparison) -> list[str]:
    changes = params_changes(cmp.base_params, cmp.current_params)
    if not changes:
        return ["No parameter changes."]
    rows = ["| param | base | this change |", "| --- | --- | --- |"]
    rows += [f"| {k} | {_value(b)} | {_value(c)} |" for k, b, c in changes[:MAX_PARAM_ROWS]]
    if len(changes) > MAX_PARAM_ROWS:
        rows.append(f"| … {len(changes) - MAX_PARAM_ROWS} more | | |")
    return rows


def _count(value: float | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def data_section(extras: Extras) -> list[str]:
    if extras.current_data is None and extras.base_data is None:
        return ["No data metrics."]
    base, current = dict(extras.base_data or {}), dict(extras.current_data or {})
    rows = ["| data | base | this change | Δ |", "| --- | ---: | ---: | ---: |"]
    keys = [(k, label) for k, label in DATA_KEYS if k in base or k in current]
    shares = [base.get("class_share") or {}, current.get("class_share") or {}]
    for name in dict.fromkeys([*shares[1], *shares[0]]):  # a multiclass target's classes
        base[f"share {name}"] = shares[0].get(name)
        current[f"share {name}"] = shares[1].get(name)
        keys.append((f"share {name}", f"share of {name}"))
    for key, label in keys:
        b, c = number(base.get(key)), number(current.get(key))
        delta = None if b is None or c is None else c - b
        if key == "rows":  # a count: 500 rows, not 500.0000
            shown = "—" if delta is None else f"{int(delta):+,}"
            rows.append(f"| {label} | {_count(b)} | {_count(c)} | {shown} |")
        else:
            rows.append(f"| {label} | {fmt(b)} | {fmt(c)} | {fmt_delta(delta)} |")
    return rows


def plots_section(extras: Extras) -> list[str]:
    if not extras.plot_files:
        return []
    if extras.embed_images:
        return [" ".join(f"![{pid}]({path})" for pid, path in extras.plot_files)]
    names = ", ".join(f"`{path}`" for _, path in extras.plot_files)
    return [f"Plots are in the workflow run's `ratchet-report` artifact: {names}."]


def _warning_text(item: Any) -> str:
    if isinstance(item, dict):
        text = "; ".join(f"{k}: {item[k]}" for k in sorted(item))
    else:
        text = str(item)
    return " ".join(text.split())[:300]


def warnings_section(extras: Extras) -> list[str]:
    items = [f"- {_warning_text(w)}" for w in extras.warnings[:MAX_WARNINGS]]
    if len(extras.warnings) > MAX_WARNINGS:
        items.append(f"- … {len(extras.warnings) - MAX_WARNINGS} more in reports/validation.json")
    return items


def render(cmp: Comparison, extras: Extras) -> str:
    head = f"`{cmp.head_sha[:7]}`" + (" plus uncommitted changes" if extras.dirty else "")
    parts = [
        verdict(cmp),
        "",
        f"**{TITLE}**: this change ({head}) against `{cmp.base_rev}` (`{cmp.base_sha[:7]}`), "
        f"under the gate rules of {'the base' if cmp.rules_from_base else 'this change'}.",
        "",
    ]
    for notice in notices(cmp):
        parts += [notice, ""]
    parts += ["#### Metrics", "", *metrics_table(cmp), ""]
    paired_note = pairing_lines(cmp)
    if paired_note:
        parts += [*paired_note, ""]
    parts += ["#### Parameters changed", "", *params_section(cmp), ""]
    parts += ["#### Data", "", *data_section(extras), ""]
    shown = plots_section(extras)
    if shown:
        parts += ["#### Plots: base vs this change", "", *shown, ""]
    warned = warnings_section(extras)
    if warned:
        parts += ["#### Validation warnings", "", *warned, ""]
    parts += [
        "---",
        f"<sub>base `{cmp.base_sha}` · this change `{cmp.head_sha}` · ratchet {__version__}</sub>",
        "",
    ]
    return fit("\n".join(parts))


def fit(text: str, limit: int = MAX_CHARS) -> str:
    """Cut at a line break if the report would not fit in a comment (the verdict is first)."""
    if len(text) <= limit:
        return text
    note = "\n\n… report truncated to fit a comment; the full report is in the workflow artifact.\n"
    cut = text.rfind("\n", 0, limit - len(note))
    return text[:cut] + note


def read_warnings(path: str) -> list[Any]:
    """The `warnings` list of the validation report, if it has one."""
    text = read_current(path)
    if text is None:
        return []
    data = parse_json_object(text, path)
    found = data.get("warnings", [])
    if not isinstance(found, list):
        raise RatchetError(f"{path}: 'warnings' must be a list")
    return found


def write_plots(
    cmp: Comparison, wanted: list[str], out_dir: Path, base_label: str
) -> list[tuple[str, str]]:
    """Render each plot to `out_dir/plots/`; return (id, path relative to the report)."""
    dvc_yaml = params.parse_yaml(read_current(DVC_YAML) or "", DVC_YAML)
    written = []
    for plot in plots.plot_defs(dvc_yaml, wanted, cmp.params_path):
        data: plots.Data = {}
        for label, read, where in (
            (base_label, lambda f: gitrev.show(cmp.base_sha, f), f"{cmp.base_rev}:"),
            ("this change", read_current, ""),
        ):
            files = {}
            for file, _ in plot.sources:
                text = read(file)
                if text is not None:
                    files[file] = plots.points(text, f"{where}{file}")
            if files:
                data[label] = files
        if not data:
            continue
        relative = f"plots/{plot.filename}"
        png = plots.render_png(plots.chart(plot, data))
        with io.atomic_path(out_dir / relative) as tmp:
            tmp.write_bytes(png)
        written.append((plot.id, relative))
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="git revision to compare with (e.g. main)")
    parser.add_argument(
        "--output", default="reports/pr/report.md", help="Markdown report (default: %(default)s)"
    )
    parser.add_argument(
        "--summary", help="also write a variant without images (e.g. for $GITHUB_STEP_SUMMARY)"
    )
    parser.add_argument(
        "--data-metrics", default="metrics/data.json", help="data metrics (default: %(default)s)"
    )
    parser.add_argument(
        "--validation",
        default="reports/validation.json",
        help="validation report (default: %(default)s)",
    )


def command(args: argparse.Namespace) -> int:
    settings = params.section("report", ReportParams, args.params)
    cmp = collect(args.base, args.params)
    base_data_text = gitrev.show(cmp.base_sha, args.data_metrics)
    current_data_text = read_current(args.data_metrics)
    output = Path(args.output)
    extras = Extras(
        base_data=None
        if base_data_text is None
        else parse_json_object(base_data_text, f"{args.base}:{args.data_metrics}"),
        current_data=None
        if current_data_text is None
        else parse_json_object(current_data_text, args.data_metrics),
        warnings=read_warnings(args.validation),
        plot_files=write_plots(cmp, settings.plots, output.parent, f"base {cmp.base_sha[:7]}"),
        embed_images=settings.publish_images,
        dirty=gitrev.dirty(),
    )
    text = render(cmp, extras)
    io.write_text(output, text)
    if args.summary:
        extras.embed_images = False
        io.write_text(args.summary, render(cmp, extras))
    print(f"{output}: {'pass' if cmp.passed else 'fail'}, {len(text):,} characters")
    return 0
