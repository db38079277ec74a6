"""Tests of the Grafana dashboards, their metric sources, push and annotations, and the
compose stack (issue 8)."""
