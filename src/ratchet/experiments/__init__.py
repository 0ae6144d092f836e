"""Experiments: parameter sweeps and ranking them under the gate's rules."""
