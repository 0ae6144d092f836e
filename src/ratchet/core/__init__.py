"""Shared plumbing: errors, file I/O, params, portable maths, git revisions."""
