"""The registry end to end: real git, real GTO, real DVC, in a temporary repository."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import dvc.api
import numpy as np
import pandas as pd
import pytest

from conftest import commit_pipeline, ratchet, registered_repo, run
from ratchet.core.errors import RatchetError
from ratchet.dataset import schema
from ratchet.registry import tags
from ratchet.registry.artifact import locked_md5
from ratchet.registry.loading import load_model, resolve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> Path:
    bare = tmp_path_factory.mktemp("remote") / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], bare.parent)
    return bare


@pytest.fixture(scope="module")
def repo(tmp_path_factory, remote, registered_template) -> Path:
    """main with two pipeline commits, registered as v1.0.0 and v1.1.0."""
    repo = registered_repo(registered_template, tmp_path_factory.mktemp("registry") / "repo")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("learning_rate: 0.05", "learning_rate: 0.03"))
    commit_pipeline(repo, "slower learning")
    ratchet(repo, "model", "register")
    run(["git", "remote", "add", "origin", str(remote)], repo)
    run(["git", "push", "-q", "origin", "main", "--tags"], repo)
    return repo


def test_register_creates_gto_tags_with_a_model_card(repo):
    tags = run(["git", "tag", "-l"], repo).stdout.split()
    assert tags == ["churn-model@v1.0.0", "churn-model@v1.1.0"]
    message = run(["git", "tag", "-l", "--format=%(contents)", "churn-model@v1.1.0"], repo).stdout
    assert "churn-model v1.1.0" in message and "roc_auc=" in message
    assert "learning_rate=0.03" in message and "md5 models/model.skops:" in message


def test_register_refuses_a_registered_commit_and_a_dirty_tree(repo):
    result = ratchet(repo, "model", "register", check=False)
    assert result.returncode == 2 and "already registered as v1.1.0" in result.stderr
    result = ratchet(repo, "model", "register", "--version", "v0.1.0", check=False)
    assert result.returncode == 2


def test_promotion_workflow_rollback_and_gto_agree(repo):
    refused = ratchet(repo, "model", "promote", "v1.0.0", "--to", "prod", check=False)
    assert refused.returncode == 2
    assert "can't jump straight to prod" in refused.stderr
    assert "#prod#" not in run(["git", "tag", "-l"], repo).stdout  # nothing created

    for version in ("v1.0.0", "v1.1.0"):
        for stage in ("dev", "staging", "prod"):
            ratchet(repo, "model", "promote", version, "--to", stage, "--push")
    assert resolve(repo, stage="prod").version == "v1.1.0"

    out = ratchet(repo, "model", "rollback", "--stage", "prod", "--push").stdout
    assert "prod: v1.1.0 -> v1.0.0" in out
    assert resolve(repo, stage="prod").version == "v1.0.0"
    remote_tags = run(["git", "ls-remote", "--tags", "origin"], repo).stdout
    assert "churn-model#prod#7" in remote_tags  # the rollback is a new, pushed tag
    again = ratchet(repo, "model", "rollback", "--stage", "prod", "--push", check=False)
    assert again.returncode == 2  # no ping-pong back to the version rolled back from
    assert "v1.1.0 was rolled back from by churn-model#prod#7" in again.stderr
    assert "#prod#8" not in run(["git", "tag", "-l"], repo).stdout

    shown = json.loads(run(["gto", "show", "--json"], repo).stdout)["churn-model"]
    assert shown["stage"] == {"dev": "v1.1.0", "staging": "v1.1.0", "prod": "v1.0.0"}
    listed = ratchet(repo, "model", "list").stdout
    assert "prod=v1.0.0" in listed and "staging=v1.1.0" in listed
    history = run(["gto", "history", "churn-model", "--json"], repo).stdout
    assert history.count('"assignment"') == 7


def test_load_by_stage_matches_that_revisions_evaluate_output(repo):
    ref = resolve(repo, stage="prod")
    model = load_model(stage="prod", repo=repo)

    # The test features and evaluate output of that exact revision, read through DVC.
    def at_rev(path):
        with dvc.api.open(path, repo=str(repo), rev=ref.commit, mode="rb") as fh:
            return pd.read_parquet(io.BytesIO(fh.read()))

    test = at_rev("data/features/test.parquet")
    expected = at_rev("data/predictions/test.parquet")
    features = test.drop(columns=[schema.ID, schema.TARGET])
    np.testing.assert_array_equal(model.predict_proba(features)[:, 1], expected["score"])
    latest = load_model(latest=True, repo=repo)
    assert not np.array_equal(latest.predict_proba(features)[:, 1], expected["score"])


def test_get_writes_the_registered_file(repo, tmp_path):
    out = tmp_path / "prod.skops"
    ratchet(repo, "model", "get", "--version", "v1.1.0", "-o", str(out))
    card = ratchet(repo, "model", "card", "v1.1.0").stdout
    import hashlib

    assert f"`{hashlib.md5(out.read_bytes()).hexdigest()}`" in card


def test_tampered_model_in_the_cache_is_refused(repo):
    ref = resolve(repo, version="v1.0.0")
    md5 = locked_md5(repo, ref.commit, ref.path)
    obj = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    original = obj.read_bytes()
    obj.chmod(0o644)
    obj.write_bytes(original[:-10] + b"0123456789")
    try:
        with pytest.raises(RatchetError, match="refusing a model that is not the one registered"):
            load_model("v1.0.0", repo=repo)
    finally:
        obj.write_bytes(original)


def test_concurrent_rollback_loses_cleanly(repo, remote, tmp_path):
    # v1.1.0 goes back to prod deliberately (it is still in staging), so prod can roll back.
    ratchet(repo, "model", "promote", "v1.1.0", "--to", "prod", "--push")
    other = tmp_path / "other"
    run(["git", "clone", "-q", str(remote), str(other)], tmp_path)
    run(["git", "config", "user.email", "b@example.com"], other)
    run(["git", "config", "user.name", "B"], other)
    shutil.copytree(repo / ".dvc" / "cache", other / ".dvc" / "cache", dirs_exist_ok=True)
    # Both clones decide on the same state; the other one pushes first.
    ratchet(repo, "model", "rollback", "--stage", "prod")  # created locally, not yet pushed
    ratchet(other, "model", "rollback", "--stage", "prod", "--push")
    mine = max(
        (t for t in run(["git", "tag", "-l"], repo).stdout.split() if "#prod#" in t),
        key=lambda t: int(t.rsplit("#", 1)[1]),
    )
    with pytest.raises(RatchetError, match="fetch --tags origin` and retry"):
        tags.push_tag(repo, mine)
    assert mine not in run(["git", "tag", "-l"], repo).stdout.split()  # the loser is undone

    # Retrying decides on the fresh state: the other clone already rolled prod back from
    # v1.1.0 to v1.0.0, and a second rollback would only bring v1.1.0 back.
    retry = ratchet(repo, "model", "rollback", "--stage", "prod", "--push", check=False)
    assert retry.returncode == 2 and f"v1.1.0 was rolled back from by {mine}" in retry.stderr
    assert resolve(repo, stage="prod").version == "v1.0.0"


def test_register_refuses_a_model_that_fails_the_gate(repo):
    """Runs last: it adds a commit that degrades the model (too few trees)."""
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("max_iter: 200", "max_iter: 20"))
    commit_pipeline(repo, "fewer trees")
    result = ratchet(repo, "model", "register", check=False)
    assert result.returncode == 2
    assert "fails the gate against the latest version v1.1.0" in result.stderr
    assert "log_loss: worse than base" in result.stderr
    assert "@v1.2.0" not in run(["git", "tag", "-l"], repo).stdout


def test_tag_info_and_smoke_test(repo):
    info = ratchet(repo, "model", "tag-info", "churn-model@v1.0.0").stdout
    assert "kind=registration" in info and "version=v1.0.0" in info
    out = ratchet(repo, "model", "smoke", "--stage", "prod", "--rows", "300").stdout
    assert "smoke test passed" in out and "scored 300 rows" in out
    bad = ratchet(repo, "model", "tag-info", "v1.0.0", check=False)
    assert bad.returncode == 2 and "not a registry tag" in bad.stderr


def test_drift_against_the_prod_models_training_data(repo, tmp_path):
    from ratchet.dataset import sample

    batch = tmp_path / "batch.csv"
    sample.generate(3_000, seed=5, drift=True).to_csv(batch, index=False)
    out = tmp_path / "drift"
    result = ratchet(repo, "drift", "--current", str(batch), "--output-dir", str(out), check=False)
    assert result.returncode == 1, result.stderr
    summary = json.loads((out / "drift.json").read_text())
    assert summary["reference"]["source"] == "stage prod"
    assert summary["prediction_drift"]["column"] == "score"
    assert summary["target_drift"]["column"] == schema.TARGET
    assert "age" in summary["drifted_columns"]


def test_batch_scoring_with_the_prod_model(repo, tmp_path):
    from ratchet.dataset import sample

    batch = tmp_path / "batch.parquet"
    sample.generate(400, seed=6).to_parquet(batch, index=False)
    out = tmp_path / "scores.parquet"
    ratchet(repo, "score", "--input", str(batch), "--output", str(out), "--stage", "prod")
    scored = pd.read_parquet(out)
    assert len(scored) == 400 and scored["model"].unique().tolist() == [
        resolve(repo, stage="prod").version
    ]


def test_shadow_compares_a_candidate_version_with_the_prod_stage(repo, tmp_path):
    from ratchet.dataset import sample

    batch = tmp_path / "batch.parquet"
    sample.generate(600, seed=8).to_parquet(batch, index=False)
    prod = resolve(repo, stage="prod")
    other = "v1.1.0" if prod.version == "v1.0.0" else "v1.0.0"
    report = ratchet(repo, "shadow", "--candidate", other, "--input", str(batch),
                     "--json", str(tmp_path / "shadow.json")).stdout  # fmt: skip
    result = json.loads((tmp_path / "shadow.json").read_text())
    assert result["baseline"] == {"spec": "prod", "version": prod.version, "commit": prod.commit}
    assert result["candidate"]["version"] == other and result["rows"] == 600
    assert report.startswith(f"## Shadow comparison: {other} vs {prod.version}")
    assert result["scores"]["max_abs_change"] > 0 and result["metrics"] is not None


def test_shadow_without_a_batch_uses_the_candidates_held_out_rows(repo, tmp_path):
    prod = resolve(repo, stage="prod")
    other = "v1.1.0" if prod.version == "v1.0.0" else "v1.0.0"
    report = ratchet(repo, "shadow", "--candidate", other,
                     "--json", str(tmp_path / "shadow.json")).stdout  # fmt: skip
    result = json.loads((tmp_path / "shadow.json").read_text())
    # 2,000 sample rows, 20 % held out: the candidate's own test split, labels included.
    assert result["rows"] == 400 and result["metrics"] is not None
    assert result["input"].startswith("data/features/test.parquet at ")
    assert f"held-out rows of {other}" in report
    missing = ratchet(repo, "shadow", "--candidate", "models/model.skops", check=False)
    assert missing.returncode == 2
    assert "--input is required when the candidate is a model file" in missing.stderr


# --- multiclass and regression versions: registered from `ratchet init` on toy data --------


@pytest.fixture(scope="module", params=["multiclass", "regression"])
def task_repo(request, tmp_path_factory) -> tuple[str, Path]:
    """A project adopted to the toy data of the task, its pipeline run, v1.0.0 in dev."""
    from conftest import BIN, make_template_repo
    from task_fixtures import raw_rows

    task = request.param
    base = tmp_path_factory.mktemp(task)
    repo = make_template_repo(base / "repo", rows=1_000)
    # 2,000 rows: a training split above 1,000 rows, so drift compares by effect size.
    raw_rows(task, 2_000, seed=0).to_csv(base / "toy.csv", index=False)
    run([str(BIN / "ratchet"), "init", "--from", str(base / "toy.csv"), "--target", "y"], repo)
    commit_pipeline(repo, "toy data")
    ratchet(repo, "model", "register")
    ratchet(repo, "model", "promote", "v1.0.0", "--to", "dev")
    raw_rows(task, 1_500, seed=2).to_csv(base / "same.csv", index=False)
    raw_rows(task, 1_500, seed=3, shift=1.0).to_csv(base / "shifted.csv", index=False)
    return task, repo


def test_smoke_test_of_a_task_version(task_repo):
    task, repo = task_repo
    out = ratchet(repo, "model", "smoke", "--stage", "dev", "--rows", "300").stdout
    assert out.startswith("smoke test passed: toy-model v1.0.0 (")
    if task == "multiclass":
        assert "predicted 300 rows, classes a " in out and "mean top probability" in out
    else:
        assert "predicted 300 rows, mean prediction " in out


def test_drift_of_a_task_version_against_its_training_split(task_repo, tmp_path):
    task, repo = task_repo
    verdicts = {}
    for batch in ("same", "shifted"):
        out = tmp_path / batch
        args = ["--current", str(repo.parent / f"{batch}.csv"), "--output-dir", str(out)]
        result = ratchet(repo, "drift", "--stage", "dev", *args, check=False)
        summary = json.loads((out / "drift.json").read_text())
        verdicts[batch] = (result.returncode, summary["verdict"], summary["drifted_columns"])
        assert summary["reference"]["source"] == "stage dev"
        headline = "predicted_class" if task == "multiclass" else "prediction"
        assert summary["prediction_drift"]["column"] == headline
        assert summary["prediction_drift"]["drifted"] == (batch == "shifted")
        # Labels are compared too: class names (multiclass) or numbers (regression).
        assert summary["target_drift"]["column"] == "y"
        assert summary["target_drift"]["drifted"] == (batch == "shifted")
    assert verdicts == {"same": (0, "no drift", []), "shifted": (1, "drift", ["x1"])}
