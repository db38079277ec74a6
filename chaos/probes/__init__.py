"""Probes read the shop from outside: Prometheus /metrics (prometheus.py), breaker state
(breakers.py), CloudWatch alarms (alarms.py), the stream runtime (stream.py), the audit
process (audit.py), processes and supervisor events (processes.py), orders (orders.py), the
OnFailure queue (queues.py), HTTP (http.py); Locust statistics come from
`chaos.load.locust_stats`. `catalog.py` names the ones an experiment can use; `waiting.py`
waits with a deadline; `timeline.py` samples in the background for the report and the
verdicts."""
