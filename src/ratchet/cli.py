"""The `ratchet` command: a registry of subcommands, each living in its own module.

Only dispatch happens here. Each command's arguments and logic live in the module named
for it (`add_arguments`, `command`), so dvc.yaml can list a stage's real code as its
deps without rerunning every stage whenever a new subcommand is added.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ratchet import __version__
from ratchet.core import params
from ratchet.core.errors import RatchetError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "ratchet.dataset.init",
        "draft dataset/contract.yaml from your table and point the pipeline at it",
    ),
    "sample": ("ratchet.dataset.sample", "write the synthetic churn table (params: sample)"),
    "validate": (
        "ratchet.pipeline.validate",
        "check the raw table against the schema (params: validate)",
    ),
    "checks": ("ratchet.pipeline.checks", "list every validation check, its policy and reason"),
    "featurize": ("ratchet.pipeline.featurize", "split and build features (params: featurize)"),
    "train": ("ratchet.pipeline.train", "fit the model (params: train)"),
    "evaluate": ("ratchet.pipeline.evaluate", "score the test split (params: evaluate)"),
    "score": ("ratchet.serving.score", "batch scoring: a file in, scores out (Parquet), in chunks"),
    "shadow": (
        "ratchet.serving.shadow",
        "score one batch with two versions and compare (before promotion)",
    ),
    "serve": (
        "ratchet.serving.serve",
        "REST service: POST /predict, GET /health and /model (needs the 'serve' extra)",
    ),
    "drift": ("ratchet.monitoring.drift", "drift report: a new batch vs the model's training data"),
    "model": (
        "ratchet.registry.model_command",
        "model registry: register, promote, rollback, get, ...",
    ),
    "report": (
        "ratchet.review.report",
        "write the pull-request report: this change vs a base revision",
    ),
    "gate": (
        "ratchet.review.gate",
        "pass or fail this change under the base revision's gate rules",
    ),
    "exp": (
        "ratchet.experiments.exp_command",
        "experiments: expand sweep grids, rank results, branch the best",
    ),
}

# Commands that also run on Spark (`--engine spark`): the module that does it there.
SPARK_COMMANDS: dict[str, str] = {
    "score": "ratchet.spark.score",
    "validate": "ratchet.spark.validate",
    "drift": "ratchet.spark.drift",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ratchet", description="Git-native ML lifecycle: pipeline stages and tools."
    )
    parser.add_argument("--version", action="version", version=f"ratchet {__version__}")
    parser.add_argument(
        "--params", default=params.PARAMS_FILE, help="params file (default: %(default)s)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Import only the module of the command being run: `ratchet sample` need not load
    # scikit-learn, and `--help` stays fast.
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(handler=module.command)
            if name in SPARK_COMMANDS:
                from ratchet.spark import engine

                engine.add_arguments(p)
                p.set_defaults(handler=_engine_handler(module.command, SPARK_COMMANDS[name]))
    return parser


def _engine_handler(pandas_command, spark_module: str):
    """Run the command on the engine --engine names; Spark's module loads only when asked."""

    def handler(args: argparse.Namespace) -> int:
        from ratchet.spark import engine

        engine.check_arguments(args)
        if args.engine == "spark":
            return importlib.import_module(spark_module).command(args)
        return pandas_command(args)

    return handler


def configure_environment() -> None:
    """Process settings every command needs, made before scikit-learn is imported."""
    # Neither DVC nor DVCLive may phone home from a user's pipeline.
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # scikit-learn's OpenMP threads (gradient boosting) spin while they wait for work. On a
    # busy machine the spinning threads take the cores the working ones need: fits and
    # predictions ran 5-20 times slower on 2 loaded cores. Passive waiting costs little on
    # an idle machine. OpenMP reads this once, when scikit-learn loads it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: Sequence[str] | None = None) -> int:
    configure_environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return args.handler(args)
    except RatchetError as exc:
        print(f"ratchet {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
