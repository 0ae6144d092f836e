"""Base-vs-change plots as PNG files, from the plot definitions in dvc.yaml.

The curves are drawn with Vega-Lite (the grammar DVC's own plots use) and rendered by
vl-convert, in-process and offline: no Node, no browser, no network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ratchet.core.errors import RatchetError

MAX_POINTS = 400  # per curve: a 4,000-point PR curve looks the same and renders faster
WIDTH, HEIGHT = 360, 300
COLORS = ("#9e9e9e", "#1f6feb")  # base grey, this change blue


@dataclass(frozen=True)
class PlotDef:
    id: str
    x: str  # field of the x axis
    file: str  # the plot's data file (its first, if dvc.yaml lists several)
    y: str  # field of the y axis
    x_label: str
    y_label: str

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
        file, fields = next(iter(y.items()))
        field = fields if isinstance(fields, str) else fields[0]
        defs.append(
            PlotDef(
                plot_id,
                spec["x"],
                file,
                field,
                spec.get("x_label", spec["x"]),
                spec.get("y_label", field),
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


def render_png(vega_lite: dict[str, Any]) -> bytes:
    import vl_convert

    # No external data: the spec carries its values, and nothing may be fetched.
    return vl_convert.vegalite_to_png(vega_lite, scale=1.5, allowed_base_urls=[])
