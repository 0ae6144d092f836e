"""DVCLive, set up the way a DVC pipeline stage needs it."""

from __future__ import annotations

import os

from dvclive import Live, env


class _StageLive(Live):
    """DVCLive without opening the DVC repository.

    On start DVCLive opens the repository (it imports `dvc.repo` and reads the repository's
    config and git state, about 0.2 s of CPU per stage) to save experiments, find
    overlapping stages and send live updates to DVC Studio. A stage needs none of it: DVC
    itself runs the stage and records its outputs, and `dvc exp run` saves experiments.
    What DVCLive learns from the environment DVC sets (inside `dvc repro` or
    `dvc exp run`) it still learns. With no repository, no Studio settings are read
    from it.
    """

    def _init_dvc(self) -> None:
        self._dvc_file = self._init_dvc_file()
        if os.getenv(env.DVC_ROOT):
            self._inside_dvc_pipeline = True
            self._init_dvc_pipeline()


def stage_live(directory: str | os.PathLike) -> Live:
    # dvc.yaml already declares these metrics and plots (dvcyaml=False), and a stage must
    # not create experiments of its own (save_dvc_exp=False): DVC tracks the run.
    return _StageLive(str(directory), dvcyaml=False, save_dvc_exp=False, report=None)
