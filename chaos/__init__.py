"""The chaos CLI: faults (chaos/faults), target selection (chaos/targets.py), the fault ledger
(chaos/ledger.py), experiments in YAML (chaos/experiments, read by chaos/spec, run by
chaos/runner), probes that read the shop from outside (chaos/probes), verdicts with numbers
(chaos/verdicts.py) and reports (chaos/report); every catalog is a chaos/registry.py
Registry, every error a chaos/exceptions.py ChaosError.

It talks to the shop only through public surfaces: HTTP, AWS APIs, Prometheus /metrics, the
state file and process handles. It never imports reference_app or local_stack internals
(reading the state file through local_stack.state is the one exception).
"""
