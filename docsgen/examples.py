"""The outputs the docs show, produced by the project's own commands on the bundled sample.

A fresh copy of the template (benchmarks.template), the real pipeline, then what a user
does next: register and promote the model, score a batch, check a drifted batch, and open
a pull request that makes the model worse (20 trees instead of 200). Each scene's commands
run in a shell, and their transcript (`$ command`, then what it printed) is written to
docs/generated/<scene>.txt; the pull request's report and plots go to
docs/examples/binary/. Pages include the transcripts (`--8<--`), so no output in the docs
is typed by hand. Takes a few minutes:

    python -m docsgen.examples        # or: make docs-examples
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.tasks import degraded_report
from benchmarks.template import BIN, ROOT, make_template_repo, run

OUT = ROOT / "docs" / "generated"
REPORT = ROOT / "docs" / "examples" / "binary"
ROWS = 20_000  # the template's own sample size: the docs show what a fresh clone gets

# scene -> shell commands, run in order in the repository (after the pipeline ran).
SCENES: dict[str, list[str]] = {
    "metrics": ["dvc metrics show --precision 4 metrics/evaluate/metrics.json"],
    "registry": [
        "ratchet model register",
        "sed -i 's/learning_rate: 0.05/learning_rate: 0.06/' params.yaml"
        " && dvc repro -q && git commit -qam 'Learn faster'",
        "ratchet model register",
        "ratchet model promote v1.1.0 --to prod",
        "for s in dev staging prod; do ratchet model promote v1.0.0 --to $s; done",
        "for s in dev staging prod; do ratchet model promote v1.1.0 --to $s; done",
        "ratchet model rollback --stage prod",
        "ratchet model rollback --stage prod",
        "ratchet model list",
        "ratchet model smoke --stage prod",
    ],
    "score": [
        "ratchet sample --rows 5000 --seed 7 --output batch.csv",
        "ratchet score --input batch.csv --output scores.parquet",
        "python -c \"import pandas as pd; print(pd.read_parquet('scores.parquet').head(3))\"",
    ],
    "drift": [
        "ratchet sample --rows 20000 --seed 8 --drift --output drifted.csv",
        "ratchet drift --current drifted.csv --output-dir reports/drift",
    ],
    "gate": ["ratchet gate --base main"],
}


def transcript(repo: Path, commands: list[str]) -> str:
    """`$ command` and its output (stdout and stderr, as a terminal shows them) per command."""
    parts = []
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=repo,
            env={**_env(), "COLUMNS": "100"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        parts.append(f"$ {command}\n{clean(done.stdout, repo)}".rstrip())
    return "\n".join(parts) + "\n"


def clean(text: str, repo: Path) -> str:
    """Output without this machine's temporary paths or Spark's progress bars."""
    lines = [line for line in text.splitlines() if "\r" not in line]
    return "\n".join(lines).replace(f"{repo}/", "").replace(str(repo), ".")


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def pipeline(repo: Path) -> None:
    run(["dvc", "repro", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "Run the pipeline"], repo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="transcripts (default: %(default)s)")
    parser.add_argument("--report", type=Path, default=REPORT, help="PR report and plots")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ratchet-docs-") as tmp:
        repo = make_template_repo(Path(tmp) / "churn-model", rows=ROWS)
        pipeline(repo)
        args.out.mkdir(parents=True, exist_ok=True)
        for scene, commands in SCENES.items():
            if scene == "gate":
                report = degraded_report(repo, trees=20)
                if args.report.exists():
                    shutil.rmtree(args.report)
                shutil.copytree(report, args.report, ignore=shutil.ignore_patterns("*.json"))
            (args.out / f"{scene}.txt").write_text(transcript(repo, commands))
            print(f"wrote {args.out / scene}.txt", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
