"""The stages' DVCLive writes its files without opening (or creating) a DVC repository."""

from __future__ import annotations

import json
import subprocess

from ratchet.pipeline.live import stage_live


def test_metrics_are_written_and_no_repository_is_touched(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # git, no DVC, no commit
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    with stage_live(tmp_path / "live") as live:
        live.log_metric("auc", 0.75, plot=False)
        assert live._dvc_repo is None
    assert json.loads((tmp_path / "live" / "metrics.json").read_text()) == {"auc": 0.75}
    # Stock DVCLive runs `dvc init` here (and fails in a repository without commits).
    assert not (tmp_path / ".dvc").exists()


def test_inside_dvc_exp_run_it_knows_so_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "0" * 40)
    with stage_live(tmp_path / "live") as live:
        assert live._inside_dvc_pipeline and live._inside_dvc_exp
        assert not live._save_dvc_exp
