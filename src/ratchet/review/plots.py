"""Base-vs-change plots as PNG files, from the plot definitions in dvc.yaml.

The plots are drawn with Vega-Lite (the grammar DVC's own plots use) and rendered by
vl-convert, in-process and offline: no Node, no browser, no network. Each of DVC's
built-in templates that the pipeline uses has a drawing here (`chart`):
- simple/linear/smooth (and any custom template): curves; one y-file is drawn as base vs
  this change, several y-files (per-class curves) in a colour each, base dashed;
- scatter: points, base vs this change;
- confusion / confusion_normalized: the count (or share of the `y` value's total) of every
  (y, x) pair, base and this change side by side;
- bar_horizontal(_sorted): bars per category, or a histogram outline when the categories
  are numbers (bin centres, which differ between the two sides).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ratchet.core.errors import RatchetError

MAX_POINTS = 400  # per curve: a 4,000-point PR curve looks the same and renders faster
WIDTH, HEIGHT = 360, 300
COLORS = ("#9e9e9e", "#1f6feb")  # base grey, this change blue
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
SCATTER = {"scatter", "scatter_jitter"}
CONFUSION = {"confusion", "confusion_normalized"}
BARS = {"bar_horizontal", "bar_horizontal_sorted"}

# rows of one plot: {side label: {data file: rows}}, the base first
Data = dict[str, dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class PlotDef:
    id: str
    x: str  # field of the x axis
    file: str  # the plot's first data file
    y: str  # its field of the y axis
    x_label: str
    y_label: str
    template: str = "simple"
    sources: tuple[tuple[str, str], ...] = ()  # every (data file, y field), in dvc.yaml order

    @property
    def filename(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.id.lower()).strip("-") + ".png"


def plot_defs(dvc_yaml: dict[str, Any], wanted: list[str], source: str) -> list[PlotDef]:
    """The dvc.yaml top-level plots named in params `report.plots`, in that order."""
    found: dict[str, dict] = {}
    for entry in dvc_yaml.get("plots") or []:
        if isinstance(entry, dict):
            for plot_id, spec in entry.items():
                found[plot_id] = spec or {}
    defs = []
    for plot_id in wanted:
        spec = found.get(plot_id)
        if spec is None:
            raise RatchetError(
                f"{source}: 'report.plots' names {plot_id!r}, which is not a plot in dvc.yaml"
            )
        y = spec.get("y")
        if not isinstance(spec.get("x"), str) or not isinstance(y, dict) or not y:
            raise RatchetError(
                f"dvc.yaml: plot {plot_id!r} needs 'x' (a field) and 'y' (file: field)"
            )
        sources = tuple(
            (file, fields if isinstance(fields, str) else fields[0]) for file, fields in y.items()
        )
        file, field = sources[0]
        defs.append(
            PlotDef(
                plot_id,
                spec["x"],
                file,
                field,
                spec.get("x_label", spec["x"]),
                spec.get("y_label", field),
                str(spec.get("template") or "simple"),
                sources,
            )
        )
    return defs


def points(text: str, source: str) -> list[dict[str, Any]]:
    """The rows of a plot file: a JSON list, or the first list in an object (as DVCLive writes)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RatchetError(f"{source}: cannot read JSON ({exc})") from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list):
        raise RatchetError(f"{source}: expected a list of points")
    return [row for row in data if isinstance(row, dict)]


def thin(rows: list[dict[str, Any]], limit: int = MAX_POINTS) -> list[dict[str, Any]]:
    """At most `limit` rows, evenly spaced, keeping the first and the last."""
    if len(rows) <= limit:
        return rows
    step = (len(rows) - 1) / (limit - 1)
    return [rows[round(i * step)] for i in range(limit)]


def spec(plot: PlotDef, series: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A Vega-Lite line chart; `series` maps a legend label to (x, y) rows in drawing order."""
    values = [
        {"x": row["x"], "y": row["y"], "series": label, "order": i}
        for label, rows in series.items()
        for i, row in enumerate(rows)
    ]
    labels = list(series)
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": plot.id,
        "width": WIDTH,
        "height": HEIGHT,
        "background": "white",
        "data": {"values": values},
        "mark": {"type": "line", "strokeWidth": 2},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": plot.x_label},
            "y": {"field": "y", "type": "quantitative", "title": plot.y_label},
            "color": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "sort": labels,
                "scale": {"domain": labels, "range": list(COLORS[-len(labels) :])},
                "legend": {"orient": "bottom-right"},
            },
            # Draw each curve in file order: a PR curve is not a function of recall.
            "order": {"field": "order", "type": "quantitative"},
        },
    }


def xy(rows: list[dict[str, Any]], x: str, y: str) -> list[dict[str, float]]:
    out = []
    for row in rows:
        if isinstance(row.get(x), int | float) and isinstance(row.get(y), int | float):
            out.append({"x": float(row[x]), "y": float(row[y])})
    return thin(out)


def _numbers(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows whose `fields` are all numbers (not booleans)."""
    return [
        r
        for r in rows
        if all(isinstance(r.get(f), int | float) and not isinstance(r.get(f), bool) for f in fields)
    ]


def _side_colors(labels: list[str]) -> dict[str, Any]:
    return {
        "field": "side",
        "type": "nominal",
        "title": None,
        "sort": labels,
        "scale": {"domain": labels, "range": list(COLORS[-len(labels) :])},
        "legend": {"orient": "bottom-right"},
    }


def _base(plot: PlotDef, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "title": plot.id,
        "background": "white",
        "data": {"values": values},
    }


def series_name(file: str) -> str:
    """A y-file's legend label: its name without the extension (the class key)."""
    return PurePosixPath(file).stem


def curves(plot: PlotDef, data: Data) -> dict[str, Any]:
    """Several y-files (one per class): a colour per file, the base dashed."""
    sides = list(data)
    values = [
        {"x": row["x"], "y": row["y"], "series": series_name(file), "side": side, "order": i}
        for side, files in data.items()
        for file, field in plot.sources
        if file in files
        for i, row in enumerate(xy(files[file], plot.x, field))
    ]
    return {
        **_base(plot, values),
        "width": WIDTH,
        "height": HEIGHT,
        "mark": {"type": "line", "strokeWidth": 2},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": plot.x_label},
            "y": {"field": "y", "type": "quantitative", "title": plot.y_label},
            "color": {"field": "series", "type": "nominal", "title": None},
            "strokeDash": {
                "field": "side",
                "type": "nominal",
                "title": None,
                "sort": sides,
                "scale": {"domain": sides, "range": [[4, 3], [1, 0]][-len(sides) :]},
            },
            "detail": {"field": "side"},
            "order": {"field": "order", "type": "quantitative"},
        },
    }


def scatter(plot: PlotDef, data: Data) -> dict[str, Any]:
    values = [
        {"x": r[plot.x], "y": r[plot.y], "side": side}
        for side, files in data.items()
        for r in _numbers(files.get(plot.file, []), (plot.x, plot.y))
    ]
    return {
        **_base(plot, values),
        "width": WIDTH,
        "height": HEIGHT,
        "mark": {"type": "circle", "size": 14, "opacity": 0.6},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": plot.x_label},
            "y": {"field": "y", "type": "quantitative", "title": plot.y_label},
            "color": _side_colors(list(data)),
        },
    }


def confusion_cells(
    rows: list[dict[str, Any]], x: str, y: str, normalized: bool, classes: list[str]
) -> list[dict[str, Any]]:
    """Every (y, x) pair of `classes` with its count; normalised, divided by the total of its
    y value (as DVC's confusion_normalized template does), so each y row sums to 1."""
    counts = Counter((str(r.get(y)), str(r.get(x))) for r in rows if x in r and y in r)
    totals = Counter(str(r.get(y)) for r in rows if x in r and y in r)
    cells = []
    for a in classes:
        for b in classes:
            n = counts[(a, b)]
            value = (n / totals[a] if totals[a] else 0.0) if normalized else n
            cells.append({"y": a, "x": b, "value": value})
    return cells


def confusion(plot: PlotDef, data: Data) -> dict[str, Any]:
    normalized = plot.template == "confusion_normalized"
    rows = {side: files.get(plot.file, []) for side, files in data.items()}
    classes = sorted(
        {str(r[f]) for side in rows.values() for r in side for f in (plot.x, plot.y) if f in r}
    )
    values = [
        {**cell, "side": side}
        for side, side_rows in rows.items()
        for cell in confusion_cells(side_rows, plot.x, plot.y, normalized, classes)
    ]
    size = min(WIDTH, 40 * max(len(classes), 3))
    color: dict[str, Any] = {"field": "value", "type": "quantitative", "title": None}
    if normalized:
        color["scale"] = {"domain": [0, 1]}
    return {
        **_base(plot, values),
        "facet": {
            "column": {"field": "side", "type": "nominal", "sort": list(data), "title": None}
        },
        "spec": {
            "width": size,
            "height": size,
            "encoding": {
                "x": {"field": "x", "type": "nominal", "sort": classes, "title": plot.x_label},
                "y": {"field": "y", "type": "nominal", "sort": classes, "title": plot.y_label},
            },
            "layer": [
                {"mark": "rect", "encoding": {"color": color}},
                {
                    "mark": "text",
                    "encoding": {
                        "text": {
                            "field": "value",
                            "type": "quantitative",
                            "format": ".2f" if normalized else "d",
                        }
                    },
                },
            ],
        },
    }


def bars(plot: PlotDef, data: Data) -> dict[str, Any]:
    """Value (x) per category (y). Categories that are numbers are bin centres, which differ
    between the two sides: drawn as histogram outlines (steps) on one number line."""
    rows = {side: files.get(plot.file, []) for side, files in data.items()}
    if all(_numbers(r, (plot.x, plot.y)) == r for r in rows.values()):
        outline = PlotDef(plot.id, plot.y, plot.file, plot.x, plot.y_label, plot.x_label)
        chart = spec(outline, {side: xy(r, plot.y, plot.x) for side, r in rows.items()})
        chart["mark"]["interpolate"] = "step"
        chart["encoding"]["color"]["legend"]["orient"] = "top-right"  # a histogram's tails are low
        return chart
    values = [
        {"category": str(r[plot.y]), "x": r[plot.x], "side": side}
        for side, side_rows in rows.items()
        for r in _numbers(side_rows, (plot.x,))
        if plot.y in r
    ]
    sort = "-x" if plot.template == "bar_horizontal_sorted" else "ascending"
    return {
        **_base(plot, values),
        "width": WIDTH,
        "height": {"step": 12},
        "mark": "bar",
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": plot.x_label},
            "y": {"field": "category", "type": "nominal", "sort": sort, "title": plot.y_label},
            "yOffset": {"field": "side", "sort": list(data)},
            "color": _side_colors(list(data)),
        },
    }


def chart(plot: PlotDef, data: Data) -> dict[str, Any]:
    """The Vega-Lite spec of a plot from its rows on each side, by its dvc.yaml template."""
    if plot.template in SCATTER:
        return scatter(plot, data)
    if plot.template in CONFUSION:
        return confusion(plot, data)
    if plot.template in BARS:
        return bars(plot, data)
    if len(plot.sources) > 1:
        return curves(plot, data)
    return spec(
        plot, {side: xy(files.get(plot.file, []), plot.x, plot.y) for side, files in data.items()}
    )


def render_png(vega_lite: dict[str, Any]) -> bytes:
    import vl_convert

    # No external data: the spec carries its values, and nothing may be fetched.
    return vl_convert.vegalite_to_png(vega_lite, scale=1.5, allowed_base_urls=[])
