"""Spark engine: `--engine spark` for score, validate and drift, on tables bigger than one
machine. PySpark is an optional extra (`make setup-spark`); nothing here imports it at
module load, so the pandas path never pays for it.

The rows are checked and scored by the same pandas code as the single-process path, one
Arrow batch at a time inside Spark's Python workers (`mapInPandas`): the same contract,
the same schema, the same feature function and the same model give the same outputs.
"""
