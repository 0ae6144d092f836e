"""`ratchet shadow`: score one batch with two model versions and compare, before promoting.

The batch goes through the same validation and feature function as `ratchet score`, once,
and both models score the same rows. The report (Markdown, for a pull request or an issue)
says how often the two agree (binary: the same label at the decision threshold;
multiclass: the same class; regression: predictions within `shadow.tolerance`), how the
outputs move, which rows disagree most and, when the batch carries labels, each version's
metrics. The numbers come from `ratchet.serving.agreement`; this module reads, scores and
writes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams, GateParams, ShadowParams
from ratchet.dataset import contract, schema
from ratchet.dataset.contract import Contract
from ratchet.pipeline import model, predict
from ratchet.registry import events, loading
from ratchet.serving import score
from ratchet.serving.agreement import (
    AUTO_TOLERANCE_SHARE,
    compare,
    compare_multiclass,
    compare_regression,
)


@dataclass(frozen=True)
class Side:
    """One of the two models: how the user named it and what it resolved to."""

    spec: str
    version: str
    commit: str | None = None


# --- pure core -----------------------------------------------------------------------------


def markdown(
    result: dict,
    baseline: Side,
    candidate: Side,
    source: str,
    gate: GateParams,
    min_agreement: float | None = None,
) -> str:
    """The report, verdict first, short enough for a comment."""
    task = result.get("task", "binary")
    lines = [
        f"## Shadow comparison: {candidate.version} vs {baseline.version}",
        "",
        _verdict(result, min_agreement, gate.primary),
        "",
        f"Batch `{source}`, {result['rows']:,} rows, {_setting(result)}. "
        f"Baseline **{_name(baseline)}**, candidate **{_name(candidate)}**.",
        "",
        *BODY[task](result),
    ]
    if result["metrics"]:
        lines += ["", "### Metrics on this batch (labels present)", ""]
        lines += _metrics_table(result["metrics"], gate)
    if result.get("metrics_note"):
        lines += ["", f"Metrics: {result['metrics_note']}."]
    lines += _disagreements(result, task)
    return "\n".join(lines) + "\n"


def _setting(result: dict) -> str:
    """What agreement is measured against: the threshold, the classes, the tolerance."""
    if "threshold" in result:
        return f"threshold {result['threshold']:g}"
    if result["task"] == "multiclass":
        return f"{len(result['classes'])} classes"
    tol = result["tolerance"]
    how = (
        f"auto: {AUTO_TOLERANCE_SHARE:.0%} of the baseline predictions' standard deviation"
        if tol["auto"]
        else "shadow.tolerance"
    )
    return f"tolerance ±{_num(tol['value'])} ({how})"


def _binary_body(result: dict) -> list[str]:
    agree, s = result["agreement"], result["scores"]
    return [
        "| | baseline | candidate |",
        "|---|---:|---:|",
        f"| predicted positive | {_pct(result['positive_rate']['baseline'])} "
        f"| {_pct(result['positive_rate']['candidate'])} |",
        *(
            f"| score {k} | {s['baseline'][k]:.4f} | {s['candidate'][k]:.4f} |"
            for k in s["baseline"]
        ),
        "",
        f"- Agreement at the threshold: **{_pct(agree)}** "
        f"({result['flips']['to_positive']:,} rows flip to positive, "
        f"{result['flips']['to_negative']:,} to negative).",
        f"- Score change per row: mean |Δ| {s['mean_abs_change']:.4f}, "
        f"max |Δ| {s['max_abs_change']:.4f}; KS statistic {s['ks_statistic']:.4f}"
        + (f"; rank correlation {s['spearman']:.4f}." if s["spearman"] is not None else "."),
    ]


def _multiclass_body(result: dict) -> list[str]:
    share, scores, s = result["class_share"], result["class_scores"], result["scores"]
    changed = sum(f["rows"] for f in result["flips"])
    lines = [
        "| class | predicted, baseline | predicted, candidate "
        "| mean probability, baseline | mean probability, candidate | Δ |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {_pct(share['baseline'][name])} | {_pct(share['candidate'][name])} "
            f"| {p['baseline']:.4f} | {p['candidate']:.4f} | {p['change']:+.4f} |"
            for name, p in scores.items()
        ),
        "",
        f"- Agreement on the predicted class: **{_pct(result['agreement'])}** "
        f"({changed:,} rows change class).",
        f"- Probability change per row (largest over the classes): mean |Δ| "
        f"{s['mean_abs_change']:.4f}, max |Δ| {s['max_abs_change']:.4f}.",
    ]
    if result["flips"]:
        lines += ["", "| baseline → candidate | rows |", "|---|---:|"]
        lines += [f"| {f['from']} → {f['to']} | {f['rows']:,} |" for f in result["flips"]]
    return lines


def _regression_body(result: dict) -> list[str]:
    p, d = result["predictions"], result["differences"]
    return [
        "| prediction | baseline | candidate |",
        "|---|---:|---:|",
        *(f"| {k} | {_num(p['baseline'][k])} | {_num(p['candidate'][k])} |" for k in p["baseline"]),
        "",
        f"- Within ±{_num(result['tolerance']['value'])}: **{_pct(result['agreement'])}** "
        f"of rows ({result['beyond_tolerance']:,} differ by more).",
        f"- Difference per row (candidate - baseline): mean {_num(d['mean'])}, "
        f"mean |Δ| {_num(d['mean_abs'])}, max |Δ| {_num(d['max_abs'])}"
        + (f"; Pearson correlation {d['pearson']:.4f}." if d["pearson"] is not None else "."),
    ]


BODY = {"binary": _binary_body, "multiclass": _multiclass_body, "regression": _regression_body}


def _disagreements(result: dict, task: str) -> list[str]:
    rows = result["top_disagreements"]
    if not rows:  # none to list: say so only when none exist (`--top 0` lists none either)
        return ["", SAME[task]] if _identical(result, task) else []
    title, head, cells = DISAGREEMENT[task]
    labelled = "label" in rows[0]
    lines = [
        "",
        f"### Top {len(rows)} disagreements ({title})",
        "",
        f"| id | {' | '.join(h.rstrip('?') for h in head)} |"
        + ((" true value |" if task == "regression" else " true label |") if labelled else ""),
        "|---|"
        + "".join("---:|" if h[-1] != "?" else ":---:|" for h in head)
        + ("---:|" if labelled else ""),
    ]
    for row in rows:
        lines.append(
            f"| {row['id']} | {' | '.join(cells(row))} |"
            + (f" {_label(row['label'])} |" if labelled else "")
        )
    return lines


def _identical(result: dict, task: str) -> bool:
    if task == "binary":
        return result["scores"]["max_abs_change"] == 0
    if task == "multiclass":
        return result["agreement"] == 1
    return result["differences"]["max_abs"] == 0


SAME = {
    "binary": "Both versions give every row the same score.",
    "multiclass": "Both versions predict the same class for every row.",
    "regression": "Both versions give every row the same prediction.",
}
# Per task: the ordering named in the title, the column heads (a yes/no column ends in ?,
# centred in the table), and one row's cells.
DISAGREEMENT = {
    "binary": (
        "largest score change",
        ("baseline", "candidate", "Δ", "label flips?"),
        lambda r: (
            f"{r['baseline']:.4f}", f"{r['candidate']:.4f}", f"{r['change']:+.4f}",
            "yes" if r["flips"] else "",
        ),
    ),
    "multiclass": (
        "largest probability change",
        ("baseline", "candidate", "Δ probability"),
        lambda r: (
            f"{r['baseline']} ({r['baseline_score']:.4f})",
            f"{r['candidate']} ({r['candidate_score']:.4f})",
            f"{r['change']:.4f}",
        ),
    ),
    "regression": (
        "largest |Δ|",
        ("baseline", "candidate", "Δ", "beyond tolerance?"),
        lambda r: (
            _num(r["baseline"]), _num(r["candidate"]), f"{r['change']:+.6g}",
            "" if r["within_tolerance"] else "yes",
        ),
    ),
}  # fmt: skip


def _verdict(result: dict, min_agreement: float | None, primary: str) -> str:
    agree = result["agreement"]
    what = "within tolerance" if result.get("task") == "regression" else "agreement"
    head = f"**{_pct(agree)} {what}**"
    if min_agreement is not None:
        ok = agree >= min_agreement
        head = (
            f"{'✅' if ok else '❌'} {head} "
            f"({'at least' if ok else 'below'} the required {_pct(min_agreement)})"
        )
    if result["metrics"] and primary in result["metrics"]["baseline"]:
        b, c = result["metrics"]["baseline"], result["metrics"]["candidate"]
        head += f"; {primary} {b[primary]:.4f} → {c[primary]:.4f} on this batch"
    return head + "."


def _metrics_table(metrics: dict, gate: GateParams) -> list[str]:
    """Each metric for both models; ▲/▼ mark better/worse in the gate's direction for it."""
    directions = {name: rule.direction for name, rule in gate.rules.items()}
    rows = ["| metric | baseline | candidate | Δ |", "|---|---:|---:|---:|"]
    for name, base in metrics["baseline"].items():
        cand = metrics["candidate"][name]
        delta = cand - base
        mark = ""
        if name in directions and delta != 0:
            better = delta > 0 if directions[name] == "higher" else delta < 0
            mark = " ▲" if better else " ▼"
        rows.append(f"| {name} | {base:.4f} | {cand:.4f} | {delta:+.4f}{mark} |")
    return rows


def _name(side: Side) -> str:
    extra = [side.spec] if side.spec != side.version else []
    if side.commit:
        extra.append(side.commit[:8])
    return side.version + (f" ({', '.join(extra)})" if extra else "")


def _pct(x: float) -> str:
    return f"{x * 100:.2f} %"


def _num(x: float) -> str:
    """A number in the target's units, whatever their scale."""
    return f"{x:.6g}"


def _label(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


# --- I/O shell -----------------------------------------------------------------------------


def load(spec: str, repo: Path) -> tuple[object, Side, loading.ModelRef | None]:
    """A model named by a version (v1.2.0), a registry stage (prod) or a .skops file."""
    if spec.endswith(".skops"):
        pipeline, _ = loading.load_file_or_registered(spec, None, None)
        return pipeline, Side(spec, loading.file_version(spec)), None
    version = spec if events.VERSION_RE.match(spec) else None
    pipeline, ref = loading.load_file_or_registered(None, version, spec, repo)
    return pipeline, Side(spec, ref.version, ref.commit), ref


def held_out_batch(repo: Path, ref: loading.ModelRef | None, c, folder: Path) -> Path:
    """The candidate version's held-out rows (inputs and label) as a batch file."""
    if ref is None:
        raise RatchetError("--input is required when the candidate is a model file")
    rows = loading.held_out_rows(repo, ref, [*c.inputs, c.target])
    path = folder / "held-out.parquet"
    rows.reset_index(drop=True).to_parquet(path, index=False)
    return path


def check_comparable(base_c: Contract, cand_c: Contract, base: Side, cand: Side) -> None:
    """Both models must read the same dataset and predict the same thing; else one line."""
    if (cand_c.name, cand_c.inputs) != (base_c.name, base_c.inputs):
        raise RatchetError(
            f"{cand.version} and {base.version} were trained on different datasets "
            f"({cand_c.name}: {', '.join(cand_c.inputs)}; {base_c.name}: "
            f"{', '.join(base_c.inputs)}): shadow compares models of one dataset"
        )
    if cand_c.task != base_c.task:
        raise RatchetError(
            f"{cand.version} is a {cand_c.task} model and {base.version} a {base_c.task} "
            "one: shadow compares models of one task"
        )
    if cand_c.class_names != base_c.class_names:
        raise RatchetError(
            f"{cand.version} predicts the classes {', '.join(map(str, cand_c.class_names))} "
            f"and {base.version} {', '.join(map(str, base_c.class_names))}: shadow compares "
            "models of the same classes"
        )


def model_outputs(pipeline, table, task: str) -> np.ndarray:
    """What shadow compares per row, through the scoring path of `ratchet score`: binary,
    the positive class's probability; multiclass, (rows, classes) probabilities in class
    order; regression, the prediction."""
    # The threshold only shapes binary labels, which shadow derives itself.
    out = predict.table_outputs(pipeline, table, threshold=0.5)
    if task != "multiclass":
        return out["score" if task == "binary" else "prediction"]
    names = model.contract_for(pipeline).class_names
    return np.column_stack([out[predict.proba_column(n)] for n in names])


def score_both(
    path: str, baseline, candidate, chunk_rows: int, task: str = "binary"
) -> tuple[np.ndarray, ...]:
    """(ids, baseline outputs, candidate outputs, labels or None) for every row of the batch;
    labels are class numbers for a classifier, numbers for regression."""
    ids, base, cand, labels = [], [], [], []
    seen = 0
    for chunk in score.chunks(path, chunk_rows):
        chunk = chunk.reset_index(drop=True)
        table, bad = score.prepare_chunk(chunk, score.row_range(seen, len(chunk)))
        if len(bad):
            raise RatchetError(
                f"{score.first_bad_row(path, bad)}; both models must see the same valid rows: "
                "fix or drop the bad rows first (`ratchet score --quarantine`)"
            )
        seen += len(chunk)
        if schema.ID:
            ids.append(table[schema.ID].astype(str).to_numpy())
        else:  # no id column: rows are named by their 1-based place in the input
            ids.append((table.index.to_numpy(dtype="int64") + seen - len(chunk) + 1).astype(str))
        base.append(model_outputs(baseline, table, task))
        cand.append(model_outputs(candidate, table, task))
        if schema.TARGET in table.columns:
            kind = "float64" if task == "regression" else "int64"
            labels.append(table[schema.TARGET].to_numpy(dtype=kind))
    if not ids:
        raise RatchetError(f"{path}: no rows to compare")
    joined = [np.concatenate(x) for x in (ids, base, cand)]
    return (*joined, np.concatenate(labels) if labels else None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--candidate", required=True, help="version (v1.3.0), stage, or a .skops file"
    )
    parser.add_argument(
        "--baseline", default="prod", help="version, stage or .skops file (default: %(default)s)"
    )
    parser.add_argument(
        "--input",
        help="the batch: .csv or .parquet (default: the candidate version's held-out rows)",
    )
    parser.add_argument("--output", help="write the Markdown report here (default: stdout)")
    parser.add_argument("--json", dest="json_out", help="also write the comparison as JSON")
    parser.add_argument("--top", type=int, help="disagreements to list (params: shadow.top)")
    parser.add_argument(
        "--min-agreement",
        type=float,
        help="exit 1 when agreement (regression: the share within tolerance) is below this "
        "share (params: shadow.min_agreement)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        help="regression: predictions this close, in the target's units, agree "
        "(params: shadow.tolerance)",
    )
    parser.add_argument("--chunk-rows", type=int, default=200_000, help="rows per chunk")


def command(args: argparse.Namespace) -> int:
    cfg = params.section("shadow", ShadowParams, args.params)
    top = cfg.top if args.top is None else args.top
    floor = cfg.min_agreement if args.min_agreement is None else args.min_agreement
    tolerance = cfg.tolerance if args.tolerance is None else args.tolerance
    if top < 0:
        raise RatchetError(f"--top must be 0 or more, got {top}")
    if floor is not None and not 0 <= floor <= 1:
        raise RatchetError(f"--min-agreement must be a share between 0 and 1, got {floor}")
    if tolerance is not None and not tolerance >= 0:  # `not >=` also refuses NaN
        raise RatchetError(f"--tolerance must be 0 or more, got {tolerance}")
    if args.chunk_rows < 1:
        raise RatchetError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    threshold = params.section("evaluate", EvaluateParams, args.params).threshold
    gate = params.section("gate", GateParams, args.params)
    repo = Path.cwd()
    base_model, base, _ = load(args.baseline, repo)
    cand_model, cand, cand_ref = load(args.candidate, repo)
    # Each model builds its features by its own contract; the batch is read and checked by
    # the candidate's, which must describe the same dataset as the baseline's.
    cand_contract, base_contract = model.contract_for(cand_model), model.contract_for(base_model)
    check_comparable(base_contract, cand_contract, base, cand)
    task = cand_contract.task
    if args.tolerance is not None and task != "regression":
        raise RatchetError(f"--tolerance applies to regression models; these are {task}")
    with contract.use(cand_contract), tempfile.TemporaryDirectory() as scratch:
        batch = args.input or held_out_batch(repo, cand_ref, cand_contract, Path(scratch))
        ids, b, c, y = score_both(str(batch), base_model, cand_model, args.chunk_rows, task)
    source = (
        args.input
        or f"{loading.TEST_SPLIT} at {cand.commit[:12]} (held-out rows of {cand.version})"
    )
    if task == "multiclass":
        result = compare_multiclass(ids, b, c, cand_contract.class_names, y, top)
    elif task == "regression":
        result = compare_regression(ids, b, c, tolerance, y, top)
    else:
        result = compare(ids, b, c, threshold, y, top)
    result.update(baseline=vars(base), candidate=vars(cand), input=str(source))
    report = markdown(result, base, cand, str(source), gate, floor)
    if args.output:
        io.write_text(args.output, report)
        print(f"shadow report -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(report)
    if args.json_out:
        io.write_text(args.json_out, json.dumps(result, indent=2) + "\n")
    return 1 if floor is not None and result["agreement"] < floor else 0
