"""Markdown for the reference pages, from the code: every params.yaml key with its type,
bounds, value and comment; every command's and make target's help.

Pure: text and classes in, Markdown out. Each function is called at every docs build.
"""

from __future__ import annotations

import argparse
import importlib
import re
import typing
from collections.abc import Iterator
from pathlib import Path

from ratchet import cli
from ratchet.core import params

# "  key: value   # comment" inside a section; a comment-only line continues the last one.
_KEY = re.compile(r"^  (?P<key>[A-Za-z_]\w*):(?P<value>[^#]*?)\s*(#\s?(?P<comment>.*))?$")
_MORE = re.compile(r"^\s+#\s?(?P<comment>.*)$")
_SECTION = re.compile(r"^(?P<name>[A-Za-z_]\w*):")


def params_comments(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(section, key) -> (value as written, comment) of a params.yaml text."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    section = last = None
    for line in text.splitlines():
        if m := _SECTION.match(line):
            section, last = m["name"], None
        elif section and (m := _KEY.match(line)):
            last = (section, m["key"])
            found[last] = (m["value"].strip(), (m["comment"] or "").strip())
        elif last and (m := _MORE.match(line)) and line.startswith("    " * 2):
            value, comment = found[last]
            found[last] = (value, f"{comment} {m['comment'].strip()}".strip())
        elif line.startswith("    "):
            continue  # an entry of a mapping value (gate.rules, sweep.grids)
        else:
            last = None
    return found


def type_text(field) -> str:
    """A field's type as a reader wants it: `int ≥ 1`, `random | time`, `float or null`."""
    text = _annotation(field.annotation)
    bounds = [_bound(m) for m in field.metadata]
    return ", ".join([text, *[b for b in bounds if b]])


def _annotation(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        inner = _annotation(args[0])
        bounds = [_bound(m) for m in args[1:]]
        bounds += [_bound(m) for a in args[1:] for m in getattr(a, "metadata", [])]
        return ", ".join([inner, *[b for b in bounds if b]])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_annotation(a) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return f"{text} or null" if type(None) in args else text
    if origin in (list, dict):
        return f"{origin.__name__} of {', '.join(_annotation(a) for a in args)}"
    return getattr(annotation, "__name__", str(annotation))


_BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def _bound(meta) -> str:
    return ", ".join(
        f"{sign} {_number(getattr(meta, name))}"
        for name, sign in _BOUNDS.items()
        if getattr(meta, name, None) is not None
    )


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def params_reference(params_text: str) -> str:
    """One table per section: key, type and bounds, the value in params.yaml, its comment."""
    comments = params_comments(params_text)
    out = []
    for name, model in params.SECTIONS.items():
        out += [f"### `{name}`", "", "| key | type | value | meaning |", "| --- " * 4 + "|"]
        for key, field in model.model_fields.items():
            value, comment = comments.get((name, key), ("", ""))
            default = "required" if field.is_required() else f"default `{field.default!r}`"
            shown = f"`{value}`" if value else default
            out.append(f"| `{name}.{key}` | {type_text(field)} | {shown} | {_cell(comment)} |")
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _parsers(parser: argparse.ArgumentParser, prog: str) -> Iterator[tuple[str, str]]:
    """(command line, help text) of a parser and of each of its subcommands."""
    yield prog, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prog} {name}")


def command_help(name: str) -> list[tuple[str, str]]:
    """`ratchet NAME --help` and that of its subcommands, as the command prints them."""
    parser = cli.build_parser([name])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(_parsers(sub.choices[name], f"ratchet {name}"))


def commands_reference(width: int = 88) -> str:
    """Every `ratchet` command with its help, in COMMANDS order."""
    import os

    os.environ["COLUMNS"] = str(width)  # argparse wraps to the terminal; pages are fixed
    out = []
    for name, (module, summary) in cli.COMMANDS.items():
        importlib.import_module(module)
        out += [f"### `ratchet {name}`", "", summary[0].upper() + summary[1:] + ".", ""]
        for prog, text in command_help(name):
            out += [f"`{prog} --help`:", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


_TARGET = re.compile(r"^(?P<target>[a-zA-Z_-]+):.*?## (?P<help>.*)$")


def make_reference(makefile_text: str) -> str:
    """Every documented make target (the `## ` comment after it), in the Makefile's order."""
    rows = ["| target | what it does |", "| --- | --- |"]
    for line in makefile_text.splitlines():
        if m := _TARGET.match(line):
            rows.append(f"| `make {m['target']}` | {_cell(m['help'])} |")
    return "\n".join(rows) + "\n"


def generated(name: str, root: Path) -> str:
    """The Markdown a `<!-- generated: NAME -->` marker stands for."""
    if name == "params":
        return params_reference((root / params.PARAMS_FILE).read_text(encoding="utf-8"))
    if name == "commands":
        return commands_reference()
    if name == "make":
        return make_reference((root / "Makefile").read_text(encoding="utf-8"))
    raise KeyError(f"no generated section named {name!r} (params, commands, make)")
