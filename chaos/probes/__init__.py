"""Probes read the shop from outside: Prometheus /metrics (prometheus.py), breaker state
(breakers.py), CloudWatch alarms (alarms.py), the stream runtime (stream.py), Locust
(locust.py), the audit process (audit.py), processes and supervisor events (processes.py),
orders (orders.py), the OnFailure queue (queues.py), HTTP (http.py). `catalog.py` names the
ones an experiment can use; `waiting.py` waits with a deadline; `timeline.py` samples in the
background for the report and the verdicts."""
