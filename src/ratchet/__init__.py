"""Ratchet: a Git-native ML repository template."""

__version__ = "0.1.0"
