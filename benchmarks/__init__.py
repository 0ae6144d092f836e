"""Benchmark scripts: they print numbers; nothing here is a pass/fail test."""
