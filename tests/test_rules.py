"""The gate's rules and the report's pieces, on numbers alone (no git, no DVC)."""

from __future__ import annotations

import math

import pytest

from ratchet.core import params
from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams, MetricRule
from ratchet.review import plots, report
from ratchet.review.compare import Comparison
from ratchet.review.rules import check_all, check_metric, describe

AUC = MetricRule(direction="higher", min=0.8, max_regression=0.01)
LOSS = MetricRule(direction="lower", max=0.45, max_relative_regression=0.05)


@pytest.mark.parametrize(
    ("rule", "base", "current", "failure"),
    [
        (AUC, 0.86, 0.855, None),
        (AUC, 0.86, 0.85, None),  # exactly the allowed drop passes
        (AUC, 0.86, 0.849, "worse than base by 0.0110 (allowed 0.0100)"),
        (AUC, 0.81, 0.79, "below the floor 0.8000"),
        (AUC, None, 0.81, None),  # no base value: no regression check
        (AUC, math.nan, 0.81, None),
        (AUC, 0.86, None, "missing in m.json"),
        (AUC, 0.86, math.nan, "not a finite number (nan) in m.json"),
        (AUC, 0.86, math.inf, "not a finite number (inf) in m.json"),
        (AUC, 0.86, "0.9", "not a finite number ('0.9') in m.json"),
        (AUC, 0.86, True, "not a finite number (True) in m.json"),
        (LOSS, 0.40, 0.419, None),
        (LOSS, 0.40, 0.43, "worse than base by 7.50% (allowed 5.00%)"),
        (LOSS, 0.44, 0.46, "above the ceiling 0.4500"),
        (LOSS, 0.40, 0.30, None),
    ],
)
def test_check_metric(rule, base, current, failure):
    check = check_metric("m", rule, base, current, "m.json")
    assert check.passed is (failure is None)
    if failure:
        assert failure in check.failures


def test_every_rule_fails_when_the_metrics_file_is_gone():
    checks = check_all({"a": AUC, "b": LOSS}, {"a": 0.9, "b": 0.3}, None, "m.json")
    assert [c.failures for c in checks] == [("m.json is missing",)] * 2
    assert checks[0].base == 0.9


def test_describe_a_rule():
    assert describe(AUC) == "higher is better; ≥ 0.8000; drop ≤ 0.0100"
    assert describe(LOSS) == "lower is better; ≤ 0.4500; rise ≤ 5.0% of base"


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"metrics": "m.json", "primary": "a", "rules": {}}, "'gate.rules'"),
        (
            {"metrics": "m.json", "primary": "a", "rules": {"a": {"direction": "up"}}},
            "'gate.rules.a.direction'",
        ),
        (
            {"metrics": "m.json", "primary": "a", "rules": {"a": {"direction": "higher", "x": 1}}},
            "unknown key 'gate.rules.a.x'",
        ),
        (
            {"metrics": "m.json", "primary": "a",
             "rules": {"a": {"direction": "higher", "max_regression": -1}}},
            "'gate.rules.a.max_regression'",
        ),
    ],
)  # fmt: skip
def test_bad_gate_rules_name_the_key(gate, message):
    with pytest.raises(RatchetError, match=message):
        params.parse_section("gate", GateParams, {"gate": gate})


def test_params_changes_are_flattened_and_sorted():
    base = {"train": {"lr": 0.1, "depth": 3}, "gate": {"rules": {"a": {"min": 1}}}}
    current = {"train": {"lr": 0.2, "depth": 3, "new": True}, "gate": {"rules": {}}}
    assert report.params_changes(base, current) == [
        ("gate.rules", report.ABSENT, {}),
        ("gate.rules.a.min", 1, report.ABSENT),
        ("train.lr", 0.1, 0.2),
        ("train.new", report.ABSENT, True),
    ]


def test_fit_keeps_a_report_under_the_comment_limit():
    text = "### verdict\n" + "| row |\n" * 20_000
    cut = report.fit(text, limit=60_000)
    assert len(cut) <= 60_000 and cut.startswith("### verdict\n")
    assert cut.rstrip().endswith("full report is in the workflow artifact.")
    assert report.fit("short\n") == "short\n"


def test_thin_keeps_ends_and_order():
    rows = [{"i": i} for i in range(1_001)]
    kept = plots.thin(rows, limit=100)
    assert len(kept) == 100 and kept[0]["i"] == 0 and kept[-1]["i"] == 1_000
    assert [r["i"] for r in kept] == sorted(r["i"] for r in kept)


def test_unknown_plot_id_names_params_key():
    dvc_yaml = {"plots": [{"ROC": {"x": "fpr", "y": {"roc.json": "tpr"}}}]}
    assert plots.plot_defs(dvc_yaml, ["ROC"], "params.yaml")[0].file == "roc.json"
    with pytest.raises(RatchetError, match=r"'report\.plots' names 'PR'"):
        plots.plot_defs(dvc_yaml, ["PR"], "params.yaml")


def comparison(**kw) -> Comparison:
    gate = GateParams(metrics="m.json", primary="a", rules={"a": AUC})
    base, current = {"a": 0.86, "other": 1.0}, {"a": 0.87, "other": 2.0}
    fields = dict(
        base_rev="main", base_sha="b" * 40, head_sha="c" * 40, params_path="params.yaml",
        gate=gate, rules_from_base=True, rules_changed=False, base_params={},
        current_params={}, base_metrics=base, current_metrics=current,
        checks=check_all(gate.rules, base, current, "m.json"),
    )  # fmt: skip
    return Comparison(**{**fields, **kw})


def test_private_repositories_get_no_image_links():
    plots_written = [("ROC", "plots/roc.png")]
    shown = report.render(comparison(), report.Extras(plot_files=plots_written))
    assert "![ROC](plots/roc.png)" in shown
    hidden = report.render(
        comparison(), report.Extras(plot_files=plots_written, embed_images=False)
    )
    assert "](" not in hidden and "`plots/roc.png`" in hidden


def test_report_lists_warnings_and_ungated_metrics():
    extras = report.Extras(warnings=["income: 3 % nulls", {"column": "age", "check": "mean"}])
    shown = report.render(comparison(), extras)
    assert shown.startswith("### ✅ Gate passes: 1 of 1 rules pass (a 0.8600 → 0.8700, +0.0100)")
    assert "- income: 3 % nulls\n- check: mean; column: age" in shown
    assert "| other | 1.0000 | 2.0000 | +1.0000 |  |  |" in shown
    assert "Validation warnings" not in report.render(comparison(), report.Extras())


def test_verdict_names_each_failure_with_its_values():
    failing = comparison(
        current_metrics={"a": 0.79},
        checks=check_all({"a": AUC}, {"a": 0.86}, {"a": 0.79}, "m.json"),
        stale=["dvc.lock is stale: run dvc repro and commit"],
    )
    assert report.verdict(failing) == (
        "### ❌ Gate fails: dvc.lock is stale: run dvc repro and commit; "
        "a 0.8600 → 0.7900: below the floor 0.8000; worse than base by 0.0700 (allowed 0.0100)"
    )
    first = comparison(base_metrics=None, checks=check_all({"a": AUC}, None, {"a": 0.7}, "m"))
    assert report.verdict(first) == "### ❌ Gate fails: a 0.7000: below the floor 0.8000"


@pytest.mark.parametrize(
    ("base", "current", "line"),
    [
        ({"rows": 2_000, "label_rate": 0.179}, {"rows": 500}, "| rows | 2,000 | 500 | -1,500 |"),
        ({"rows": 500}, {"rows": 569}, "| rows | 500 | 569 | +69 |"),
        (None, {"rows": 80}, "| rows | — | 80 | — |"),
    ],
)
def test_data_rows_are_counts_whatever_the_size(base, current, line):
    shown = report.data_section(report.Extras(base_data=base, current_data=current))
    assert line in shown
