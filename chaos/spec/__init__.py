"""Experiment files: the JSON schema (schema.py), the loader that validates a YAML file and
points at the exact line and column of every error (loader.py), and the sections as typed
config with their defaults (sections.py)."""
