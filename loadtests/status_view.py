"""What the Game day view shows, built from a status snapshot (`loadtests.status`): one layout
for the web UI's tab (drawn by `webui_assets/gameday.js`) and for `gameday status --watch`
(`text_lines`), so a browser and a terminal say the same thing.

At a glance, in this order:

* active faults, soonest to end first, each with its target and when it ends (the countdown is
  drawn by the reader from `ends_at`, so it moves between polls);
* breakers: state, since when, failures against `fail_max`, when an open one half-opens;
* alarms in ALARM first, each marked, with since when and the condition in units (IteratorAge
  is milliseconds as Lambda publishes it, shown in seconds); every other alarm collapsed into
  one line of counts;
* the Locust counters (conflicts, sheds), when the view is Locust's.

Every section carries when it was read (`read_at`). A reader shows each reading's age and
treats a reading older than `STALE_AFTER_S` as stale: greyed, and an ALARM in it is "last seen",
never current. Numbers get units and a precision that suits them (`797.4221706390381` ms is
"0.8 s"), never a raw CloudWatch float.
"""

from __future__ import annotations

import math
import time
from typing import Any

STALE_AFTER_S = 5.0  # a reading older than this is stale (the tab polls every second)
SECTIONS = ("faults", "breakers", "alarms")
# metrics published in milliseconds (AWS/Lambda IteratorAge and Duration; the shop's latency,
# see dashboards/cloudwatch_alarms.py), shown as durations
MILLISECOND_METRICS = frozenset({"IteratorAge", "Duration", "PaymentLatency"})
COMPARISON = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": "≥",
              "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "≤"}
BREAKER_LABEL = {"open": "OPEN", "half_open": "HALF-OPEN", "closed": "closed"}


def fmt_number(value: float) -> str:
    """3, 0.25, 12.5, 797: whole numbers as such, else 3 significant digits at most."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return "?"
    if float(value).is_integer():
        return f"{int(value)}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2g}" if magnitude < 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def fmt_seconds(seconds: float | None) -> str:
    """0.4 s, 12 s, 2 min 05 s; '?' for None."""
    if seconds is None:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


def metric_value(value: float | None, metric: str | None, unit: str | None = None) -> str:
    """A metric's value with its unit: milliseconds as a duration, counts as numbers."""
    if value is None:
        return "?"
    if metric in MILLISECOND_METRICS or unit == "Milliseconds":
        return fmt_seconds(float(value) / 1000.0)
    if unit == "Seconds":
        return fmt_seconds(float(value))
    return fmt_number(value)


def alarm_condition(alarm: dict[str, Any]) -> str:
    """'IteratorAge maximum 5.0 s > 3.0 s' (the latest datapoint against the threshold);
    without a datapoint, what missing data counts as."""
    metric, unit = alarm.get("metric"), alarm.get("unit")
    if not metric:
        return ""
    op = COMPARISON.get(str(alarm.get("comparison")), "?")
    threshold = metric_value(alarm.get("threshold"), metric, unit)
    stat = str(alarm.get("statistic") or "").lower()
    period = alarm.get("period_s")
    per = f" per {fmt_number(period)} s" if isinstance(period, int | float) else ""
    latest = alarm.get("latest")
    if latest is None:
        missing = alarm.get("treat_missing_data") or "missing"
        return f"{metric} {stat}: no datapoint (missing data: {missing}); alarms {op} {threshold}"
    return f"{metric} {stat}{per} {metric_value(latest, metric, unit)} (alarms {op} {threshold})"


def _breaker_detail(breaker: dict[str, Any]) -> str:
    parts = []
    if breaker.get("enabled") is False:
        parts.append("disabled (--no-breaker)")
    if breaker.get("fail_max") is not None:
        parts.append(f"failures {breaker.get('fail_counter', '?')}/{breaker['fail_max']}")
    if breaker.get("reset_timeout_s") is not None and breaker.get("state") == "open":
        parts.append(f"reset timeout {fmt_number(breaker['reset_timeout_s'])} s")
    return " · ".join(parts)


def _counts(alarms: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for alarm in alarms:
        counts[alarm["state"]] = counts.get(alarm["state"], 0) + 1
    return " · ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def build_view(status: dict[str, Any]) -> dict[str, Any]:
    """The view of one snapshot (JSON-ready); see the module docstring."""
    errors = status.get("errors") or {}
    read_at = status.get("read_at") or {}
    faults = sorted(status.get("faults") or [],
                    key=lambda f: (f.get("ends_at") is None, f.get("ends_at") or 0))
    alarms = status.get("alarms") or []
    firing = sorted((a for a in alarms if a.get("state") == "ALARM"),
                    key=lambda a: -(a.get("since") or 0))  # the newest ALARM on top
    others = [a for a in alarms if a.get("state") != "ALARM"]
    return {
        "generated_at": status.get("generated_at"),
        "stale_after_s": STALE_AFTER_S,
        "state_dir": status.get("state_dir", ""),
        "sections": {name: {"read_at": read_at.get(name), "error": errors.get(name)}
                     for name in SECTIONS},
        "faults": [{"name": f["name"], "target": f.get("target", ""),
                    "started_at": f.get("started_at"), "ends_at": f.get("ends_at"),
                    "fault_id": f.get("fault_id")} for f in faults],
        "breakers": [{"name": b["name"], "state": b["state"],
                      "label": BREAKER_LABEL.get(b["state"], b["state"]),
                      "bad": b["state"] != "closed", "since": b.get("since"),
                      "since_exact": bool(b.get("since_exact")),
                      "half_open_at": (None if b.get("seconds_until_half_open") is None
                                       else status.get("read_at", {}).get("breakers", 0)
                                       + float(b["seconds_until_half_open"])),
                      "detail": _breaker_detail(b)}
                     for b in status.get("breakers") or []],
        "alarms_firing": [{"name": a["name"], "state": a["state"], "since": a.get("since"),
                           "condition": alarm_condition(a)} for a in firing],
        "alarms_other": [{"name": a["name"], "state": a["state"], "since": a.get("since"),
                          "condition": alarm_condition(a)} for a in others],
        "alarms_other_summary": _counts(others),
        "counters": [{"name": name, "value": data.get("total", 0),
                      "detail": ", ".join(f"{route}: {n}" for route, n
                                          in (data.get("by_route") or {}).items())}
                     for name, data in (status.get("counters") or {}).items()],
    }


def _clock(ts: float | None) -> str:
    return "?" if ts is None else time.strftime("%H:%M:%S", time.localtime(ts))


def _age(view: dict[str, Any], section: str, now: float) -> tuple[str, bool]:
    """('read 0.4 s ago', stale) or the error; stale when there is no fresh reading."""
    info = view["sections"][section]
    if info.get("error"):
        return f"unavailable: {info['error'][:160]}", True
    if info.get("read_at") is None:
        return "not read", True
    age = max(0.0, now - info["read_at"])
    stale = age > view.get("stale_after_s", STALE_AFTER_S)
    return f"read {fmt_seconds(age)} ago" + (" — STALE, not current" if stale else ""), stale


def text_lines(view: dict[str, Any], now: float | None = None) -> list[str]:
    """The view as terminal lines (`gameday status --watch`)."""
    now = time.time() if now is None else now
    lines = [f"Game day status at {_clock(now)} (state dir {view.get('state_dir', '')})", ""]
    age, _ = _age(view, "faults", now)
    lines.append(f"ACTIVE FAULTS ({age})")
    for f in view["faults"]:
        left = "until undone" if f["ends_at"] is None else \
            f"{fmt_seconds(max(0.0, f['ends_at'] - now))} left (ends {_clock(f['ends_at'])})"
        lines.append(f"  ▲ {f['name']:<22} {f['target']:<28} {left}")
    if not view["faults"]:
        lines.append("  none")
    age, stale = _age(view, "breakers", now)
    lines += ["", f"BREAKERS ({age})"]
    for b in view["breakers"]:
        mark = "!" if b["bad"] and not stale else " "
        since = _since(b["since"], b["since_exact"], now)
        extra = ""
        if b["half_open_at"] is not None and not stale:
            extra = f" · half-open in {fmt_seconds(max(0.0, b['half_open_at'] - now))}"
        detail = f" · {b['detail']}" if b["detail"] else ""
        lines.append(f"  {mark} {b['name']:<12} {b['label']:<10} {since}{detail}{extra}")
    age, stale = _age(view, "alarms", now)
    lines += ["", f"ALARMS ({age})"]
    for a in view["alarms_firing"]:
        state = "last seen ALARM" if stale else "ALARM"
        lines.append(f"  ! {a['name']:<36} {state} {_since(a['since'], True, now)}")
        if a["condition"]:
            lines.append(f"      {a['condition']}")
    if not view["alarms_firing"]:
        lines.append("  none in ALARM")
    if view["alarms_other"]:
        lines.append(f"  + {len(view['alarms_other'])} others: {view['alarms_other_summary']}")
    if view["counters"]:
        lines += ["", "LOCUST COUNTERS"]
        for c in view["counters"]:
            detail = f"  ({c['detail']})" if c["detail"] else ""
            lines.append(f"  {c['name']:<32} {c['value']}{detail}")
    return lines


def _since(ts: float | None, exact: bool, now: float) -> str:
    if ts is None:
        return ""
    ago = fmt_seconds(max(0.0, now - ts))
    return f"since {_clock(ts)} ({ago})" if exact else f"since before {_clock(ts)} ({ago}+)"
