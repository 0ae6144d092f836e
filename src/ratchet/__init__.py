"""Ratchet: a Git-native ML repository template."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from ratchet import load_model` without importing DVC and scikit-learn for every
    # `ratchet` command.
    if name == "load_model":
        from ratchet.registry.loading import load_model

        return load_model
    raise AttributeError(name)
