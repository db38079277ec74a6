"""One wrapper that runs any activity of a run — a probe, a fault, an action, a pause, the
load's start and stop, the rollback — and records in the journal what happened: the activity
as it ran, its status, output, start, end and duration (Chaos Toolkit's `run_activity`).

- The body returns its output: the activity `succeeded`. It may return an `ActivityOutcome`
  instead to say `failed` without an exception (a tolerance not met), to add fields to the
  record, or to have an error raised once the record is written.
- The body raises: the activity `failed`, with `exception` ("Type: message"); the error is
  raised again, or as `failure(message)` when given (e.g. InjectionFailed for a fault step).
  KeyboardInterrupt and the like are recorded as `interrupted` and raised again.
- The run was aborted while the activity ran (a stop condition, Ctrl-C): the record says
  `aborted: true`.

Pauses, in the method and in the rollbacks alike, wait their duration and end early when the
run is aborted or interrupted: an aborted run goes on to roll back at once, and its rollback
pauses do not wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos.durations import parse_duration
from chaos.exceptions import ChaosError
from chaos.report.journal import Journal

SUCCEEDED, FAILED, INTERRUPTED = "succeeded", "failed", "interrupted"


@dataclass
class ActivityOutcome:
    """What a body may return instead of a bare output."""

    status: str = SUCCEEDED
    output: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # more fields of the record
    raise_after: ChaosError | None = None  # raised once the record is written


class Activities:
    """Runs activities of one run into its journal; `abort` is the run's abort event."""

    def __init__(self, journal: Journal, abort: threading.Event) -> None:
        self.journal = journal
        self.abort = abort

    def run(self, section: str, spec: dict[str, Any], body: Callable[[], Any],
            failure: Callable[[str], ChaosError] | None = None) -> dict[str, Any]:
        """Run `body()` as the activity `spec` of journal `section`; the journal record."""
        activity = self.journal.activity(section, spec)
        aborted_before = self.abort.is_set()
        try:
            result = body()
        except Exception as exc:
            activity.finish(FAILED, None, exception=f"{type(exc).__name__}: {exc}")
            if failure is None:
                raise
            raise failure(str(exc)) from exc
        except BaseException:
            activity.finish(INTERRUPTED, None)
            raise
        outcome = result if isinstance(result, ActivityOutcome) else ActivityOutcome(
            output=result)
        extra = dict(outcome.extra)
        if self.abort.is_set() and not aborted_before:
            extra["aborted"] = True
        record = activity.finish(outcome.status, outcome.output, **extra)
        if outcome.raise_after is not None:
            raise outcome.raise_after
        return record

    def pause(self, section: str, step: dict[str, Any]) -> dict[str, Any]:
        """Wait the step's duration, or less when the run is aborted."""
        seconds = parse_duration(step["duration"])
        return self.run(section, step, lambda: self._wait(seconds))

    def _wait(self, seconds: float) -> None:
        self.abort.wait(seconds)
