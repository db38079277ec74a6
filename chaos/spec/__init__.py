"""Experiment files: the JSON schema (schema.py) and the loader that validates a YAML file and
points at the exact line and column of every error (loader.py)."""
