"""The CI workflow: a thin, locked-down caller of make targets, audited offline."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from conftest import BIN, ROOT, run

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(path) -> dict:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load(ROOT / ".github" / "workflows" / "pipeline.yml")


def test_zizmor_finds_nothing():
    result = run([str(BIN / "zizmor"), "--offline", *map(str, WORKFLOWS)], ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_workflows_match_the_github_schema():
    result = run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *map(str, WORKFLOWS)],
        ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    result = run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad)],
        tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode != 0


def test_triggers_and_permissions(workflow):
    assert set(workflow["on"]) == {"pull_request", "push"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert "pull_request_target" not in (ROOT / ".github/workflows/pipeline.yml").read_text()
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["pipeline"]["permissions"] == {"contents": "read"}
    assert jobs["comment"]["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_actions_are_pinned_and_checkouts_keep_no_credentials(workflow):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    text = (ROOT / ".github/workflows/pipeline.yml").read_text()
    assert all(re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line) for line in text.splitlines()
               if "uses:" in line)  # fmt: skip


def test_pipeline_job_fetches_full_history_and_only_calls_make(workflow):
    steps = workflow["jobs"]["pipeline"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    commands = [s["run"] for s in steps if "run" in s]
    assert commands[:-1] == [
        "make setup", "make pull", "make repro", "make pr-report",
        'cat reports/pr/summary.md >> "$GITHUB_STEP_SUMMARY"', "make push",
    ]  # fmt: skip
    assert commands[-1] == "make gate"
    # No ${{ }} inside run: scripts (template injection); values arrive as env variables.
    for job in workflow["jobs"].values():
        assert all("${{" not in s.get("run", "") for s in job["steps"])


def documented_targets() -> set[str]:
    """The targets `make help` lists (those with a `## ` comment)."""
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[0] for line in re.sub(r"\x1b\[[0-9;]*m", "", shown).splitlines()}


def test_every_make_target_the_workflow_calls_is_documented():
    listed = documented_targets()
    text = (ROOT / ".github/workflows/pipeline.yml").read_text()
    called = set(re.findall(r"run: make ([\w-]+)", text))
    assert {"setup", "pull", "repro", "pr-report", "push", "gate", "pr-comment"} == called
    assert called <= listed, called - listed
    dry = subprocess.run(
        ["make", "-n", "gate", "pr-report", "BASE=main"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    # BASE reaches ratchet through the environment (tests/test_makefile.py).
    assert 'ratchet gate --base "${BASE}"' in dry
    assert 'ratchet report --base "${BASE}"' in dry


@pytest.fixture(scope="module")
def registry_workflow() -> dict:
    return load(ROOT / ".github" / "workflows" / "registry.yml")


def test_registry_workflow_reacts_to_registry_tags_only(registry_workflow):
    assert set(registry_workflow["on"]) == {"push"}
    assert registry_workflow["on"]["push"] == {"tags": ["*@v*", "*#*"]}
    assert registry_workflow["permissions"] == {}
    jobs = registry_workflow["jobs"]
    assert jobs["describe"]["permissions"] == {"contents": "read"}
    assert jobs["release"]["permissions"] == {"contents": "write"}
    assert jobs["smoke"]["permissions"] == {"contents": "read"}
    assert jobs["image"]["permissions"] == {"contents": "read", "packages": "write"}
    assert "registration" in jobs["release"]["if"] and "assignment" in jobs["smoke"]["if"]
    # The image is built only for staging and prod, and only once the smoke test passed.
    assert "'staging'" in jobs["image"]["if"] and "'prod'" in jobs["image"]["if"]
    assert jobs["image"]["needs"] == ["describe", "smoke"]
    assert jobs["image"]["env"]["IMAGE"] == "ghcr.io/${{ github.repository }}"
    assert [s.get("run") for s in jobs["image"]["steps"]][-2:] == ["make image", "make image-push"]


def test_registry_workflow_steps_are_pinned_make_or_ratchet(registry_workflow):
    for job in registry_workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]
                if step["uses"].startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
                    assert step["with"]["fetch-depth"] == 0
            for line in step.get("run", "").splitlines():
                assert line.startswith(("make ", ".venv/bin/ratchet ")), line
                assert "${{" not in line
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    text = (ROOT / ".github/workflows/registry.yml").read_text()
    for target in set(re.findall(r"make ([\w-]+)", text)):
        assert target in shown, target


@pytest.mark.parametrize("name", ["monitor.yml", "retrain.yml", "score.yml"])
def test_monitor_and_retrain_workflows_follow_the_rules(name):
    workflow = load(ROOT / ".github" / "workflows" / name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "permissions" in job  # least privilege, per job
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), step["uses"]
                if step["uses"].startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
            assert "${{" not in step.get("run", "")
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    text = (ROOT / ".github/workflows" / name).read_text()
    for target in set(re.findall(r"^\s*(?:run: )?make ([\w-]+)", text, re.MULTILINE)):
        assert target in shown, target


def test_retrain_schedule_and_monitor_trigger():
    retrain = load(ROOT / ".github" / "workflows" / "retrain.yml")
    assert retrain["on"]["schedule"] == [{"cron": "0 2 * * 1"}]
    assert "workflow_dispatch" in retrain["on"]
    monitor = load(ROOT / ".github" / "workflows" / "monitor.yml")
    assert "workflow_dispatch" in monitor["on"] and monitor["on"]["schedule"]
    act = monitor["jobs"]["act"]
    assert act["permissions"] == {"contents": "read", "issues": "write", "actions": "write"}
    assert any("gh workflow run retrain.yml" in s.get("run", "") for s in act["steps"])


def test_score_runs_on_a_schedule_with_the_stage_model_and_writes_nothing_to_the_repository():
    score = load(ROOT / ".github" / "workflows" / "score.yml")
    assert score["on"]["schedule"] and set(score["on"]["workflow_dispatch"]["inputs"]) == {
        "input",
        "stage",
    }
    assert score["concurrency"]["cancel-in-progress"] is False  # never stop a half-done write
    job = score["jobs"]["score"]
    assert job["permissions"] == {"contents": "read"}
    steps = {s.get("uses", "").split("@")[0]: s for s in job["steps"]}
    assert steps["actions/checkout"]["with"]["fetch-depth"] == 0  # the registry's tags
    assert steps["actions/setup-java"]["with"]["java-version"] == "17"
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    order = [runs.index(f"make {t}") for t in ("setup-spark", "repro", "score-spark")]
    assert order == sorted(order)
    assert job["env"]["STAGE"] == "${{ inputs.stage || 'prod' }}"
    assert steps["actions/upload-artifact"]["with"]["path"] == "reports/score/"


@pytest.fixture(scope="module")
def sweep_workflow() -> dict:
    return load(ROOT / ".github" / "workflows" / "sweep.yml")


def test_sweep_is_manual_and_each_job_gets_the_least_it_needs(sweep_workflow):
    assert set(sweep_workflow["on"]) == {"workflow_dispatch"}
    assert set(sweep_workflow["on"]["workflow_dispatch"]["inputs"]) == {"grid", "open_pr"}
    assert sweep_workflow["permissions"] == {}
    jobs = sweep_workflow["jobs"]
    assert jobs["grid"]["permissions"] == {"contents": "read"}
    assert jobs["experiment"]["permissions"] == {"contents": "write"}
    assert jobs["collect"]["permissions"] == {"contents": "read"}
    assert jobs["pull-request"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert jobs["experiment"]["strategy"]["fail-fast"] is False
    assert "inputs.open_pr" in jobs["pull-request"]["if"]


def test_every_workflow_pins_actions_keeps_no_credentials_and_injects_nothing():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert PINNED.match(step["uses"]), (path.name, step["uses"])
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path.name
                assert "${{" not in step.get("run", ""), (path.name, step.get("name"))


def test_sweep_steps_are_documented_make_targets_and_the_matrix_runs_locally():
    listed = documented_targets()
    text = (ROOT / ".github/workflows/sweep.yml").read_text()
    called = set(re.findall(r"(?m)(?:^\s+|run: |\$\()make(?: -s)? ([\w-]+)", text))
    assert {
        "setup",
        "pull",
        "exp-matrix",
        "exp-run",
        "exp-push",
        "exp-pull",
        "exp-report",
    } <= called
    assert called <= listed, called - listed
    env = {"GRID": "train.max_depth=3,6 train.learning_rate=0.1", "PREFIX": "sweep-1-1"}
    out = run(["make", "-s", "exp-matrix"], ROOT, env=env).stdout
    assert json.loads(out)["include"] == [
        {"name": "sweep-1-1-1", "params": "train.max_depth=3 train.learning_rate=0.1"},
        {"name": "sweep-1-1-2", "params": "train.max_depth=6 train.learning_rate=0.1"},
    ]
    bad = run(["make", "-s", "exp-matrix"], ROOT, check=False, env={"GRID": "train.x=1;id"})
    assert bad.returncode != 0 and "not a plain value" in bad.stderr


def run_step(script: str, tmp_path, env: dict[str, str]):
    """A `run:` script as a Linux runner runs it (`bash -e {0}`); returns what it output."""
    output = tmp_path / "github_output"
    output.write_text("")
    result = run(
        ["bash", "-e", "-c", script], ROOT, check=False, env={**env, "GITHUB_OUTPUT": str(output)}
    )
    return result, output.read_text()


# echo "x=$(cmd)" succeeds whatever cmd does: assign first (x=$(cmd) fails the step), then echo.
HIDDEN_FAILURE = re.compile(r"^\s*(?:echo|printf)\b.*(?:\$\(|`)")


def test_no_step_hides_a_command_failure_inside_echo():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job["steps"]:
                for line in step.get("run", "").splitlines():
                    assert not HIDDEN_FAILURE.search(line), (path.name, step.get("name"), line)


def test_sweep_grid_step_fails_on_a_bad_grid_and_outputs_a_good_one(sweep_workflow, tmp_path):
    (step,) = [s for s in sweep_workflow["jobs"]["grid"]["steps"] if s.get("id") == "matrix"]
    env = {"PREFIX": "sweep-1-1"}
    bad, written = run_step(step["run"], tmp_path, {**env, "GRID": "train.no_such_knob=1,2"})
    assert bad.returncode != 0
    assert "train.no_such_knob" in bad.stderr
    assert written == ""  # no empty matrix for the next job to choke on
    good, written = run_step(step["run"], tmp_path, {**env, "GRID": "train.max_depth=3,6"})
    assert good.returncode == 0, good.stderr
    name, _, matrix = written.rstrip("\n").partition("=")
    assert name == "matrix" and "\n" not in matrix
    assert [e["name"] for e in json.loads(matrix)["include"]] == ["sweep-1-1-1", "sweep-1-1-2"]


def expression(text: str, context: dict):
    """Evaluate the small subset of GitHub expressions the workflows use in `concurrency`."""
    tokens = re.findall(r"'[^']*'|==|&&|\|\||[\w.-]+", text)

    def value(token: str):
        if token.startswith("'"):
            return token[1:-1]
        node = context
        for part in token.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def parse(ops: tuple[str, ...], items: list[str]):
        if not ops:
            (token,) = items
            return value(token)
        op, rest = ops[0], ops[1:]
        parts, current = [], []
        for token in items:
            if token == op:
                parts.append(current)
                current = []
            else:
                current.append(token)
        values = [parse(rest, part) for part in [*parts, current]]
        result = values[0]
        for other in values[1:]:
            if op == "||":
                result = result or other
            elif op == "&&":
                result = result and other
            else:
                result = result == other
        return result

    return parse(("||", "&&", "=="), tokens)


def interpolate(text, context: dict) -> str:
    """A workflow value with each `${{ }}` replaced as GitHub renders it."""

    def render(result) -> str:
        if isinstance(result, bool):
            return str(result).lower()
        return "" if result is None else str(result)

    if not isinstance(text, str):
        return render(text)
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: render(expression(m.group(1), context)), text)


def test_pipeline_cancels_superseded_pull_request_runs_but_never_a_push_to_main(workflow):
    concurrency = workflow["concurrency"]

    def pull_request(number: int, sha: str) -> dict:
        return {"github": {"workflow": "pipeline", "event_name": "pull_request", "sha": sha,
                           "ref": f"refs/pull/{number}/merge",
                           "event": {"pull_request": {"number": number}}}}  # fmt: skip

    def push(sha: str) -> dict:
        return {"github": {"workflow": "pipeline", "event_name": "push", "sha": sha,
                           "ref": "refs/heads/main", "event": {}}}  # fmt: skip

    def group(ctx: dict) -> str:
        return interpolate(concurrency["group"], ctx)

    def cancels(ctx: dict) -> str:
        return interpolate(concurrency["cancel-in-progress"], ctx)

    # A new push to a pull request replaces the run of its previous head...
    assert group(pull_request(7, "a" * 40)) == group(pull_request(7, "b" * 40))
    assert cancels(pull_request(7, "b" * 40)) == "true"
    assert group(pull_request(7, "a" * 40)) != group(pull_request(8, "a" * 40))
    # ...but each push to main runs to the end (its `dvc push`), in a group of its own:
    # a shared group would still let a third push cancel a second one that is pending.
    assert cancels(push("c" * 40)) == "false"
    assert group(push("c" * 40)) != group(push("d" * 40))
    assert group(push("c" * 40)) != group(pull_request(7, "c" * 40))


@pytest.fixture(scope="module")
def retrain_job() -> dict:
    return load(ROOT / ".github" / "workflows" / "retrain.yml")["jobs"]["retrain"]


def test_retrain_gates_its_own_pull_request_and_fails_when_the_gate_fails(retrain_job):
    steps = retrain_job["steps"]

    def index(command: str) -> int:
        (found,) = [i for i, s in enumerate(steps) if command in s.get("run", "")]
        return found

    # The pull request's own pipeline run may never start (GITHUB_TOKEN starts no workflows),
    # so this job commits, then reports and gates against the commit it branched from.
    commit, gate, pr = index("make retrain-branch"), index("make gate"), index("make retrain-pr")
    assert index("make repro") < commit < gate < pr
    script = steps[gate]["run"]
    assert script.index('make pr-report BASE="$BASE"') < script.index('make gate BASE="$BASE"')
    assert steps[gate]["env"]["BASE"] == "${{ github.sha }}"
    assert steps[gate]["id"] == "gate"
    # The pull request is opened whatever the verdict (marked when it fails)...
    assert steps[pr]["env"]["GATE"] == "${{ steps.gate.outputs.gate }}"
    assert steps[pr]["env"]["BASE_BRANCH"] == "${{ github.ref_name }}"
    assert "failure()" not in steps[pr].get("if", "")
    # ...with a token that starts the pipeline workflow on it, when one is configured...
    assert steps[pr]["env"]["GH_TOKEN"] == "${{ secrets.RETRAIN_PR_TOKEN || github.token }}"
    # ...and then the job fails if the gate did.
    last = steps[-1]
    assert last["if"] == "steps.gate.outputs.gate == 'fail'"
    assert last["run"].rstrip().endswith("exit 1")
