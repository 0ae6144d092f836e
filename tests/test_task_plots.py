"""The plots evaluate writes for multiclass and regression, against scikit-learn's and
numpy's own numbers; dvc.yaml declares exactly those files; and the pull-request report
draws every plot of the task, base vs this change, as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn import metrics as skm

from conftest import BIN, project_files, run
from ratchet.core.params import EvaluateParams, FeaturizeParams, parse_section
from ratchet.dataset import contract, wiring
from ratchet.pipeline import evaluate, model
from ratchet.pipeline.featurize import split
from ratchet.review import plots
from task_fixtures import toy_contract, toy_model, toy_table
from test_pr_gate import png_size

LIVE = "live/eval"


def evaluated(tmp_path: Path, task: str, repo_params: dict) -> tuple[Path, object]:
    """Evaluate a toy model of `task` on its test split; the DVCLive directory and the split."""
    path = toy_model(tmp_path / "model", task, repo_params)
    with contract.use(toy_contract(task)):
        _, test = split(toy_table(task), FeaturizeParams(test_size=0.3, seed=0))
        test.to_parquet(tmp_path / "test.parquet")
        ep = parse_section("evaluate", EvaluateParams, repo_params)
        evaluate.run(path, tmp_path / "test.parquet", tmp_path / "p.parquet", tmp_path / LIVE, ep)
    return tmp_path / LIVE, test


def declared(task: str, keys: list[str]) -> set[str]:
    """The data files dvc.yaml's plots name for `task`, relative to the DVCLive directory."""
    prefix = "metrics/evaluate/"
    return {
        file.removeprefix(prefix)
        for p in wiring.task_plots(task, keys)
        for spec in p.values()
        for file in spec["y"]
    }


def test_multiclass_plots_are_scikit_learns(tmp_path, repo_params, monkeypatch):
    monkeypatch.chdir(project_files(tmp_path))
    live, test = evaluated(tmp_path, "multiclass", repo_params)
    written = {str(p.relative_to(live)) for p in (live / "plots").rglob("*.json")}
    assert written == declared("multiclass", ["a", "b", "c"])
    y = test["y"].to_numpy(dtype="int64")
    pipeline = model.load(tmp_path / "model/model.skops")
    proba = pipeline.predict_proba(evaluate._features(test))
    for k, key in enumerate("abc"):
        rows = json.loads(
            (live / f"plots/sklearn/precision_recall_by_class/{key}.json").read_text()
        )
        p, r, t = skm.precision_recall_curve(y == k, proba[:, k], drop_intermediate=True)
        rows = rows["precision_recall"]
        assert len(rows) == len(t) > 2
        np.testing.assert_allclose([row["precision"] for row in rows], p[:-1])
        np.testing.assert_allclose([row["recall"] for row in rows], r[:-1])
    # The normalised matrix, as dvc.yaml defines it (each actual class's row sums to 1),
    # is scikit-learn's confusion_matrix normalised over the true class.
    spec = next(
        p for p in wiring.task_plots("multiclass", []) if "Confusion-Matrix-Normalized" in p
    )
    spec = spec["Confusion-Matrix-Normalized"]
    ((file, field),) = spec["y"].items()
    rows = json.loads((live / file.removeprefix("metrics/evaluate/")).read_text())
    cells = plots.confusion_cells(rows, spec["x"], field, True, ["a", "b", "c"])
    matrix = np.array([c["value"] for c in cells]).reshape(3, 3)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    expected = skm.confusion_matrix(y, proba.argmax(axis=1), normalize="true")
    np.testing.assert_allclose(matrix, expected)
    counts = plots.confusion_cells(rows, "actual", "predicted", False, ["a", "b", "c"])
    assert sum(c["value"] for c in counts) == len(test)


def test_regression_histogram_counts_every_test_row(tmp_path, repo_params, monkeypatch):
    monkeypatch.chdir(project_files(tmp_path))
    live, test = evaluated(tmp_path, "regression", repo_params)
    written = {str(p.relative_to(live)) for p in (live / "plots").rglob("*.json")}
    assert written == declared("regression", [])
    rows = json.loads((live / "plots/custom/residual_histogram.json").read_text())
    pipeline = model.load(tmp_path / "model/model.skops")
    residuals = test["y"].to_numpy() - pipeline.predict(evaluate._features(test))
    counts, edges = np.histogram(residuals, bins="sturges")
    assert [r["count"] for r in rows] == counts.tolist()
    assert sum(r["count"] for r in rows) == len(test)
    np.testing.assert_allclose([r["low"] for r in rows], edges[:-1], atol=1e-6)
    np.testing.assert_allclose(
        [r["residual"] for r in rows], (edges[:-1] + edges[1:]) / 2, atol=1e-6
    )


def test_residual_histogram_bins_by_sturges():
    rows = evaluate.residual_histogram(np.arange(100.0))
    assert len(rows) == 8  # log2(100) + 1, rounded up
    assert rows[0]["low"] == 0.0 and rows[-1]["high"] == 99.0
    assert sum(r["count"] for r in rows) == 100


def test_init_declares_one_precision_recall_file_per_class():
    dvc = (Path(__file__).resolve().parent.parent / "dvc.yaml").read_text()
    text, _ = wiring.retask_pipeline(dvc, "multiclass", ["barbera", "barolo"])
    doc = yaml.safe_load(text)
    by_id = {k: v for p in doc["plots"] for k, v in p.items()}
    assert list(by_id["Precision-Recall-by-Class"]["y"]) == [
        f"{wiring.PER_CLASS_PR_DIR}/barbera.json", f"{wiring.PER_CLASS_PR_DIR}/barolo.json",
    ]  # fmt: skip
    assert by_id["Confusion-Matrix-Normalized"]["template"] == "confusion_normalized"
    assert wiring.retask_pipeline(text, "multiclass", ["barbera", "barolo"]) == (text, [])
    # Other classes: the per-class files are declared again.
    again, _ = wiring.retask_pipeline(text, "multiclass", ["x", "y", "z"])
    assert "precision_recall_by_class/z.json" in again and "barolo" not in again


def two_sides(rows_base, rows_change, file="f.json") -> plots.Data:
    return {"base abc1234": {file: rows_base}, "this change": {file: rows_change}}


def plot_def(template: str, x: str, y: str, sources=(("f.json", None),)) -> plots.PlotDef:
    sources = tuple((f, field or y) for f, field in sources)
    return plots.PlotDef("P", x, sources[0][0], y, x, y, template, sources)


def test_every_template_draws_both_sides():
    rng = np.random.default_rng(0)
    cm = [{"actual": str(a), "predicted": str(p)} for a, p in rng.integers(0, 3, (50, 2))]
    scatter = [{"actual": float(a), "predicted": float(a) + 1} for a in rng.normal(size=30)]
    bars = [{"feature": f, "importance": float(rng.random())} for f in "xyz"]
    hist = evaluate.residual_histogram(rng.normal(size=200))
    cases = [
        (plot_def("confusion", "actual", "predicted"), two_sides(cm, cm[:40])),
        (plot_def("confusion_normalized", "predicted", "actual"), two_sides(cm, cm[:40])),
        (plot_def("scatter", "actual", "predicted"), two_sides(scatter, scatter)),
        (plot_def("bar_horizontal_sorted", "importance", "feature"), two_sides(bars, bars)),
        (plot_def("bar_horizontal", "count", "residual"), two_sides(hist, hist[1:])),
    ]
    for plot, data in cases:
        chart = plots.chart(plot, data)
        values = chart["data"]["values"]
        sides = {v.get("side", v.get("series")) for v in values}
        assert sides == {"base abc1234", "this change"}, plot.template
        assert plots.render_png(chart)[:8] == b"\x89PNG\r\n\x1a\n"
    cells = plots.chart(*cases[1])["data"]["values"]
    for side in ("base abc1234", "this change"):
        for actual in "012":
            row = [c["value"] for c in cells if c["side"] == side and c["y"] == actual]
            assert len(row) == 3 and sum(row) == pytest.approx(1.0)


def test_per_class_curves_have_a_series_per_file_and_side():
    pr = [{"recall": 1.0, "precision": 0.5}, {"recall": 0.0, "precision": 1.0}]
    plot = plot_def("simple", "recall", "precision", (("d/a.json", None), ("d/b.json", None)))
    data = {"base": {"d/a.json": pr, "d/b.json": pr}, "this change": {"d/a.json": pr}}
    values = plots.chart(plot, data)["data"]["values"]
    assert {(v["series"], v["side"]) for v in values} == {
        ("a", "base"), ("b", "base"), ("a", "this change"),
    }  # fmt: skip
    assert plots.render_png(plots.chart(plot, data))[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.parametrize(("table", "target"), [("wines", "cultivar"), ("patients", "progression")])
def test_report_draws_every_plot_of_the_task(tmp_path, table, target):
    import test_tasks

    repo, _ = test_tasks.adopt(tmp_path, getattr(test_tasks, table)(), target)
    wanted = yaml.safe_load((repo / "params.yaml").read_text())["report"]["plots"]
    declared_ids = [next(iter(p)) for p in yaml.safe_load((repo / "dvc.yaml").read_text())["plots"]]
    assert wanted == declared_ids
    test_tasks.git(repo, "checkout", "-q", "-b", "fewer-trees")
    path = repo / "params.yaml"
    path.write_text(path.read_text().replace("max_iter: 200", "max_iter: 20", 1))
    run(["dvc", "repro", "-q"], repo)
    test_tasks.git(repo, "commit", "-qam", "Fewer trees")
    run([str(BIN / "ratchet"), "report", "--base", "main"], repo)
    report = (repo / "reports/pr/report.md").read_text()
    for plot_id in wanted:
        image = f"plots/{plots.PlotDef(plot_id, '', '', '', '', '').filename}"
        assert f"![{plot_id}]({image})" in report
        width, height = png_size(repo / "reports/pr" / image)
        assert width > 300 and height > 200, (plot_id, width, height)
