"""CloudWatch datapoints indexed by metric and time, for GetMetricData and the retention trim.

Why (the emulator's idle CPU): moto keeps every datapoint of a region in one list
(``CloudWatchBackend.metric_data``, insertion order) and its ``get_metric_data`` filters that
whole list to the time range, then, for every query and every period, filters the range again
with list comprehensions: O(queries x periods x datapoints in the range). The alarm evaluator
asks about ~30 alarms once a second and the range holds every metric of the shop, so on an idle
stack this was the emulator's largest single cost (16.5 % of its CPU), and it grows with the
load and the 15-minute retention. The retention trim (``local_stack.retention.cloudwatch``)
likewise read every datapoint's timestamp every sweep.

Here the datapoints of each series (namespace, metric name, dimension set) are kept sorted by
timestamp beside moto's list, which stays as it is (insertion order; ListMetrics,
GetMetricStatistics and the rest keep reading it). A MetricStat query bisects its series to the
time range and buckets only those datapoints; a trim finds the expired datapoints by bisecting
every series and does nothing when there are none. The index catches up lazily with what was
appended to ``metric_data`` since it last looked (moto's PutMetricData only appends), and is
rebuilt when the list was replaced or shrunk by anyone else. It is only read and changed under
``local_stack.retention.cloudwatch.CLOUDWATCH_LOCK`` in the server (every CloudWatch call runs
under it).

Answers are moto's, computed by moto's own ``Statistics``, with the datapoints of a period in
moto's order (insertion order, so float sums are bit-identical), the same periods (from
StartTime, one more starting at EndTime, always empty), the same labels, unit filter and
ScanBy, and the same errors. ``tests/stack/test_metric_index.py`` compares both on random data.
Kept from moto: a query *without* dimensions aggregates every dimension set of the metric (AWS
would read only the dimensionless metric; the alarms rely on the aggregate). Fixed, as on AWS:

- with dimensions, moto does not check the namespace (a metric of the same name and dimensions
  in another namespace was merged in); here the namespace must match;
- moto compares dimension lists after ``sorted()`` with a broken ``Dimension.__lt__``, so the
  same dimension set sent in another order could fail to match; here the set is compared.

Queries with expressions (metric math, Metrics Insights) go to moto's implementation unchanged.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import itertools
import logging
import operator
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("local_stack.metric_index")

_PATCH_MARK = "_local_stack_metric_index"
_INDEX_ATTR = "_local_stack_metric_index"

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


class MotoCloudWatchMoved(RuntimeError):
    """moto's GetMetricData no longer looks like the code this index reproduces."""


def naive_utc(value: Any) -> _dt.datetime:
    """A datapoint or query timestamp as a naive UTC datetime (moto's server stores naive UTC;
    a backend used directly may hold aware datetimes or ISO strings)."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    return value


def dimension_key(dimensions: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """A dimension set (moto ``Dimension`` objects or API dicts) as a sorted tuple."""
    pairs = []
    for d in dimensions:
        if isinstance(d, dict):
            pairs.append((str(d.get("Name")), str(d.get("Value"))))
        else:
            pairs.append((str(d.name), str(d.value)))
    return tuple(sorted(pairs))


class Series:
    """One metric's datapoints sorted by (timestamp, arrival): parallel lists."""

    __slots__ = ("times", "seqs", "datums")

    def __init__(self) -> None:
        self.times: list[_dt.datetime] = []
        self.seqs: list[int] = []
        self.datums: list[Any] = []

    def add(self, when: _dt.datetime, seq: int, datum: Any) -> None:
        if not self.times or self.times[-1] <= when:
            self.times.append(when)
            self.seqs.append(seq)
            self.datums.append(datum)
            return
        at = bisect_right(self.times, when)  # equal timestamps keep arrival order
        self.times.insert(at, when)
        self.seqs.insert(at, seq)
        self.datums.insert(at, datum)

    def span(self, start: _dt.datetime, end: _dt.datetime) -> tuple[int, int]:
        """Positions of the datapoints with start <= timestamp < end."""
        return bisect_left(self.times, start), bisect_left(self.times, end)

    def drop_before(self, cutoff: _dt.datetime) -> list[Any]:
        """Remove and return the datapoints older than `cutoff`."""
        n = bisect_left(self.times, cutoff)
        if not n:
            return []
        gone = self.datums[:n]
        del self.times[:n], self.seqs[:n], self.datums[:n]
        return gone


class MetricIndex:
    """The series of one CloudWatch backend, kept in step with ``backend.metric_data``."""

    def __init__(self) -> None:
        self.series: dict[SeriesKey, Series] = {}
        self.by_name: dict[tuple[str, str], list[SeriesKey]] = defaultdict(list)
        self.source: list[Any] | None = None
        self.count = 0  # datapoints of `source` indexed
        self.last: Any = None  # source[count - 1]: the list was not changed under the index
        self.seq = 0
        self.rebuilds = 0

    @classmethod
    def of(cls, backend: Any) -> MetricIndex:
        """The backend's index, caught up with its ``metric_data``."""
        index = backend.__dict__.get(_INDEX_ATTR)
        if index is None:
            index = cls()
            backend.__dict__[_INDEX_ATTR] = index
        index.sync(backend.metric_data)
        return index

    def sync(self, data: list[Any]) -> None:
        """Index what was appended to `data` since the last call; rebuild if it was replaced,
        shrunk or changed under the index."""
        if data is not self.source or len(data) < self.count or (
                self.count and data[self.count - 1] is not self.last):
            self._reset(data)
        for datum in itertools.islice(data, self.count, None):
            self._add(datum)
        self.count = len(data)
        self.last = data[-1] if data else None

    def _reset(self, data: list[Any]) -> None:
        if self.source is not None:
            self.rebuilds += 1
        self.series.clear()
        self.by_name.clear()
        self.source = data
        self.count = 0

    @staticmethod
    def _key(datum: Any) -> SeriesKey:
        return (datum.namespace, datum.name, dimension_key(datum.dimensions))

    def _add(self, datum: Any) -> None:
        key = self._key(datum)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
            self.by_name[key[:2]].append(key)
        self.seq += 1
        series.add(naive_utc(datum.timestamp), self.seq, datum)

    def matching(self, namespace: str, name: str, dimensions: list[Any]) -> list[Series]:
        """The series a MetricStat query reads (see the module docstring)."""
        if dimensions:
            series = self.series.get((namespace, name, dimension_key(dimensions)))
            return [series] if series is not None else []
        return [self.series[key] for key in self.by_name.get((namespace, name), ())]

    def oldest(self) -> _dt.datetime | None:
        firsts = [s.times[0] for s in self.series.values() if s.times]
        return min(firsts) if firsts else None

    def drop_before(self, cutoff: _dt.datetime) -> set[int]:
        """Remove every datapoint older than `cutoff` from the index; their ids."""
        gone: set[int] = set()
        for key in list(self.series):
            series = self.series[key]
            gone.update(map(id, series.drop_before(cutoff)))
            if not series.times:
                del self.series[key]
                keys = self.by_name[key[:2]]
                keys.remove(key)
                if not keys:
                    del self.by_name[key[:2]]
        return gone


def trim(backend: Any, cutoff: Any) -> tuple[int, int]:
    """Drop the backend's datapoints older than `cutoff` from ``metric_data`` and the index:
    (dropped, held). Costs a bisect per series when nothing is older; otherwise one pass over
    ``metric_data`` in C (a set lookup per datapoint) rather than a Python comparison each."""
    index = MetricIndex.of(backend)
    cutoff = naive_utc(cutoff)
    oldest = index.oldest()
    data = backend.metric_data
    if oldest is None or oldest >= cutoff:
        return 0, len(data)
    gone = index.drop_before(cutoff)
    keep = list(itertools.compress(data, map(operator.not_,
                                             map(gone.__contains__, map(id, data)))))
    backend.metric_data = keep
    index.source, index.count, index.last = keep, len(keep), keep[-1] if keep else None
    return len(data) - len(keep), len(keep)


def metric_stat_results(backend: Any, queries: list[dict[str, Any]], start: _dt.datetime,
                        end: _dt.datetime, scan_by: str) -> list[dict[str, Any]]:
    """moto's GetMetricData answer for MetricStat-only queries, read from the index.
    `start`/`end` already without microseconds and validated."""
    from moto.cloudwatch.models import Statistics

    index = MetricIndex.of(backend)
    extra = MetricIndex()  # moto's computed metrics (S3 buckets), after metric_data as in moto
    provided = backend.aws_metric_data
    if provided:
        extra.sync(list(provided))
    lo, hi = naive_utc(start), naive_utc(end)
    results = []
    for query in queries:
        metric_stat = query["MetricStat"]
        metric = metric_stat["Metric"]
        query_ns, query_name = metric["Namespace"], metric["MetricName"]
        delta = _dt.timedelta(seconds=int(metric_stat["Period"]))
        dimensions = metric.get("Dimensions", [])
        unit = metric_stat.get("Unit")
        stat = metric_stat["Stat"]
        buckets: dict[int, list[tuple[int, Any]]] = defaultdict(list)
        for idx in (index, extra):
            for series in idx.matching(query_ns, query_name, dimensions):
                first, last = series.span(lo, hi)
                if first == last:
                    continue
                offset = 0 if idx is index else index.seq + 1
                for i in range(first, last):
                    datum = series.datums[i]
                    if unit and datum.unit != unit:
                        continue
                    buckets[(series.times[i] - lo) // delta].append(
                        (series.seqs[i] + offset, datum))
        values: list[Any] = []
        timestamps: list[_dt.datetime] = []
        for n in sorted(buckets):
            entries = buckets[n]
            entries.sort(key=operator.itemgetter(0))  # moto's order (arrival): same float sums
            period_start = start + delta * n
            stats = Statistics([stat], period_start)
            stats.metric_data = [datum for _seq, datum in entries]
            values.append(stats.get_statistics_for_type(stat))
            timestamps.append(stats.timestamp)
        if scan_by == "TimestampDescending" and timestamps:
            timestamps.reverse()
            values.reverse()
        if query.get("ReturnData", True):
            results.append({"id": query["Id"],
                            "label": query.get("Label") or f"{query_name} {stat}",
                            "values": values, "timestamps": timestamps,
                            "status_code": "Complete"})
    return results


def _indexed_get_metric_data(original: Any) -> Any:
    @functools.wraps(original)
    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: _dt.datetime,
                        end_time: _dt.datetime, scan_by: str = "TimestampAscending") -> Any:
        from moto.cloudwatch.exceptions import ValidationError

        if not queries or any("MetricStat" not in q for q in queries) or any(
                int(q["MetricStat"]["Period"]) <= 0 for q in queries):
            return original(self, queries, start_time, end_time, scan_by)
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        if start > end:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        if start == end:
            raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
        return metric_stat_results(self, queries, start, end, scan_by)

    setattr(get_metric_data, _PATCH_MARK, True)
    return get_metric_data


def install() -> None:
    """Answer moto's GetMetricData MetricStat queries from the index (idempotent); refuses
    (MotoCloudWatchMoved) when moto's method no longer matches what is reproduced here."""
    from moto.cloudwatch.models import CloudWatchBackend

    method = CloudWatchBackend.get_metric_data
    if getattr(method, _PATCH_MARK, False):
        return
    try:
        source = inspect.getsource(method)
    except (OSError, TypeError) as exc:
        raise MotoCloudWatchMoved(f"cannot read moto's get_metric_data: {exc}") from exc
    for needle in ("self.get_all_metrics()", "while period_start_time <= end_time",
                   "Statistics([stat], period_start_time)", 'f"{query_name} {stat}"',
                   'scan_by == "TimestampDescending"', 'query.get("ReturnData", True)'):
        if needle not in source:
            raise MotoCloudWatchMoved(f"CloudWatchBackend.get_metric_data no longer contains "
                                      f"{needle!r}: review local_stack/metric_index.py")
    CloudWatchBackend.get_metric_data = _indexed_get_metric_data(method)
    log.info("moto CloudWatch: GetMetricData MetricStat queries read a per-series time index")
