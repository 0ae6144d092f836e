"""A new user's whole path on their own data: only the documented steps, no Python edited.

The data is scikit-learn's copy of the Wisconsin breast cancer table, exported as a
hospital extract might be: snake_case headers, an integer `patient_ref` (as the original
WDBC file has), the diagnosis as text ("malignant"/"benign") and blank cells (a space) in
a number column. 69 patients are kept out of the file: they are the "new rows" scored,
served, shadowed and checked for drift after the model reaches prod.

The repository starts as a fork does: the template with the sample's results on main.
Then, as the README says: `ratchet init`, review the contract (here: one engineered
feature), `dvc repro`, commit; a pull request; the registry; scoring; the service;
a shadow comparison; drift. Every command runs as a user runs it, in a subprocess.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BIN, make_template_repo, run, set_param

pytestmark = pytest.mark.slow

ID, TARGET = "patient_ref", "diagnosis"
NEW_ROWS = 69
METRICS = "metrics/evaluate/metrics.json"
ENGINEERED = "area_growth"  # added to the contract's `features:` while reviewing it


def tumours() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame[TARGET] = np.where(frame.pop("target") == 0, "malignant", "benign")
    frame.insert(0, ID, 842_302 + 17 * np.arange(len(frame)))
    return frame


def with_blanks(frame: pd.DataFrame, every: int) -> pd.DataFrame:
    """`mean_texture` as text, every `every`-th cell a space (a blank in a spreadsheet)."""
    out = frame.astype({"mean_texture": object})
    out.loc[out.index[::every], "mean_texture"] = " "
    return out


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as a client sends them: JSON, a missing value as null."""
    return json.loads(frame.to_json(orient="records"))


def ratchet(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "ratchet"), *args], repo, check=check)


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).stdout


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def switch(repo: Path, *args: str) -> None:
    git(repo, "checkout", "-q", *args)
    run(["dvc", "checkout", "-q", "--force"], repo)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("hospital")
    frame = tumours()
    new = frame.sample(n=NEW_ROWS, random_state=3).sort_index()
    known = frame.drop(index=new.index)
    with_blanks(known, every=41).to_csv(folder / "tumours.csv", index=False)
    unlabelled = with_blanks(new.drop(columns=[TARGET]), every=23)
    unlabelled.to_csv(folder / "new_patients.csv", index=False)
    new.to_csv(folder / "new_patients_labelled.csv", index=False)
    shifted = new.drop(columns=[TARGET]).copy()  # a new scanner: texture and smoothness up
    shifted["mean_texture"] = (shifted["mean_texture"] * 1.4).clip(upper=45)
    shifted["mean_smoothness"] = (shifted["mean_smoothness"] * 1.2).clip(upper=0.19)
    shifted.to_csv(folder / "shifted.csv", index=False)
    return SimpleNamespace(folder=folder, known=known, new=new, blanks=unlabelled)


@pytest.fixture(scope="module")
def fork(tmp_path_factory) -> Path:
    """The template as a fork starts: the sample's pipeline run and committed on main."""
    repo = make_template_repo(tmp_path_factory.mktemp("fork") / "repo", rows=1_000)
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "sample results")
    return repo


@pytest.fixture(scope="module")
def adopted(fork, data) -> SimpleNamespace:
    """README "Use your own data", on a branch, then its pull request against main."""
    repo = fork
    started = time.perf_counter()
    switch(repo, "-b", "own-data")
    init = ratchet(repo, "init", "--from", str(data.folder / "tumours.csv"), "--target", TARGET,
                   "--id", ID)  # fmt: skip
    # Review: one engineered feature, a ratio of two measurements, as an expression.
    path = repo / "dataset" / "contract.yaml"
    text = path.read_text()
    assert "\nfeatures: {}\n" in text
    path.write_text(text.replace("\nfeatures: {}\n", f"\nfeatures: {{{ENGINEERED}: "
                                                      "worst_area / mean_area}\n"))  # fmt: skip
    repro = run(["dvc", "repro"], repo)
    commit(repo, "Use our data")
    again = run(["dvc", "repro"], repo)
    status = git(repo, "status", "--porcelain")
    report = ratchet(repo, "report", "--base", "main")
    gate = ratchet(repo, "gate", "--base", "main", check=False)
    first_pr = (repo / "reports/pr/report.md").read_text()
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "own-data")
    run(["dvc", "checkout", "-q", "--force"], repo)
    return SimpleNamespace(
        repo=repo, init=init, repro=repro, again=again, status=status, report=report,
        gate=gate, first_pr=first_pr, seconds=time.perf_counter() - started,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tweaked(adopted, tmp_path_factory) -> SimpleNamespace:
    """A follow-up pull request: fewer boosting iterations."""
    repo = adopted.repo
    switch(repo, "-b", "fewer-trees")
    set_param(repo, "max_iter: 200 ", "max_iter: 150 ")
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "Fewer boosting iterations")
    report = ratchet(repo, "report", "--base", "main")
    gate = ratchet(repo, "gate", "--base", "main", check=False)
    text = (repo / "reports/pr/report.md").read_text()
    candidate = tmp_path_factory.mktemp("candidate") / "fewer-trees.skops"
    shutil.copy(repo / "models/model.skops", candidate)
    base = json.loads(git(repo, "show", f"main:{METRICS}"))
    head = json.loads((repo / METRICS).read_text())
    rules = yaml.safe_load(git(repo, "show", "main:params.yaml"))["gate"]["rules"]
    switch(repo, "main")
    return SimpleNamespace(report=report, gate=gate, text=text, candidate=candidate,
                           base=base, head=head, rules=rules)  # fmt: skip


@pytest.fixture(scope="module")
def prod(adopted) -> SimpleNamespace:
    """main's model registered and promoted through every stage of params.yaml to prod."""
    repo = adopted.repo
    register = ratchet(repo, "model", "register")
    stages = yaml.safe_load((repo / "params.yaml").read_text())["registry"]["stages"]
    promotions = [ratchet(repo, "model", "promote", "v1.0.0", "--to", s) for s in stages]
    smoke = ratchet(repo, "model", "smoke", "--stage", "prod")
    return SimpleNamespace(repo=repo, register=register, stages=stages, promotions=promotions,
                           smoke=smoke)  # fmt: skip


# --- 1. init, repro, commit ---------------------------------------------------------------


def test_init_then_repro_is_green_and_reproducible(adopted):
    out = adopted.init.stdout
    assert "'malignant' -> 1, 'benign' -> 0" in out and f"id: {ID}" in out
    contract = yaml.safe_load((adopted.repo / "dataset/contract.yaml").read_text())
    assert contract["columns"][ID] == {**contract["columns"][ID], "type": "integer", "role": "id"}
    assert contract["columns"]["mean_texture"]["nullable"] is True  # the blank cells
    assert "Running stage 'evaluate'" in adopted.repro.stdout
    metrics = json.loads((adopted.repo / METRICS).read_text())
    assert metrics["roc_auc"] > 0.95, metrics
    data = json.loads((adopted.repo / "metrics/data.json").read_text())
    assert data["rows"] == 569 - NEW_ROWS
    assert data["null_share"]["mean_texture"] == pytest.approx(13 / 500)
    assert "Running stage" not in adopted.again.stdout  # nothing left to reproduce
    assert adopted.status == "", adopted.status  # and nothing it wrote is uncommitted
    train = pd.read_parquet(adopted.repo / "data/features/train.parquet")
    assert np.allclose(train[ENGINEERED], train["worst_area"] / train["mean_area"])
    print(f"init to committed results: {adopted.seconds:.1f} s")


# --- 2. the pull requests and the gate ----------------------------------------------------


def test_the_switch_to_own_data_is_a_new_baseline_not_a_regression(adopted):
    assert adopted.gate.returncode == 0, adopted.gate.stdout + adopted.gate.stderr
    assert "rules from this change (new dataset)" in adopted.gate.stdout
    assert "new baseline: dataset changed: name 'churn' → 'tumours'" in adopted.gate.stdout
    report = adopted.first_pr
    assert report.startswith("### ✅ Gate passes")
    assert "🆕 **New baseline:**" in report and "target 'churned' → 'diagnosis'" in report
    assert "| rows | 1,000 | 500 | -500 |" in report


def test_a_follow_up_change_is_judged_by_its_numbers(tweaked):
    failing = []
    for metric, rule in tweaked.rules.items():
        delta = tweaked.head[metric] - tweaked.base[metric]
        worse = -delta if rule["direction"] == "higher" else delta
        row = [c.strip() for c in _row(tweaked.text, metric)]
        assert row[1:4] == [f"{tweaked.base[metric]:.4f}", f"{tweaked.head[metric]:.4f}",
                            f"{delta:+.4f}"]  # fmt: skip
        # Paired on the same test rows (the split did not change): a regression fails only
        # beyond its allowance and when its interval lies wholly on the worse side of 0.
        low, high = (float(x) for x in row[4].split("]")[0].strip("[").split(","))
        surely_worse = high < 0 if rule["direction"] == "higher" else low > 0
        if worse > rule["max_regression"] + 1e-12 and surely_worse:
            failing.append(metric)
            assert row[6].startswith("❌"), row
        else:
            assert row[6] == "✅ pass", row
    expected = 1 if failing else 0
    assert tweaked.gate.returncode == expected, tweaked.gate.stdout + tweaked.gate.stderr
    assert "rules from base" in tweaked.gate.stdout and "new baseline" not in tweaked.gate.stdout
    assert "| train.max_iter | `200` | `150` |" in tweaked.text
    assert tweaked.text.startswith("### ❌ Gate fails" if failing else "### ✅ Gate passes")


def _row(report: str, metric: str) -> list[str]:
    (line,) = [x for x in report.splitlines() if x.startswith(f"| {metric} |")]
    return line.strip().strip("|").split("|")


# --- 3. the registry ------------------------------------------------------------------------


def test_register_promote_to_prod_and_smoke(prod):
    assert "registered tumours-model v1.0.0" in prod.register.stdout
    assert prod.stages[-1] == "prod" and len(prod.stages) >= 2
    for stage, result in zip(prod.stages, prod.promotions, strict=True):
        assert result.stdout.startswith(f"{stage}: (none) -> v1.0.0 (tag tumours-model#{stage}#")
    assert "smoke test passed: tumours-model v1.0.0" in prod.smoke.stdout
    listed = ratchet(prod.repo, "model", "list").stdout
    assert "prod=v1.0.0" in listed


# --- 4. batch scoring -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def scores(prod, data) -> pd.DataFrame:
    out = data.folder / "scores.parquet"
    result = ratchet(prod.repo, "score", "--stage", "prod", "--input",
                     str(data.folder / "new_patients.csv"), "--output", str(out))  # fmt: skip
    assert f"scored {NEW_ROWS} rows with v1.0.0" in result.stdout
    return pd.read_parquet(out)


def test_score_new_patients_by_their_own_id(scores, data):
    assert list(scores.columns) == [ID, "score", "label", "model"]
    assert scores[ID].tolist() == [str(i) for i in data.new[ID]]
    assert scores["score"].between(0, 1).all() and scores["score"].std() > 0.1
    assert (scores["model"] == "v1.0.0").all()
    truth = (data.new[TARGET] == "malignant").to_numpy()
    assert (scores["label"].to_numpy() == truth).mean() > 0.85  # it is a real model


# --- 5. the service ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port: int, path: str, body: object | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body, allow_nan=False).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     headers={"content-type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def service(prod, data):
    port = _free_port()
    log = (data.folder / "serve.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "ratchet"), "serve", "--stage", "prod", "--port", str(port)],
        cwd=prod.repo, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (data.folder / "serve.log").read_text()
            try:
                if _call(port, "/health")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "the service did not become healthy"
            time.sleep(0.5)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_service_scores_a_patient_by_its_own_id(service, data, scores):
    batch = scores.set_index(ID)["score"]
    row = records(data.new.iloc[[1]])[0]  # as the file has it: the label text included
    status, body = _call(service, "/predict", row)
    assert status == 200, body
    (prediction,) = body["predictions"]
    assert set(prediction) == {ID, "score", "label"} and body["model"] == "v1.0.0"
    assert prediction[ID] == str(row[ID])  # named as `ratchet score` names it
    assert prediction["score"] == pytest.approx(batch[str(row[ID])], abs=1e-12)

    three = records(data.blanks.head(3).replace(" ", None))  # the first one's texture blank
    assert three[0]["mean_texture"] is None
    status, body = _call(service, "/predict", three)
    assert status == 200, body
    assert [p[ID] for p in body["predictions"]] == [str(r[ID]) for r in three]
    served = [p["score"] for p in body["predictions"]]
    assert served == pytest.approx(batch[[str(r[ID]) for r in three]].tolist(), abs=1e-12)

    status, spec = _call(service, "/openapi.json")
    declared = spec["components"]["schemas"]["Prediction"]["properties"][ID]["type"]
    assert declared == "string"


def test_the_service_refuses_an_unknown_column(service, data):
    row = {**records(data.new.head(1))[0], "biopsy_site": "left"}
    status, body = _call(service, "/predict", row)
    assert status == 422
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [
        (["body", "biopsy_site"], "extra_forbidden")
    ]


def test_the_published_example_is_a_valid_record(service):
    status, spec = _call(service, "/openapi.json")
    assert status == 200
    record = spec["components"]["schemas"]["Record"]
    (example,) = record["examples"]
    assert set(example) == set(record["properties"]) - {TARGET}
    assert ENGINEERED not in record["properties"]  # computed by the service, never sent
    status, body = _call(service, "/predict", example)
    assert status == 200, body
    assert math.isfinite(body["predictions"][0]["score"])


# --- 6. shadow ----------------------------------------------------------------------------


def test_shadow_compares_a_candidate_with_prod(prod, tweaked, data):
    out = data.folder / "shadow.md"
    ratchet(prod.repo, "shadow", "--candidate", str(tweaked.candidate), "--baseline", "prod",
            "--input", str(data.folder / "new_patients_labelled.csv"), "--output", str(out),
            "--json", str(data.folder / "shadow.json"))  # fmt: skip
    text = out.read_text()
    assert text.startswith("## Shadow comparison: file:fewer-trees") and "v1.0.0" in text
    result = json.loads((data.folder / "shadow.json").read_text())
    assert result["rows"] == NEW_ROWS
    assert result["metrics"]["baseline"]["roc_auc"] > 0.9  # labels read as the data has them
    ids = {str(i) for i in data.new[ID]}
    assert result["top_disagreements"] and {r["id"] for r in result["top_disagreements"]} <= ids


# --- 7. drift -----------------------------------------------------------------------------


def test_drift_finds_the_shifted_measurements_and_skips_engineered_ones(prod, data):
    out = data.folder / "drift"
    result = ratchet(prod.repo, "drift", "--stage", "prod", "--current",
                     str(data.folder / "shifted.csv"), "--output-dir", str(out),
                     check=False)  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    summary = json.loads((out / "drift.json").read_text())
    compared = {c["column"] for c in summary["columns"]}
    features = set(data.known.columns) - {ID, TARGET}
    assert compared == features  # every measurement, and the engineered ratio not
    assert {"mean_texture", "mean_smoothness"} <= set(summary["drifted_columns"])
    assert summary["prediction_drift"] is not None
    assert (out / "drift.html").stat().st_size > 10_000
