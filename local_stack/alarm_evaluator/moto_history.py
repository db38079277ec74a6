"""Make moto's CloudWatch serve alarm history and alarm states the way AWS does.

What moto 5 does (read in ``moto/cloudwatch/models.py`` and ``responses.py``):

* ``SetAlarmState`` works, and ``Alarm.update_state`` already records every change: it appends
  the state being left to ``Alarm.history`` as ``("StateUpdate", reason, reason_data, value,
  timestamp)``;
* but there is no ``DescribeAlarmHistory`` action: boto3's ``describe_alarm_history`` gets an
  HTTP 500 (``NotImplementedError``) after its retries;
* a new alarm starts as ``OK`` with the reason ``Unchecked: Initial alarm creation``, where AWS
  starts it in ``INSUFFICIENT_DATA``;
* ``PutMetricAlarm`` on an existing name builds a new alarm object, so an update resets the
  state and loses the history, where AWS "leaves its state unchanged".

The narrowest fix, applied in the process that runs the moto server by calling ``install()``
before it serves (``local_stack.aws_server`` is the place; tests call it around an in-process
``ThreadedMotoServer``):

1. a ``describe_alarm_history`` action on moto's ``CloudWatchResponse`` that turns the history
   moto already keeps into AWS's ``AlarmHistoryItems`` (``StateUpdate`` items with
   ``HistorySummary`` "Alarm updated from OK to ALARM" and ``HistoryData`` holding ``oldState``
   and ``newState``; ``ConfigurationUpdate`` items for creation and updates), with the
   ``AlarmName``, ``AlarmTypes``, ``HistoryItemType``, ``StartDate``, ``EndDate``, ``ScanBy``,
   ``MaxRecords`` and ``NextToken`` parameters;
2. new alarms start in ``INSUFFICIENT_DATA`` (same ``Unchecked: Initial alarm creation`` reason);
3. an update of an existing alarm keeps its state and history.

Nothing else of moto changes. ``install()`` checks moto's source first and raises
``MotoCloudWatchChanged`` when the hooks are not where this module expects them. As on AWS the
history of a deleted alarm is not kept here (AWS keeps it two weeks): moto drops the object.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import json
import logging
from typing import Any

log = logging.getLogger("local_stack.alarm_evaluator.moto_history")

INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
_originals: dict[str, Any] = {}


class MotoCloudWatchChanged(RuntimeError):
    """moto's CloudWatch code no longer looks the way this patch expects."""


def _check_source() -> None:
    import moto
    from moto.cloudwatch import models

    checks = [
        (models.Alarm.update_state, ("self.history.append", '"StateUpdate"')),
        (models.CloudWatchBackend.put_metric_alarm, ("self.alarms[name] = alarm",)),
        (models.Alarm.__init__, ("self.state_value", "self.history")),
    ]
    for func, needles in checks:
        source = inspect.getsource(func)
        for needle in needles:
            if needle not in source:
                raise MotoCloudWatchChanged(
                    f"moto {moto.__version__}: {func.__qualname__} no longer contains "
                    f"{needle!r}; review local_stack/alarm_evaluator/moto_history.py")


def is_installed() -> bool:
    return bool(_originals)


def install() -> None:
    """Patch moto's CloudWatch (idempotent); raise MotoCloudWatchChanged if moto moved."""
    if _originals:
        return
    from moto.cloudwatch import models, responses

    _check_source()
    if hasattr(responses.CloudWatchResponse, "describe_alarm_history"):
        log.info("moto implements DescribeAlarmHistory itself; only the state fixes applied")
    else:
        _originals["describe_alarm_history"] = None
        responses.CloudWatchResponse.describe_alarm_history = _describe_alarm_history

    original_init = models.Alarm.__init__
    _originals["Alarm.__init__"] = original_init

    @functools.wraps(original_init)
    def alarm_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.state_value = INSUFFICIENT_DATA
        self.config_events = [("Create", self.configuration_updated_timestamp)]

    models.Alarm.__init__ = alarm_init

    original_put = models.CloudWatchBackend.put_metric_alarm
    _originals["CloudWatchBackend.put_metric_alarm"] = original_put

    @functools.wraps(original_put)
    def put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("name", args[0] if args else None)
        previous = self.alarms.get(name)
        alarm = original_put(self, *args, **kwargs)
        if previous is not None and previous is not alarm:
            for attr in ("state_value", "state_reason", "state_reason_data",
                         "state_updated_timestamp", "history"):
                setattr(alarm, attr, getattr(previous, attr))
            alarm.config_events = [*getattr(previous, "config_events", []),
                                   ("Update", alarm.configuration_updated_timestamp)]
        return alarm

    models.CloudWatchBackend.put_metric_alarm = put_metric_alarm
    log.info("moto CloudWatch patched: DescribeAlarmHistory, INSUFFICIENT_DATA initial state, "
             "state kept on alarm update")


def uninstall() -> None:
    """Undo install() (tests run moto in-process)."""
    if not _originals:
        return
    from moto.cloudwatch import models, responses

    if "describe_alarm_history" in _originals:
        del responses.CloudWatchResponse.describe_alarm_history
    models.Alarm.__init__ = _originals["Alarm.__init__"]
    models.CloudWatchBackend.put_metric_alarm = _originals["CloudWatchBackend.put_metric_alarm"]
    _originals.clear()


# --------------------------------------------------------------------------------------------
# DescribeAlarmHistory
# --------------------------------------------------------------------------------------------
def _naive_utc(ts: _dt.datetime) -> _dt.datetime:
    if ts.tzinfo is not None:
        ts = ts.astimezone(_dt.UTC).replace(tzinfo=None)
    return ts


def _state_doc(value: str, reason: str, reason_data: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"stateValue": value, "stateReason": reason}
    if reason_data and reason_data != "{}":
        try:
            doc["stateReasonData"] = json.loads(reason_data)
        except ValueError:
            pass
    return doc


def history_items(alarm: Any) -> list[dict[str, Any]]:
    """AWS AlarmHistoryItems for one moto alarm, oldest first."""
    alarm_type = "CompositeAlarm" if getattr(alarm, "rule", None) else "MetricAlarm"
    items = []
    for kind, when in getattr(alarm, "config_events", []):
        verb = "created" if kind == "Create" else "updated"
        items.append({
            "AlarmName": alarm.name,
            "AlarmType": alarm_type,
            "Timestamp": when,
            "HistoryItemType": "ConfigurationUpdate",
            "HistorySummary": f'Alarm "{alarm.name}" {verb}',
            "HistoryData": json.dumps({"version": "1.0", "type": kind}),
        })
    # moto appends the state being left; the state entered is the next entry, or the current.
    states = [entry[1:] for entry in alarm.history if entry and entry[0] == "StateUpdate"]
    states.append((alarm.state_reason, alarm.state_reason_data, alarm.state_value,
                   alarm.state_updated_timestamp))
    for old, new in zip(states, states[1:], strict=False):
        old_reason, old_data, old_value, _ = old
        new_reason, new_data, new_value, new_when = new
        items.append({
            "AlarmName": alarm.name,
            "AlarmType": alarm_type,
            "Timestamp": new_when,
            "HistoryItemType": "StateUpdate",
            "HistorySummary": f"Alarm updated from {old_value} to {new_value}",
            "HistoryData": json.dumps({
                "version": "1.0",
                "oldState": _state_doc(old_value, old_reason, old_data),
                "newState": _state_doc(new_value, new_reason, new_data),
            }),
        })
    return sorted(items, key=lambda item: _naive_utc(item["Timestamp"]))


def _describe_alarm_history(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("AlarmName")
    types = self._get_param("AlarmTypes") or ["MetricAlarm"]
    item_type = self._get_param("HistoryItemType")
    start = self._get_param("StartDate")
    end = self._get_param("EndDate")
    descending = (self._get_param("ScanBy") or "TimestampDescending") == "TimestampDescending"
    max_records = int(self._get_param("MaxRecords") or 100)
    offset = int(self._get_param("NextToken") or 0)

    items = []
    for alarm in list(self.cloudwatch_backend.alarms.values()):
        if name and alarm.name != name:
            continue
        items.extend(history_items(alarm))
    items = [
        item for item in items
        if item["AlarmType"] in types
        and (not item_type or item["HistoryItemType"] == item_type)
        and (start is None or _naive_utc(item["Timestamp"]) >= _naive_utc(start))
        and (end is None or _naive_utc(item["Timestamp"]) <= _naive_utc(end))
    ]
    items.sort(key=lambda item: _naive_utc(item["Timestamp"]), reverse=descending)
    page = items[offset:offset + max_records]
    result: dict[str, Any] = {"AlarmHistoryItems": page}
    if offset + max_records < len(items):
        result["NextToken"] = str(offset + max_records)
    return ActionResult(result)
