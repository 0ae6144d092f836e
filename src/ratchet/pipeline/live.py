"""DVCLive, set up the way a DVC pipeline stage needs it."""

from __future__ import annotations

import os

from dvclive import Live


def stage_live(directory: str | os.PathLike) -> Live:
    # dvc.yaml already declares these metrics and plots (dvcyaml=False), and a stage must
    # not create experiments of its own (save_dvc_exp=False): DVC tracks the run.
    return Live(str(directory), dvcyaml=False, save_dvc_exp=False, report=None)
