"""The benchmark suite: a real run at a tiny size, and how it reads and reports results."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from benchmarks import pipeline, report
from conftest import EXAMPLE, ROOT, run


def test_each_stage_is_measured_against_the_table_it_works_on():
    tables = pipeline.stage_tables(yaml.safe_load((EXAMPLE / "dvc.yaml").read_text()))
    assert tables == {
        "sample": "data/raw/churn.csv",
        "validate": "data/raw/churn.csv",
        "featurize": "data/validated/churn.parquet",
        "train": "data/features/train.parquet",
        "evaluate": "data/features/test.parquet",
    }


def _result(rows: int, pipeline_s: float, bare_s: float, peak: float, table: float) -> dict:
    stage = {"seconds": 1.0, "peak_mib": peak, "table": "t.parquet", "table_mib": table}
    return {
        "rows": rows,
        "pipeline": {"end_to_end_s": pipeline_s, "dvc_overhead_s": 1.0, "peak_mib": peak,
                     "noop_s": 1.2, "stages": {"train": stage}},
        "bare": {"seconds": bare_s, "peak_mib": peak, "steps": {"train": 0.5}},
    }  # fmt: skip


def test_goals_give_verdicts_from_the_numbers():
    verdicts = {g: (m, v) for g, m, v in report.goals([
        _result(10_000, 12.0, 4.0, 300.0, 1.0),
        _result(1_000_000, 150.0, 100.0, 900.0, 200.0),
    ])}  # fmt: skip
    assert verdicts["pipeline ≤ 1.3x the bare script at 1M rows"] == ("1.50x", "not met")
    assert verdicts["fixed overhead at 10,000 rows (stated)"][0] == "8.0 s over the bare script"
    assert verdicts["every stage's peak RSS ≤ 3x its table (at 1,000,000 rows)"] == (
        "worst: train 4.5x",
        "not met",
    )
    assert verdicts["no-op `dvc repro` ≤ 1.5 s"] == ("1.20 s (slowest size)", "met")
    assert verdicts["10M rows end to end on this machine"][1] == "not run (`--huge`)"
    met = {g: v for g, _, v in report.goals([_result(1_000_000, 120.0, 100.0, 500.0, 200.0)])}
    assert met["pipeline ≤ 1.3x the bare script at 1M rows"] == "met"


def test_the_page_keeps_what_is_written_around_the_results(tmp_path):
    page = tmp_path / "benchmarks.md"
    report.write_page(page, f"{report.START}\nold numbers\n{report.END}")
    text = page.read_text()
    results = text[text.index(report.START) :]
    page.write_text(f"# Title\n\nAnalysis above.\n\n{results}\nBelow.\n")
    report.write_page(page, f"{report.START}\nnew numbers\n{report.END}")
    text = page.read_text()
    assert text.startswith("# Title\n\nAnalysis above.\n") and text.endswith("\nBelow.\n")
    assert "new numbers" in text and "old numbers" not in text


@pytest.mark.slow
def test_suite_runs_end_to_end_at_a_tiny_size(tmp_path):
    out, raw = tmp_path / "bench.md", tmp_path / "bench.json"
    result = run(
        [sys.executable, "-m", "benchmarks", "--rows", "2000", "--repeats", "1",
         "--noop-repeats", "1", "--output", str(out), "--json", str(raw),
         "--only", "pipeline", "bare", "validation", "scoring"],  # drift: 10 s more of CI
        ROOT,
    )  # fmt: skip
    page = out.read_text()
    assert report.START in page and report.END in page
    assert "| 2,000 | " in result.stdout and "### Goals" in result.stdout
    for stage in ("sample", "validate", "featurize", "train", "evaluate"):
        assert f"| 2,000 | {stage} | " in page
    data = json.loads(raw.read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["versions"]["dvc"]
    (r,) = data["results"]
    p = r["pipeline"]
    assert list(p["stages"]) == ["sample", "validate", "featurize", "train", "evaluate"]
    stage_sum = sum(s["seconds"] for s in p["stages"].values())
    assert 0 < stage_sum < p["end_to_end_s"]  # DVC's own time is the rest
    assert all(s["peak_mib"] > 50 and s["table_mib"] > 0 for s in p["stages"].values())
    assert p["noop_s"] > 0 and r["bare"]["seconds"] > 0
    assert set(r["bare"]["steps"]) >= {"generate", "validate", "featurize", "train", "evaluate"}
    assert r["validation"]["rows"] == 2000 and r["validation"]["rows_per_s"] > 0
    assert r["scoring"]["rows"] == 2000 and r["scoring"]["rows_per_s"] > 0
    (row,) = [ln for ln in page.splitlines() if ln.startswith("| 2,000 |") and ln.count("|") == 12]
    assert "drift" not in r and row.endswith(" | - |")  # not measured, shown as "-"
