"""The documentation site's generated pages: reference tables built from the code itself
(params models and params.yaml, the command-line parsers, the Makefile), so the docs
cannot drift from what the code accepts. `hooks.py` plugs them into MkDocs."""
