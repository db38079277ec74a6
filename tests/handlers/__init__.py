"""Tests of the Lambda-style stream handlers and the reconciliation audit."""
