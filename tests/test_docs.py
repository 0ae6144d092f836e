"""The documentation site: it builds with --strict (a broken link or a missing page fails),
and its reference pages, generated from the code, cover every key and command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from docsgen import reference
from ratchet import cli
from ratchet.core import params

ROOT = Path(__file__).resolve().parent.parent
MKDOCS = [sys.executable, "-m", "mkdocs"]


class _AnyTags(yaml.SafeLoader):
    """mkdocs.yml holds tags (!ENV, !!python/name) that only MkDocs resolves."""


_AnyTags.add_multi_constructor("", lambda loader, suffix, node: None)


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*MKDOCS, "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = build(ROOT, out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_the_site_builds_strict_with_every_page(site):
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_AnyTags)["nav"]

    def pages(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                yield from pages(value)
            else:
                yield value

    for page in pages(nav):
        html = site / (page.removesuffix(".md") + "/index.html")
        if page == "index.md":
            html = site / "index.html"
        assert html.is_file(), f"{page} was not built"


def test_the_reference_pages_are_generated_into_the_site(site):
    commands = (site / "reference/commands/index.html").read_text()
    for name in cli.COMMANDS:
        assert f"ratchet {name} --help" in commands, name
    assert "ratchet model promote --help" in commands  # subcommands too
    assert "<!-- generated" not in commands
    table = (site / "reference/params/index.html").read_text()
    assert "featurize.valid_size" in table and "gate.replicates" in table


def test_the_params_reference_covers_every_key_and_field():
    text = (ROOT / params.PARAMS_FILE).read_text()
    page = reference.params_reference(text)
    written = yaml.safe_load(text)
    for section, model in params.SECTIONS.items():
        for key in model.model_fields:
            assert f"`{section}.{key}`" in page, f"{section}.{key} missing"
        for key in written.get(section, {}):
            assert f"`{section}.{key}`" in page, f"params.yaml's {section}.{key} missing"


def test_params_comments_follow_continuation_lines():
    text = "gate:\n  compare: paired  # first part\n                   # second part\n  seed: 0\n"
    found = reference.params_comments(text)
    assert found[("gate", "compare")] == ("paired", "first part second part")
    assert found[("gate", "seed")] == ("0", "")


def test_make_reference_lists_documented_targets_only():
    text = "a: b ## does a\n\nhidden:\n\tstuff\nc-d: ## does c|d\n"
    page = reference.make_reference(text)
    assert "`make a` | does a" in page and "`make c-d` | does c\\|d" in page
    assert "hidden" not in page


def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copytree(ROOT / "docsgen", copy / "docsgen")
    for name in ("mkdocs.yml", "params.yaml", "Makefile"):
        shutil.copy(ROOT / name, copy / name)
    page = copy / "docs" / "troubleshooting.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    done = build(copy, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stderr


def test_transcripts_show_each_command_and_its_output_without_machine_paths(tmp_path):
    from docsgen import examples

    (tmp_path / "f.txt").write_text("x")
    text = examples.transcript(tmp_path, [f"echo made {tmp_path}/f.txt", "ls nothing-here"])
    lines = text.splitlines()
    assert lines[0] == f"$ echo made {tmp_path}/f.txt"  # the command as run
    assert lines[1] == "made f.txt"  # its output, with the repository's path removed
    assert lines[2] == "$ ls nothing-here" and "No such file" in lines[3]  # stderr too


def test_every_transcript_a_page_includes_exists():
    included = set()
    for page in (ROOT / "docs").rglob("*.md"):
        included |= set(re.findall(r'--8<-- "([^"]+)"', page.read_text()))
    assert included, "no page includes a transcript"
    from docsgen import examples

    assert included <= {f"{scene}.txt" for scene in examples.SCENES}
    for name in included:
        assert (ROOT / "docs" / "generated" / name).is_file(), name
