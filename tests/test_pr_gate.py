"""Pull-request review end to end: real git branches, real `dvc repro`, the real commands.

One base repository per module: `main` runs a deliberately weak model (few boosting
iterations) so one branch can improve on it and another can make it worse.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import pytest

from conftest import make_template_repo, run, set_param

pytestmark = pytest.mark.slow

METRICS = "metrics/evaluate/metrics.json"
REPORT = "reports/pr/report.md"
GITHUB_COMMENT_LIMIT = 65_536


def commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


def branch(repo: Path, name: str, start: str = "main") -> None:
    run(["git", "checkout", "-q", "-b", name, start], repo)
    run(["dvc", "checkout", "-q", "--force"], repo)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = make_template_repo(tmp_path_factory.mktemp("pr"), rows=2_000)
    params = (repo / "params.yaml").read_text()
    # The first commit has neither metrics nor gate rules: what a first pull request sees.
    (repo / "params.yaml").write_text(params[: params.index("\n# The merge gate")] + "\n")
    commit(repo, "template without a gate")
    run(["git", "tag", "first"], repo)
    (repo / "params.yaml").write_text(params.replace("max_iter: 200", "max_iter: 40", 1))
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "pipeline with a weak model")

    branch(repo, "improve")
    set_param(repo, "max_iter: 40", "max_iter: 200")
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "more boosting iterations")

    branch(repo, "degrade")
    set_param(repo, "max_iter: 40", "max_iter: 3")
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "too few boosting iterations")

    branch(repo, "loosen", start="degrade")
    text = (repo / "params.yaml").read_text()
    loose = re.sub(r"max_regression: [0-9.]+", "max_regression: 0.5", text)
    (repo / "params.yaml").write_text(loose.replace("max: 0.45", "max: 0.9"))
    commit(repo, "loosen the gate")

    branch(repo, "newdata", start="degrade")
    contract_file = repo / "dataset" / "contract.yaml"
    contract_file.write_text(
        contract_file.read_text().replace("name: churn ", "name: churn-eu ", 1)
    )
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(re.sub(r"min: 0\.80, |max: 0\.45, ", "", text))
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "switch to another dataset")

    branch(repo, "stale")
    set_param(repo, "threshold: 0.5", "threshold: 0.4")
    commit(repo, "change a param without dvc repro")

    branch(repo, "delete")
    run(["git", "rm", "-q", METRICS], repo)
    commit(repo, "delete the evaluation metrics")
    run(["git", "checkout", "-q", "main"], repo)
    return repo


def ci(repo: Path, name: str, base: str = "main"):
    """What the workflow does on a pull request: checkout, repro, report, gate."""
    run(["git", "reset", "-q", "--hard"], repo)
    run(["git", "clean", "-qfd"], repo)
    run(["git", "checkout", "-q", name], repo)
    run(["dvc", "checkout", "-q", "--force"], repo, check=False)  # stale branches miss outputs
    run(["dvc", "repro", "-q"], repo)
    run(["ratchet", "report", "--base", base], repo)
    gate = run(["ratchet", "gate", "--base", base], repo, check=False)
    return gate, (repo / REPORT).read_text()


def metrics_at(repo: Path, rev: str) -> dict:
    return json.loads(run(["git", "show", f"{rev}:{METRICS}"], repo).stdout)


def table_row(report: str, metric: str) -> list[str]:
    (line,) = [x for x in report.splitlines() if x.startswith(f"| {metric} |")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def png_size(path: Path) -> tuple[int, int]:
    """Check a PNG thoroughly (signature, chunk CRCs, pixel data length); return its size."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"{path}: bad CRC in {kind!r}"
        chunks.append(kind)
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND", chunks
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    assert len(zlib.decompress(idat)) == height * (1 + width * channels * depth // 8)
    return width, height


def test_degrading_the_model_fails_and_names_metric_and_delta(repo):
    gate, report = ci(repo, "degrade")
    assert gate.returncode == 1, gate.stdout + gate.stderr
    base, head = metrics_at(repo, "main"), metrics_at(repo, "degrade")
    delta = head["log_loss"] - base["log_loss"]
    assert delta > 0.02
    assert re.search(r"FAIL log_loss .*worse than base", gate.stdout), gate.stdout
    assert gate.stdout.strip().splitlines()[-1].startswith("gate: FAIL")
    first = report.splitlines()[0]
    assert first.startswith("### ❌ Gate fails:") and "log_loss" in first
    assert f"worse than base by {delta:.4f}" in first
    row = table_row(report, "log_loss")
    assert row[1:4] == [f"{base['log_loss']:.4f}", f"{head['log_loss']:.4f}", f"{delta:+.4f}"]
    # Paired on the same 400 test rows (the split did not change): the same values as
    # the committed metrics, plus the interval, wholly above the allowed rise.
    assert re.fullmatch(r"\[\+0\.\d{4}, \+0\.\d{4}\] bootstrap", row[4]), row
    assert float(row[4][1:].split(",")[0]) > 0.02
    assert row[6].startswith("❌")
    assert "| train.max_iter | `40` | `3` |" in report
    assert len(report) < GITHUB_COMMENT_LIMIT


def test_improving_the_model_passes_with_plots(repo):
    gate, report = ci(repo, "improve")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert gate.stdout.count("  PASS ") == 4
    base, head = metrics_at(repo, "main"), metrics_at(repo, "improve")
    assert head["roc_auc"] > base["roc_auc"]
    assert report.startswith("### ✅ Gate passes: 4 of 4 rules pass (roc_auc ")
    assert f"{head['roc_auc'] - base['roc_auc']:+.4f}" in report.splitlines()[0]
    for metric in ("roc_auc", "pr_auc", "log_loss", "brier"):
        assert table_row(report, metric)[6] == "✅ pass", report
    assert "| rows | 2,000 | 2,000 | +0 |" in report
    assert "Gate rules changed" not in report
    # Plots are referenced relative to the report, so CML can find and attach them.
    images = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", report)
    assert images == ["plots/roc.png", "plots/precision-recall.png"]
    for image in images:
        width, height = png_size(repo / "reports/pr" / image)
        assert width > 300 and height > 250
    footer = report.strip().splitlines()[-1]
    assert run(["git", "rev-parse", "main"], repo).stdout.strip() in footer
    assert run(["git", "rev-parse", "improve"], repo).stdout.strip() in footer


def test_loosening_the_rules_does_not_let_a_regression_through(repo):
    gate, report = ci(repo, "loosen")
    assert gate.returncode == 1, gate.stdout
    assert "gate rules changed" in gate.stdout
    assert "FAIL log_loss" in gate.stdout
    assert "Gate rules changed" in report
    assert "| gate.rules.log_loss.max_regression | `0.02` | `0.5` |" in report
    # The loosened rule is not the one applied: the table shows the base's rule.
    assert "rise ≤ 0.0200" in table_row(report, "log_loss")[5]


def test_a_deleted_metrics_file_fails(repo):
    gate, report = ci(repo, "delete")
    assert gate.returncode == 1, gate.stdout
    assert METRICS in gate.stdout and "run dvc repro and commit" in gate.stdout
    assert report.startswith("### ❌ Gate fails:")
    # Without the pipeline run, the file is simply missing: every rule fails.
    run(["git", "clean", "-qfd"], repo)
    assert not (repo / METRICS).exists()
    gate = run(["ratchet", "gate", "--base", "main"], repo, check=False)
    assert gate.returncode == 1
    assert gate.stdout.count(f"{METRICS} is missing") == 4


def test_a_stale_dvc_lock_fails_with_the_hint(repo):
    gate, report = ci(repo, "stale")
    assert gate.returncode == 1, gate.stdout
    assert "dvc.lock is stale: run dvc repro and commit" in gate.stdout
    assert "dvc.lock is stale: run dvc repro and commit" in report.splitlines()[0]


def test_first_pull_request_without_base_metrics_passes_with_a_notice(repo):
    gate, report = ci(repo, "main", base="first")
    assert gate.returncode == 0, gate.stdout
    assert "rules from this change (the base has none)" in gate.stdout
    assert "has no metrics/evaluate/metrics.json (first run)" in gate.stdout
    assert report.startswith("### ✅ Gate passes")
    assert "**No base metrics:**" in report and "has no `gate` rules" in report
    assert table_row(report, "roc_auc")[1] == "—"
    # The base has no plot data: the plots show this change alone.
    for image in re.findall(r"!\[[^\]]+\]\(([^)]+)\)", report):
        assert png_size(repo / "reports/pr" / image)[0] > 300


def test_unknown_base_is_a_usage_error(repo):
    gate = run(["ratchet", "gate", "--base", "no-such-branch"], repo, check=False)
    assert gate.returncode == 2
    assert gate.stderr.strip() == "ratchet gate: error: --base no-such-branch: unknown revision"


def test_a_readme_only_pull_request_passes_in_a_fresh_clone(repo, tmp_path):
    """A fresh clone reproduces main bit for bit, so a harmless change passes the gate."""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "--branch", "main", str(repo), str(clone)], tmp_path)
    assert not (clone / ".dvc" / "cache").exists()  # nothing to restore: every stage runs
    run(["dvc", "repro", "-q"], clone)
    status = run(["git", "status", "--porcelain"], clone).stdout
    assert status == "", f"a fresh clone's dvc repro changed tracked files:\n{status}"

    run(["git", "checkout", "-q", "-b", "docs"], clone)
    (clone / "README.md").write_text("# Churn model\n\nHow to run it: `make repro`.\n")
    commit(clone, "document the project")
    run(["dvc", "repro", "-q"], clone)
    assert run(["git", "status", "--porcelain"], clone).stdout == ""
    run(["ratchet", "report", "--base", "main"], clone)
    gate = run(["ratchet", "gate", "--base", "main"], clone, check=False)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert gate.stdout.strip().splitlines()[-1].startswith("gate: PASS")
    report = (clone / REPORT).read_text()
    assert report.startswith("### ✅ Gate passes")
    for metric in ("roc_auc", "pr_auc", "log_loss", "brier"):
        assert table_row(report, metric)[3] in ("+0.0000", "-0.0000"), report


def test_a_dataset_switch_is_a_new_baseline_not_a_regression(repo):
    gate, report = ci(repo, "newdata")
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "rules from this change (new dataset)" in gate.stdout
    assert "new baseline: dataset changed: name 'churn' → 'churn-eu'" in gate.stdout
    assert "regression limits skipped" in gate.stdout
    assert "**New baseline:** dataset changed: name 'churn' → 'churn-eu'" in report
    # Another dataset's metrics are no base: no value, no delta in the table.
    assert table_row(report, "roc_auc")[1] == "—" and table_row(report, "roc_auc")[3] == "—"
    # The same metrics under the base's rules, without the switch, fail (see degrade).
    assert ci(repo, "degrade")[0].returncode == 1
