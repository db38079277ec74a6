"""GetMetricData from the per-series time index (local_stack.metric_index) answers what moto
answers, on random data, except the two AWS behaviours it fixes; it and the CloudWatch retention
trim no longer read every datapoint held."""

from __future__ import annotations

import datetime as _dt
import random
from typing import Any

import pytest

from local_stack import metric_index
from local_stack.retention import cloudwatch

ACCOUNT = "123456789012"
NAMESPACES = ("Shop", "Other")
NAMES = ("Latency", "Errors", "Orders")
DIMENSION_SETS: tuple[list[dict[str, str]], ...] = (
    [],
    [{"Name": "Service", "Value": "storefront"}],
    [{"Name": "Service", "Value": "payments"}],
    [{"Name": "Operation", "Value": "checkout"}, {"Name": "Service", "Value": "storefront"}],
)
UNITS = (None, "Count", "Milliseconds")
STATS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount", "p99")


@pytest.fixture
def moto_get_metric_data(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's own get_metric_data (whatever this process installed), restored after the test."""
    from moto.cloudwatch.models import CloudWatchBackend

    method = CloudWatchBackend.get_metric_data
    monkeypatch.setattr(CloudWatchBackend, "get_metric_data", method)
    return getattr(method, "__wrapped__", method)


def _backend() -> Any:
    from moto.cloudwatch.models import CloudWatchBackend

    return CloudWatchBackend("us-east-1", ACCOUNT)


def _random_datum(rng: random.Random, base: _dt.datetime) -> dict[str, Any]:
    datum: dict[str, Any] = {
        "MetricName": rng.choice(NAMES),
        "Dimensions": rng.choice(DIMENSION_SETS),
        # naive UTC, as moto's server stores them; some late, some out of order
        "Timestamp": base - _dt.timedelta(seconds=rng.uniform(-5, 900)),
    }
    unit = rng.choice(UNITS)
    if unit:
        datum["Unit"] = unit
    shape = rng.random()
    if shape < 0.6:
        datum["Value"] = rng.uniform(0, 1000)
    elif shape < 0.8:
        values = [rng.uniform(0, 50) for _ in range(rng.randint(1, 3))]
        datum["Values"] = values
        datum["Counts"] = [float(rng.randint(1, 3)) for _ in values]
    else:
        count = rng.randint(1, 20)
        low, high = sorted(rng.uniform(0, 100) for _ in range(2))
        datum["StatisticValues"] = {"SampleCount": str(count), "Sum": str(count * (low + high) / 2),
                                    "Minimum": str(low), "Maximum": str(high)}
    return datum


def _random_query(rng: random.Random, n: int) -> dict[str, Any]:
    stat: dict[str, Any] = {
        "Metric": {"Namespace": rng.choice(NAMESPACES), "MetricName": rng.choice(NAMES)},
        "Period": str(rng.choice((1, 10, 60, 300))),
        "Stat": rng.choice(STATS),
    }
    dimensions = rng.choice(DIMENSION_SETS)
    if dimensions or rng.random() < 0.5:
        stat["Metric"]["Dimensions"] = dimensions
    if rng.random() < 0.3:
        stat["Unit"] = rng.choice(UNITS[1:])
    query: dict[str, Any] = {"Id": f"q{n}", "MetricStat": stat}
    if rng.random() < 0.2:
        query["Label"] = f"label {n}"
    if rng.random() < 0.2:
        query["ReturnData"] = False
    return query


@pytest.mark.parametrize("seed", range(8))
def test_indexed_answers_match_motos_on_random_data(moto_get_metric_data: Any, seed: int) -> None:
    """Same datapoints, same queries: the index's answer is moto's, value for value (sums in
    moto's order, so bit for bit). moto's reference runs on the query's namespace only: with
    dimensions it does not check the namespace (fixed here, see the next test)."""
    rng = random.Random(seed)
    base = _dt.datetime(2026, 1, 1, 12, 0, 0)
    backend = _backend()
    for _ in range(60):
        namespace = rng.choice(NAMESPACES)
        backend.put_metric_data(namespace, [_random_datum(rng, base)
                                            for _ in range(rng.randint(1, 8))])
    indexed = metric_index._indexed_get_metric_data(moto_get_metric_data)
    compared = 0
    for call in range(25):
        queries = [_random_query(rng, n) for n in range(rng.randint(1, 6))]
        start = base - _dt.timedelta(seconds=rng.uniform(0, 1000))
        end = start + _dt.timedelta(seconds=rng.uniform(1, 1200))
        scan_by = rng.choice(("TimestampAscending", "TimestampDescending"))
        ours = {r["id"]: r for r in indexed(backend, queries, start, end, scan_by)}
        for query in queries:
            reference = _backend()
            reference.metric_data = [d for d in backend.metric_data
                                     if d.namespace == query["MetricStat"]["Metric"]["Namespace"]]
            theirs = moto_get_metric_data(reference, [query], start, end, scan_by)
            if not query.get("ReturnData", True):
                assert theirs == [] and query["Id"] not in ours
                continue
            assert ours[query["Id"]] == theirs[0], (seed, call, query)
            compared += bool(theirs[0]["values"])
        # a trim now and then: the index follows the list moto keeps
        if call % 7 == 6:
            cutoff = base - _dt.timedelta(seconds=rng.uniform(300, 900))
            before = len(backend.metric_data)
            dropped, held = metric_index.trim(backend, cutoff)
            assert dropped + held == before
            assert all(metric_index.naive_utc(d.timestamp) >= cutoff for d in backend.metric_data)
    assert compared >= 20  # the random queries did find data


def test_datapoints_appended_to_motos_list_are_seen_and_a_replaced_list_is_reindexed(
        moto_get_metric_data: Any) -> None:
    base = _dt.datetime(2026, 1, 1, 12, 0, 0)
    backend = _backend()
    indexed = metric_index._indexed_get_metric_data(moto_get_metric_data)
    query = [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Orders"},
                                        "Period": 60, "Stat": "Sum"}}]
    window = (base - _dt.timedelta(minutes=5), base)

    def total() -> float:
        return sum(indexed(backend, query, *window)[0]["values"])

    backend.put_metric_data("Shop", [{"MetricName": "Orders", "Value": 2.0,
                                      "Timestamp": base - _dt.timedelta(seconds=30)}])
    assert total() == 2.0
    backend.put_metric_data("Shop", [{"MetricName": "Orders", "Value": 3.0,
                                      "Timestamp": base - _dt.timedelta(seconds=90)}])
    assert total() == 5.0
    backend.metric_data = backend.metric_data[1:]  # replaced by someone else
    assert total() == 3.0


def test_a_query_with_dimensions_reads_its_own_namespace_only(moto_get_metric_data: Any) -> None:
    """AWS keys a metric by namespace, name and dimensions; moto merges namespaces when the
    query has dimensions."""
    now = _dt.datetime(2026, 1, 1, 12, 0, 0)
    backend = _backend()
    dims = [{"Name": "Service", "Value": "storefront"}]
    for namespace, value in (("Shop", 1.0), ("Other", 100.0)):
        backend.put_metric_data(namespace, [{"MetricName": "Errors", "Value": value,
                                             "Dimensions": dims,
                                             "Timestamp": now - _dt.timedelta(seconds=10)}])
    query = [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Errors",
                                                   "Dimensions": dims},
                                        "Period": 60, "Stat": "Sum"}}]
    window = (now - _dt.timedelta(minutes=1), now)
    assert moto_get_metric_data(backend, query, *window)[0]["values"] == [101.0]  # the quirk
    indexed = metric_index._indexed_get_metric_data(moto_get_metric_data)
    assert indexed(backend, query, *window)[0]["values"] == [1.0]


def test_a_dimension_set_matches_in_any_order(moto_get_metric_data: Any) -> None:
    """AWS treats dimensions as a set; moto's Dimension.__lt__ is broken, so its sort can keep
    two orders of the same set apart."""
    now = _dt.datetime(2026, 1, 1, 12, 0, 0)
    backend = _backend()
    published = [{"Name": "Service", "Value": "storefront"},
                 {"Name": "Operation", "Value": "checkout"}]
    backend.put_metric_data("Shop", [{"MetricName": "Errors", "Value": 4.0,
                                      "Dimensions": published,
                                      "Timestamp": now - _dt.timedelta(seconds=10)}])
    query = [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Errors",
                                                   "Dimensions": published[::-1]},
                                        "Period": 60, "Stat": "Sum"}}]
    window = (now - _dt.timedelta(minutes=1), now)
    assert moto_get_metric_data(backend, query, *window)[0]["values"] == []  # the quirk
    indexed = metric_index._indexed_get_metric_data(moto_get_metric_data)
    assert indexed(backend, query, *window)[0]["values"] == [4.0]


class _Reads:
    count = 0


def _count_timestamp_reads(backend: Any) -> None:
    """Make every datapoint count the reads of its timestamp (a property over the same value)."""
    from moto.cloudwatch.models import MetricDatum

    class Counting(MetricDatum):
        @property  # type: ignore[override]
        def timestamp(self) -> Any:
            _Reads.count += 1
            return self.__dict__["timestamp"]

    for datum in backend.metric_data:
        datum.__class__ = Counting


def _busy_backend(now: _dt.datetime, n: int = 3000) -> Any:
    backend = _backend()
    backend.put_metric_data("Shop", [
        {"MetricName": f"Other{i % 30}", "Value": 1.0,
         "Timestamp": now - _dt.timedelta(seconds=i % 600)} for i in range(n)])
    backend.put_metric_data("Shop", [
        {"MetricName": "Orders", "Value": 1.0, "Timestamp": now - _dt.timedelta(seconds=i)}
        for i in range(10)])
    return backend


def test_get_metric_data_reads_only_the_queried_series(monkeypatch: pytest.MonkeyPatch) -> None:
    """The alarm evaluator's once-a-second read no longer walks every datapoint held (moto read
    each datapoint's timestamp once, then once per period of each query)."""
    from moto.cloudwatch.models import CloudWatchBackend

    monkeypatch.setattr(CloudWatchBackend, "get_metric_data", CloudWatchBackend.get_metric_data)
    metric_index.install()
    now = _dt.datetime(2026, 1, 1, 12, 0, 0)
    backend = _busy_backend(now)
    queries = [{"Id": f"q{i}", "MetricStat": {
        "Metric": {"Namespace": "Shop", "MetricName": "Orders"}, "Period": 10, "Stat": "Sum"}}
        for i in range(5)]
    start, end = now - _dt.timedelta(minutes=10), now + _dt.timedelta(seconds=10)
    first = backend.get_metric_data(queries, start, end)  # builds the index
    _count_timestamp_reads(backend)
    _Reads.count = 0
    again = backend.get_metric_data(queries, start, end)
    assert again == first and sum(first[0]["values"]) == 10.0
    assert _Reads.count == 0


def test_a_trim_with_nothing_expired_reads_no_datapoint() -> None:
    now = _dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=_dt.UTC)
    backend = _busy_backend(now.replace(tzinfo=None))
    assert cloudwatch.trim(3600, now=now, backends=[backend]) == (0, 3010)  # builds the index
    _count_timestamp_reads(backend)
    _Reads.count = 0
    assert cloudwatch.trim(3600, now=now, backends=[backend]) == (0, 3010)
    assert _Reads.count == 0
    assert cloudwatch.trim(300, now=now, backends=[backend]) == (1495, 1515)
    assert _Reads.count == 0
