"""The benchmark suite: a real run at a tiny size, and how it reads and reports results."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from benchmarks import gate_changes, pipeline, report
from benchmarks import spark as spark_bench
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
    # CPU time: every stage imports pandas at least (well over 0.1 s of CPU).
    assert all(s["cpu_s"] > 0.1 for s in p["stages"].values())
    assert p["end_to_end_cpu_s"] > sum(s["cpu_s"] for s in p["stages"].values())  # DVC's too
    assert p["noop_s"] > 0 and r["bare"]["seconds"] > 0 and r["bare"]["cpu_s"] > 0.1
    assert set(r["bare"]["steps"]) >= {"generate", "validate", "featurize", "train", "evaluate"}
    assert r["validation"]["rows"] == 2000 and r["validation"]["rows_per_s"] > 0
    assert r["scoring"]["rows"] == 2000 and r["scoring"]["rows_per_s"] > 0
    (row,) = [ln for ln in page.splitlines() if ln.startswith("| 2,000 |") and ln.count("|") == 12]
    assert "drift" not in r and row.endswith(" | - |")  # not measured, shown as "-"


def test_gate_changes_pair_each_degradation_with_a_noise_change():
    changes = gate_changes.plan(4)
    assert [c.group for c in changes] == ["noise"] * 4 + ["degradation"] * 4
    assert len({c.name for c in changes}) == 8
    noise, degraded = changes[:4], changes[4:]
    assert [c.kind for c in noise] == ["sample.seed", "featurize.seed"] * 2
    for n, d in zip(noise, degraded, strict=True):
        assert d.params.items() >= n.params.items()  # the same perturbation, and more
        assert any(key.startswith("train.") for key in d.params)
    assert len({d.kind.split(" + ")[0] for d in degraded}) == 3


def test_a_true_regression_is_beyond_the_allowance_whichever_way_a_metric_points():
    limits = {"roc_auc": 0.01, "pr_auc": 0.02, "log_loss": 0.02, "brier": 0.01}
    result = {"true_delta": {"roc_auc": -0.02, "pr_auc": 0.05, "log_loss": 0.01, "brier": -0.1}}
    assert gate_changes.beyond_allowance(result, limits) == ["roc_auc"]
    result["true_delta"]["log_loss"] = 0.03
    assert gate_changes.beyond_allowance(result, limits) == ["roc_auc", "log_loss"]


def test_another_benchmark_section_is_appended_and_then_replaced(tmp_path):
    page = tmp_path / "benchmarks.md"
    report.write_page(page, f"{report.START}\nsuite\n{report.END}")
    start, end = "<!-- gate start -->", "<!-- gate end -->"
    report.write_page(page, f"{start}\nold gate\n{end}", start, end)
    report.write_page(page, f"{start}\nnew gate\n{end}", start, end)
    text = page.read_text()
    assert "suite" in text and "new gate" in text and "old gate" not in text
    assert text.index(report.END) < text.index(start)


@pytest.mark.slow
def test_gate_benchmark_runs_one_noise_change_and_one_degradation(tmp_path):
    out, raw = tmp_path / "bench.md", tmp_path / "gate.json"
    result = run(
        [sys.executable, "-m", "benchmarks.gate", "--changes", "1", "--rows", "2000",
         "--holdout", "2000", "--output", str(out), "--json", str(raw)],
        ROOT,
    )  # fmt: skip
    page = out.read_text()
    assert "### Gate error rates" in result.stdout and "gate results" in page
    assert "| noise only | " in page and "| real degradation | " in page
    data = json.loads(raw.read_text())
    assert data["modes"][0] == "point"
    assert [r["name"] for r in data["results"]] == ["noise-00", "degraded-00"]
    for r in data["results"]:
        assert set(r["true_delta"]) == set(gate_changes.METRICS) == set(r["test_delta"])
        for mode in data["modes"]:
            assert r["gate"][mode]["gate_s"] > 0 and r["gate"][mode]["report_s"] > 0
    # The stumps degradation is so large that even 2,000 rows show it beyond an allowance.
    assert gate_changes.beyond_allowance(data["results"][1], data["allowances"])
    assert not data["results"][1]["gate"]["point"]["passed"]


def test_every_ordered_pair_of_noise_samples_is_a_harmless_pull_request():
    limits = {"roc_auc": 0.01, "pr_auc": 0.02, "log_loss": 0.02, "brier": 0.01}
    flat = {"pr_auc": 0.0, "log_loss": 0.0, "brier": 0.0}
    results = [
        {"group": "noise", "kind": "sample.seed", "test_delta": {"roc_auc": 0.015, **flat}},
        {"group": "noise", "kind": "featurize.seed", "test_delta": {"roc_auc": 0.005, **flat}},
    ]
    # sample.seed: base -> +0.015 passes, +0.015 -> base drops 0.015 and fails;
    # featurize.seed: 0.005 either way passes.
    assert gate_changes.pairwise_point_fails(results, limits) == (1, 4)


# A parent that starts a child holding ~200 MiB: only a sum over the process tree sees it
# (the parent itself stays small), as a Spark driver's JVM and Python workers hold a run's
# memory outside the process that started them.
TREE = """
import subprocess, sys
subprocess.run([sys.executable, "-c", "import time; b = bytearray(200 * 2**20); time.sleep(1.5)"])
"""


def test_spark_benchmark_peak_memory_sums_the_whole_process_tree(tmp_path):
    run = spark_bench.measure([sys.executable, "-c", TREE], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.peak_mib > 200
    assert 1.5 < run.seconds < 30
    alone = spark_bench.measure([sys.executable, "-c", "import time; time.sleep(0.5)"], tmp_path)
    assert alone.peak_mib < 100
    # The /proc fallback (no psutil) reads the same resident set as psutil does.
    import os

    import psutil

    mine = psutil.Process(os.getpid()).memory_info().rss
    assert abs(spark_bench._proc_rss(os.getpid()) - mine) < 0.1 * mine
    failed = spark_bench.measure([sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path)
    assert failed.returncode == 3


def test_spark_benchmark_lines_subtract_the_median_start_up():
    timings = ((12.0, 900.0), (10.0, 1200.0), (30.0, 800.0))
    runs = [spark_bench.Run(s, 0.0, p, 0, "", "") for s, p in timings]
    line = spark_bench.summarise("spark local[2]", 1_000_000, runs, startup_s=4.0)
    assert line["seconds"] == 12.0 and line["peak_mib"] == 1200.0
    assert line["rows_per_s"] == pytest.approx(1_000_000 / 12.0)
    assert line["work_rows_per_s"] == pytest.approx(1_000_000 / 8.0)
    startup = spark_bench.summarise("spark local[2], 1-row input", 1, runs[:1])
    table = spark_bench.markdown([startup, line])
    assert "| 1 | spark local[2], 1-row input | 1 | 12.0 | - | - | - | 900 |" in table
    assert "| 1,000,000 | spark local[2] | 3 | 12.0 | 83,333 | 4.0 | 125,000 | 1,200 |" in table


def test_spark_benchmark_cluster_estimate_divides_the_work_and_adds_the_fixed_costs():
    est = spark_bench.cluster_estimate(
        100_000_000, nodes=10, cores_per_node=4, per_core_rows_s=50_000, startup_s=30, io_s=20
    )
    assert est["cores"] == 40 and est["work_s"] == pytest.approx(50.0)
    assert est["total_s"] == pytest.approx(100.0) and est["rows_per_s"] == pytest.approx(1e6)
