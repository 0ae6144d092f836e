"""`ratchet model` stage decisions and history on real git tags, with no pipeline.

promote, rollback and history read only tags, params.yaml and dvc.yaml, so each test
builds a small git repository whose past decisions are annotated tags in GTO's format,
dated a minute apart in the past; the command under test then adds its own tag now.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLE, ratchet, run

VERSIONS = ("v1.0.0", "v1.1.0", "v1.2.0")
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


class Repo:
    """A repository with one commit per version, each registered; past decisions as tags."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits: dict[str, str] = {}
        self.decisions = 0
        path.mkdir()
        run(["git", "init", "-q", "-b", "main"], path)
        run(["git", "config", "user.email", "ci@example.com"], path)
        run(["git", "config", "user.name", "Ratchet CI"], path)
        shutil.copy(EXAMPLE / "params.yaml", path / "params.yaml")
        shutil.copy(EXAMPLE / "dvc.yaml", path / "dvc.yaml")
        for version in VERSIONS:
            (path / "version.txt").write_text(version)
            run(["git", "add", "-A"], path)
            run(["git", "commit", "-qm", f"model {version}"], path)
            self.commits[version] = run(["git", "rev-parse", "HEAD"], path).stdout.strip()
            self.tag(f"churn-model@{version}", self.commits[version], f"churn-model {version}")

    def tag(self, name: str, commit: str, message: str) -> None:
        self.decisions += 1
        when = {"GIT_COMMITTER_DATE": f"@{T0 + 60 * self.decisions} +0000"}
        run(["git", "tag", "-a", name, commit, "-m", message], self.path, env=when)

    def assign(self, version: str, stage: str) -> None:
        """A past promotion, as `gto assign` writes it (the next GTO counter)."""
        n = self._counter() + 1
        self.tag(f"churn-model#{stage}#{n}", self.commits[version], f"Promote {version}")

    def unassign(self, version: str, stage: str) -> None:
        """A past unassignment, as `gto deprecate NAME VERSION STAGE` writes it."""
        n = self._counter() + 1
        self.tag(f"churn-model#{stage}!#{n}", self.commits[version], f"Unassign {version}")

    def _counter(self) -> int:
        names = self.tags()
        return max((int(t.rsplit("#", 1)[1]) for t in names if "#" in t), default=0)

    def tags(self) -> list[str]:
        return run(["git", "tag", "-l"], self.path).stdout.split()

    def ratchet(self, *args: str, check: bool = True):
        return ratchet(self.path, *args, check=check)

    def gto_stages(self) -> dict[str, str]:
        shown = json.loads(run(["gto", "show", "--json"], self.path).stdout)
        return shown["churn-model"]["stage"]


@pytest.fixture
def repo(tmp_path) -> Repo:
    return Repo(tmp_path / "repo")


def refused(result, *parts: str) -> None:
    """Exit 2, one line on stderr, naming every part."""
    assert result.returncode == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


def test_a_second_rollback_does_not_bring_back_the_version_rolled_back_from(repo):
    repo.assign("v1.0.0", "prod")
    repo.assign("v1.1.0", "prod")

    out = repo.ratchet("model", "rollback", "--stage", "prod").stdout
    assert "prod: v1.1.0 -> v1.0.0 (rollback, tag churn-model#prod#3)" in out
    before = repo.tags()
    again = repo.ratchet("model", "rollback", "--stage", "prod", check=False)
    refused(again, "stage 'prod'", "v1.1.0 was rolled back from by churn-model#prod#3",
            "ratchet model promote")  # fmt: skip
    assert repo.tags() == before  # nothing created
    assert repo.gto_stages()["prod"] == "v1.0.0"

    # The tags alone record it: the rollback's message, which gto shows as it is.
    history = json.loads(run(["gto", "history", "churn-model", "--json"], repo.path).stdout)
    assert any(h["message"] == "Roll back prod from v1.1.0 to v1.0.0" for h in history)
    listed = repo.ratchet("model", "history").stdout.splitlines()
    assert "assignment prod (rollback)" in listed[0] and "churn-model#prod#3" in listed[0]


def test_rollbacks_walk_back_past_every_version_rolled_back_from(repo):
    for version in VERSIONS:
        repo.assign(version, "prod")
    steps = [repo.ratchet("model", "rollback", "--stage", "prod").stdout for _ in range(2)]
    assert "prod: v1.2.0 -> v1.1.0" in steps[0] and "prod: v1.1.0 -> v1.0.0" in steps[1]
    last = repo.ratchet("model", "rollback", "--stage", "prod", check=False)
    refused(last, "no version to roll back to from v1.0.0", "v1.1.0 was rolled back from",
            "v1.2.0 was rolled back from")  # fmt: skip
    assert repo.gto_stages()["prod"] == "v1.0.0"


def test_a_deliberate_promotion_returns_a_version_rolled_back_from(repo):
    for stage in ("dev", "staging", "prod"):
        repo.assign("v1.0.0", stage)
    for stage in ("dev", "staging", "prod"):
        repo.assign("v1.1.0", stage)
    repo.ratchet("model", "rollback", "--stage", "prod")
    out = repo.ratchet("model", "promote", "v1.1.0", "--to", "prod").stdout
    assert "prod: v1.0.0 -> v1.1.0" in out
    # Promoted again, it is no longer barred: the next rollback leaves it like any other.
    out = repo.ratchet("model", "rollback", "--stage", "prod").stdout
    assert "prod: v1.1.0 -> v1.0.0" in out
    assert repo.gto_stages() == {"dev": "v1.1.0", "staging": "v1.1.0", "prod": "v1.0.0"}


def test_promotion_needs_the_version_in_the_previous_stage_now(repo):
    repo.assign("v1.0.0", "dev")
    repo.assign("v1.0.0", "staging")
    repo.unassign("v1.0.0", "staging")  # taken out of staging after it got there
    result = repo.ratchet("model", "promote", "v1.0.0", "--to", "prod", check=False)
    refused(result, "version v1.0.0 is no longer in staging",
            "unassigned by churn-model#staging!#3", "promote v1.0.0 to staging again")  # fmt: skip
    assert not [t for t in repo.tags() if "#prod#" in t]

    repo.assign("v1.0.0", "staging")  # back in staging, then replaced by a newer version
    repo.assign("v1.1.0", "dev")
    repo.assign("v1.1.0", "staging")
    result = repo.ratchet("model", "promote", "v1.0.0", "--to", "prod", check=False)
    refused(result, "no longer in staging", "replaced by v1.1.0, churn-model#staging#6")
    out = repo.ratchet("model", "promote", "v1.1.0", "--to", "prod").stdout
    assert "prod: (none) -> v1.1.0" in out


def test_history_shows_the_named_artifact_only(repo):
    repo.assign("v1.0.0", "dev")
    # Another artifact in the same repository, registered at the first commit.
    repo.tag("other-model@v3.0.0", repo.commits["v1.0.0"], "other-model v3.0.0")

    other = repo.ratchet("model", "history", "other-model").stdout.splitlines()
    assert len(other) == 1 and "other-model@v3.0.0" in other[0]
    default = repo.ratchet("model", "history").stdout
    assert "churn-model#dev#1" in default and "other-model" not in default
    assert default == repo.ratchet("model", "history", "churn-model").stdout

    unknown = repo.ratchet("model", "history", "no-such-model", check=False)
    refused(unknown, "no artifact named 'no-such-model'", "churn-model, other-model")
    assert unknown.stdout == ""


def test_history_of_a_declared_artifact_without_tags(tmp_path):
    path = tmp_path / "fresh"
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path)
    shutil.copy(EXAMPLE / "params.yaml", path / "params.yaml")
    shutil.copy(EXAMPLE / "dvc.yaml", path / "dvc.yaml")
    out = ratchet(path, "model", "history", "churn-model").stdout
    assert out == "churn-model: no registry events\n"
