"""MkDocs hook: replaces `<!-- generated: NAME -->` in a page with reference Markdown built
from the code at build time (see reference.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# MkDocs loads a hook as a file, not as part of a package: make the repository importable.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docsgen import reference  # noqa: E402

_MARKER = re.compile(r"<!-- generated: (?P<name>[a-z]+) -->")


def on_page_markdown(markdown: str, page, config, files) -> str:
    return _MARKER.sub(lambda m: reference.generated(m["name"], ROOT), markdown)
