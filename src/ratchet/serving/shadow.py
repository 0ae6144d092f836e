"""`ratchet shadow`: score one batch with two model versions and compare, before promoting.

The batch goes through the same validation and feature function as `ratchet score`, once,
and both models score the same rows. The report (Markdown, for a pull request or an issue)
says how often the two agree at the decision threshold, how the score distribution moves,
which rows disagree most and, when the batch carries labels, each version's metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams, GateParams, ShadowParams
from ratchet.dataset import contract, schema
from ratchet.pipeline import model, predict
from ratchet.pipeline.metrics import classification_metrics
from ratchet.registry import events, loading
from ratchet.serving import score

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Side:
    """One of the two models: how the user named it and what it resolved to."""

    spec: str
    version: str
    commit: str | None = None


# --- pure core -----------------------------------------------------------------------------


def compare(
    ids: np.ndarray,
    baseline: np.ndarray,
    candidate: np.ndarray,
    threshold: float,
    labels: np.ndarray | None = None,
    top: int = 10,
) -> dict:
    """Agreement, score shift, top disagreements and (with labels) metrics of both models."""
    if len(ids) == 0:
        raise RatchetError("no rows to compare: the batch is empty after validation")
    base_label, cand_label = baseline >= threshold, candidate >= threshold
    delta = candidate - baseline
    order = np.argsort(-np.abs(delta), kind="stable")[:top]
    order = order[delta[order] != 0]  # identical scores are no disagreement
    result = {
        "rows": len(ids),
        "threshold": threshold,
        "agreement": float(np.mean(base_label == cand_label)),
        "flips": {
            "to_positive": int(np.sum(~base_label & cand_label)),
            "to_negative": int(np.sum(base_label & ~cand_label)),
        },
        "positive_rate": {
            "baseline": float(np.mean(base_label)),
            "candidate": float(np.mean(cand_label)),
        },
        "scores": {
            "baseline": _describe(baseline),
            "candidate": _describe(candidate),
            "mean_abs_change": float(np.mean(np.abs(delta))),
            "max_abs_change": float(np.max(np.abs(delta))),
            # KS: the largest gap between the two score CDFs, 0 (same) to 1 (disjoint).
            "ks_statistic": float(stats.ks_2samp(baseline, candidate).statistic),
            "spearman": _spearman(baseline, candidate),
        },
        "top_disagreements": [
            {
                "id": str(ids[i]),
                "baseline": float(baseline[i]),
                "candidate": float(candidate[i]),
                "change": float(delta[i]),
                "flips": bool(base_label[i] != cand_label[i]),
                **({"label": int(labels[i])} if labels is not None else {}),
            }
            for i in order
        ],
        "metrics": None,
    }
    if labels is not None:
        if len(np.unique(labels)) < 2:
            result["metrics_note"] = "labels hold one class only: no ranking metrics"
        else:
            result["metrics"] = {
                "baseline": classification_metrics(labels, baseline, threshold),
                "candidate": classification_metrics(labels, candidate, threshold),
            }
    return result


def _describe(scores: np.ndarray) -> dict[str, float]:
    values = {"mean": float(np.mean(scores))}
    values.update({f"p{round(q * 100)}": float(np.quantile(scores, q)) for q in QUANTILES})
    return values


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None  # undefined for a constant score
    return float(stats.spearmanr(a, b).statistic)


def markdown(
    result: dict,
    baseline: Side,
    candidate: Side,
    source: str,
    gate: GateParams,
    min_agreement: float | None = None,
) -> str:
    """The report, verdict first, short enough for a comment."""
    agree, s = result["agreement"], result["scores"]
    verdict = _verdict(result, min_agreement, gate.primary)
    lines = [
        f"## Shadow comparison: {candidate.version} vs {baseline.version}",
        "",
        verdict,
        "",
        f"Batch `{source}`, {result['rows']:,} rows, threshold {result['threshold']:g}. "
        f"Baseline **{_name(baseline)}**, candidate **{_name(candidate)}**.",
        "",
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
    if result["metrics"]:
        lines += ["", "### Metrics on this batch (labels present)", ""]
        lines += _metrics_table(result["metrics"], gate)
    elif result.get("metrics_note"):
        lines += ["", f"Metrics: {result['metrics_note']}."]
    if result["top_disagreements"]:
        labelled = "label" in result["top_disagreements"][0]
        lines += [
            "",
            f"### Top {len(result['top_disagreements'])} disagreements (largest score change)",
            "",
            "| id | baseline | candidate | Δ | label flips |"
            + (" true label |" if labelled else ""),
            "|---|---:|---:|---:|:---:|" + ("---:|" if labelled else ""),
        ]
        for row in result["top_disagreements"]:
            lines.append(
                f"| {row['id']} | {row['baseline']:.4f} | {row['candidate']:.4f} "
                f"| {row['change']:+.4f} | {'yes' if row['flips'] else ''} |"
                + (f" {row['label']} |" if labelled else "")
            )
    else:
        lines += ["", "Both versions give every row the same score."]
    return "\n".join(lines) + "\n"


def _verdict(result: dict, min_agreement: float | None, primary: str) -> str:
    agree = result["agreement"]
    head = f"**{_pct(agree)} agreement**"
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


# --- I/O shell -----------------------------------------------------------------------------


def load(spec: str, repo: Path) -> tuple[object, Side, loading.ModelRef | None]:
    """A model named by a version (v1.2.0), a registry stage (prod) or a .skops file."""
    if spec.endswith(".skops"):
        pipeline, _ = loading.load_file_or_registered(spec, None, None)
        model.binary_only(pipeline, "compared")
        return pipeline, Side(spec, loading.file_version(spec)), None
    version = spec if events.VERSION_RE.match(spec) else None
    pipeline, ref = loading.load_file_or_registered(None, version, spec, repo)
    model.binary_only(pipeline, "compared")
    return pipeline, Side(spec, ref.version, ref.commit), ref


def held_out_batch(repo: Path, ref: loading.ModelRef | None, c, folder: Path) -> Path:
    """The candidate version's held-out rows (inputs and label) as a batch file."""
    if ref is None:
        raise RatchetError("--input is required when the candidate is a model file")
    rows = loading.held_out_rows(repo, ref, [*c.inputs, c.target])
    path = folder / "held-out.parquet"
    rows.reset_index(drop=True).to_parquet(path, index=False)
    return path


def score_both(path: str, baseline, candidate, chunk_rows: int) -> tuple[np.ndarray, ...]:
    """(ids, baseline scores, candidate scores, labels or None) for every row of the batch."""
    ids, base, cand, labels = [], [], [], []
    seen = 0
    for chunk in score.chunks(path, chunk_rows):
        chunk = chunk.reset_index(drop=True)
        table, bad = score.prepare_chunk(chunk, seen)
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
        base.append(predict.scores(baseline, table))
        cand.append(predict.scores(candidate, table))
        if schema.TARGET in table.columns:
            labels.append(table[schema.TARGET].to_numpy(dtype="int64"))
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
        help="exit 1 when agreement is below this share (params: shadow.min_agreement)",
    )
    parser.add_argument("--chunk-rows", type=int, default=200_000, help="rows per chunk")


def command(args: argparse.Namespace) -> int:
    cfg = params.section("shadow", ShadowParams, args.params)
    top = cfg.top if args.top is None else args.top
    floor = cfg.min_agreement if args.min_agreement is None else args.min_agreement
    if top < 0:
        raise RatchetError(f"--top must be 0 or more, got {top}")
    if floor is not None and not 0 <= floor <= 1:
        raise RatchetError(f"--min-agreement must be a share between 0 and 1, got {floor}")
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
    if (cand_contract.name, cand_contract.inputs) != (base_contract.name, base_contract.inputs):
        raise RatchetError(
            f"{cand.version} and {base.version} were trained on different datasets "
            f"({cand_contract.name}: {', '.join(cand_contract.inputs)}; {base_contract.name}: "
            f"{', '.join(base_contract.inputs)}): shadow compares models of one dataset"
        )
    with contract.use(cand_contract), tempfile.TemporaryDirectory() as scratch:
        batch = args.input or held_out_batch(repo, cand_ref, cand_contract, Path(scratch))
        ids, b, c, y = score_both(str(batch), base_model, cand_model, args.chunk_rows)
    source = (
        args.input
        or f"{loading.TEST_SPLIT} at {cand.commit[:12]} (held-out rows of {cand.version})"
    )
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
