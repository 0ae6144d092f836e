"""`ratchet checks`: every validation check, its policy key, bounds and reason."""

from __future__ import annotations

import argparse

from ratchet.core import params
from ratchet.core.params import ValidateParams
from ratchet.dataset import schema
from ratchet.dataset.validation import always_error, check_policy


def rows(p: ValidateParams) -> list[tuple[str, str, str, str]]:
    """(key, policy, rule, reason) for every check, sorted by key."""
    warn = check_policy(p)
    described: dict[str, tuple[str, str]] = {}
    for name, column in schema.raw_schema(expectations=False).columns.items():
        for c in column.checks:
            described[f"{name}.{c.name}"] = (str(c.error or c.name), column.description or "")
        if not column.nullable:
            described[f"{name}.not_nullable"] = ("no nulls", column.description or "")
        if column.unique:
            described[f"{name}.field_uniqueness"] = ("unique", column.description or "")
    for e in schema.EXPECTATIONS:
        described[e.key] = (f"{e.name} {e.bounds()}", e.why)
    described["table.row_count"] = (
        f"rows between {p.rows_min} and {p.rows_max}",
        "validate.rows_min/rows_max in params.yaml",
    )
    out, fixed = [], always_error()
    for key in sorted(described):
        policy = "error (fixed)" if key in fixed else ("warn" if key in warn else "error")
        out.append((key, policy, *described[key]))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def command(args: argparse.Namespace) -> int:
    p = params.section("validate", ValidateParams, args.params)
    table = rows(p)
    width = max(len(r[0]) for r in table)
    for key, policy, rule, why in table:
        print(f"{key:<{width}}  {policy:<13}  {rule}" + (f"  -- {why}" if why else ""))
    return 0
