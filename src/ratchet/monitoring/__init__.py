"""Drift of new data against a model's training data."""
