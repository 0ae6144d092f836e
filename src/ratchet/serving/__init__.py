"""Scoring with a registered model: batch, REST service, shadow comparison."""
