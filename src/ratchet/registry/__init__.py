"""The model registry: git tags in GTO's format, loading a version, model cards."""
