"""The floor: the pipeline's work in one bare Python process, with no DVC and no files.

    python -m benchmarks.bare --params params.yaml --rows 100000

generate -> validate -> split and features -> fit and validate -> evaluate (metrics, the curves the
evaluate stage plots, permutation importance), calling the same ratchet functions the
stages call, with the params they read. Prints one JSON line of per-step seconds; the
suite measures the process's wall time and peak RSS from outside.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    start = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--rows", type=int, help="default: sample.rows of --params")
    args = parser.parse_args()

    from ratchet.cli import configure_environment

    configure_environment()  # as every `ratchet` command does, before scikit-learn loads

    from sklearn import calibration
    from sklearn import metrics as skm

    from ratchet.core import params
    from ratchet.dataset import sample, validation
    from ratchet.pipeline import evaluate, featurize, metrics, train

    steps = {"imports": time.perf_counter() - start}

    def step(name: str, fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        steps[name] = time.perf_counter() - t
        return out

    sp = params.section("sample", params.SampleParams, args.params)
    vp = params.section("validate", params.ValidateParams, args.params)
    fp = params.section("featurize", params.FeaturizeParams, args.params)
    tp = params.section("train", params.TrainParams, args.params)
    ep = params.section("evaluate", params.EvaluateParams, args.params)
    rows = args.rows or sp.rows

    raw = step("generate", sample.generate, rows, sp.seed, drift=sp.drift)
    checked = step("validate", validation.check, raw, rows=(vp.rows_min, vp.rows_max))
    assert checked.passed, [f.line() for f in checked.errors]
    del raw
    train_table, valid, test = step("featurize", featurize.partition, checked.table, fp)
    del checked

    def fit_and_validate(rows, held):
        fitted, _ = train.fit(rows, tp)
        train.validate(fitted, rows, held, tp, fp)
        return fitted

    pipeline = step("train", fit_and_validate, train_table, valid)
    del train_table, valid

    def evaluate_all():
        y = test[evaluate.schema.TARGET].to_numpy()
        proba = evaluate.scores(pipeline, test)
        metrics.classification_metrics(y, proba, ep.threshold)
        skm.roc_curve(y, proba)
        skm.precision_recall_curve(y, proba)
        skm.confusion_matrix(y, (proba >= ep.threshold).astype(int))
        calibration.calibration_curve(y, proba, n_bins=ep.calibration_bins)
        evaluate.importance(pipeline, test, ep)

    step("evaluate", evaluate_all)
    steps["total"] = time.perf_counter() - start
    print(json.dumps({"rows": rows, "steps": steps}))


if __name__ == "__main__":
    main()
