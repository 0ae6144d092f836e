"""Engineered features as arithmetic expressions over columns, evaluated without `eval`.

A dataset contract declares features such as `charges / (tenure + 1)` or
`log1p(days)`. The text is parsed with Python's `ast` and only a small grammar is accepted:
numbers, column names, `+ - * / // % **`, comparisons, `&`/`|`/`~` (and `and`/`or`/`not`),
a conditional `a if cond else b`, and the functions below. Anything else (attributes,
subscripts, lambdas, comprehensions, unknown names) is refused when the contract is read,
with the expression and the reason, so no code from a YAML file ever runs.

Values are float64 NumPy arrays (missing = NaN). Transcendental functions come from
`ratchet.portable`, so a feature has the same bits on every CPU.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ratchet.core import portable
from ratchet.core.errors import RatchetError

MAX_LENGTH = 500  # characters: an expression is a formula, not a program

_BINARY: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: portable.power,
    ast.BitAnd: np.logical_and,
    ast.BitOr: np.logical_or,
}
_COMPARE: dict[type, Callable] = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _clip(x, low, high):
    return np.clip(x, low, high)


# name -> (function, number of arguments)
FUNCTIONS: dict[str, tuple[Callable, int]] = {
    "log": (portable.log, 1),
    "log1p": (portable.log1p, 1),
    "exp": (portable.exp, 1),
    "sqrt": (np.sqrt, 1),  # IEEE square root: correctly rounded everywhere
    "abs": (np.abs, 1),
    "floor": (np.floor, 1),
    "ceil": (np.ceil, 1),
    "round": (np.round, 1),
    "isnull": (np.isnan, 1),
    "min": (np.fmin, 2),  # fmin/fmax: a missing value on one side gives the other side
    "max": (np.fmax, 2),
    "clip": (_clip, 3),
    "where": (np.where, 3),
}
CONSTANTS = {"nan": np.nan, "inf": np.inf}


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression and the columns it reads."""

    text: str
    tree: ast.expr
    columns: tuple[str, ...]

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The feature's values; a result that is not finite (an overflow, log(0), x/0) is
        missing, in training and scoring alike: a model never sees an infinity, and a
        valid record is never refused for what a formula made of it."""
        with np.errstate(all="ignore"):  # log(0) = -inf, 0/0 = NaN: values, not warnings
            result = np.array(_evaluate(self.tree, columns), dtype="float64")
        result[~np.isfinite(result)] = np.nan
        return result


def parse(text: str, known: set[str] | frozenset[str], where: str) -> Expression:
    """Parse `text`; `known` are the column names it may use; `where` names it in errors."""
    if not isinstance(text, str) or not text.strip():
        raise RatchetError(f"{where}: expected an expression, got {text!r}")
    if len(text) > MAX_LENGTH:
        raise RatchetError(f"{where}: expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise RatchetError(f"{where}: not a valid expression ({exc.msg}): {text!r}") from None
    used: list[str] = []
    _check(tree, known, used, where)
    return Expression(text, tree, tuple(dict.fromkeys(used)))


def _check(node: ast.AST, known, used: list[str], where: str) -> None:
    """Refuse every node outside the grammar; collect the column names."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise RatchetError(f"{where}: only numbers may appear as constants, not {node.value!r}")
        return
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return
        if node.id not in known:
            raise RatchetError(
                f"{where}: unknown column '{node.id}' (columns: {', '.join(sorted(known))})"
            )
        used.append(node.id)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        children: list[ast.AST] = [node.left, node.right]
    elif isinstance(node, ast.UnaryOp) and isinstance(
        node.op, ast.USub | ast.UAdd | ast.Not | ast.Invert
    ):
        children = [node.operand]
    elif isinstance(node, ast.BoolOp):
        children = list(node.values)
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        children = [node.left, *node.comparators]
    elif isinstance(node, ast.IfExp):
        children = [node.test, node.body, node.orelse]
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            shown = name or ast.unparse(node.func)
            raise RatchetError(
                f"{where}: unknown function '{shown}' (allowed: {', '.join(sorted(FUNCTIONS))})"
            )
        if node.keywords or len(node.args) != FUNCTIONS[name][1]:
            raise RatchetError(
                f"{where}: {name}() takes {FUNCTIONS[name][1]} positional argument(s)"
            )
        children = list(node.args)
    else:
        raise RatchetError(
            f"{where}: '{ast.unparse(node)}' is not allowed in an expression "
            "(numbers, columns, arithmetic, comparisons and the listed functions only)"
        )
    for child in children:
        _check(child, known, used, where)


def _evaluate(node: ast.AST, columns: Mapping[str, np.ndarray]):
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id] if node.id in CONSTANTS else columns[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, columns), _evaluate(node.right, columns)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, columns)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
        return np.logical_not(value)
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        values = [_evaluate(v, columns) for v in node.values]
        result = values[0]
        for value in values[1:]:
            result = combine(result, value)
        return result
    if isinstance(node, ast.Compare):
        left, result = _evaluate(node.left, columns), True
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, columns)
            result = np.logical_and(result, _COMPARE[type(op)](left, right))
            left = right
        return result
    if isinstance(node, ast.IfExp):
        test = _evaluate(node.test, columns)
        return np.where(test, _evaluate(node.body, columns), _evaluate(node.orelse, columns))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    function = FUNCTIONS[node.func.id][0]
    return function(*(_evaluate(a, columns) for a in node.args))
