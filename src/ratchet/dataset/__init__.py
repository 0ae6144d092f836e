"""The dataset contract and everything derived from it: schema, raw reading, features, checks."""
