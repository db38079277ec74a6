"""The stream runtime's Prometheus metrics: IteratorAge per function (max over shards),
errors, throttles, records by outcome."""

from __future__ import annotations

from chaos.context import ChaosContext
from chaos.probes import prometheus

ITERATOR_AGE = "stream_runtime_iterator_age_seconds"
ERRORS = "stream_runtime_errors_total"
THROTTLES = "stream_runtime_throttles_total"
RECORDS = "stream_runtime_records_total"


def metrics_url(ctx: ChaosContext) -> str:
    """`urls.stream_runtime_metrics` from the state file, else the stream runtime replica's
    own port."""
    url = ctx.metrics_url("stream-runtime")
    if url:
        return url
    replica_urls = ctx.replica_metrics_urls("stream-runtime")
    if replica_urls:
        return replica_urls[0]
    raise KeyError("no stream runtime metrics URL in the state file")


def stream_metrics(ctx: ChaosContext, function: str) -> dict[str, float | None]:
    """{iterator_age_s, errors, throttles, records_ok, records_failed} for `function`."""
    samples = prometheus.scrape(metrics_url(ctx))
    labels = {"function": function}
    outcomes = {s.labels.get("outcome", ""): s.value
                for s in prometheus.select(samples, RECORDS, labels)}
    return {
        "iterator_age_s": prometheus.maximum(samples, ITERATOR_AGE, labels),
        "errors": prometheus.total(samples, ERRORS, labels),
        "throttles": prometheus.total(samples, THROTTLES, labels),
        "records": sum(outcomes.values()),
        **{f"records_{k}": v for k, v in outcomes.items() if k},
    }


def iterator_age(ctx: ChaosContext, function: str) -> float | None:
    """Seconds behind the newest record, max over the function's shards (None: no data)."""
    samples = prometheus.scrape(metrics_url(ctx))
    return prometheus.maximum(samples, ITERATOR_AGE, {"function": function})
