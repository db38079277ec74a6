"""Retention for what the local AWS emulator keeps in memory, as AWS has one (issue 11).

moto keeps everything forever: under the game day's load the emulator grew without bound and
slowed down as its lists grew. Every store that grows with load gets a window here; a sweeper
thread in the emulator process (``local_stack.aws_server``) trims each one every few seconds:

- DynamoDB stream records (AWS: 24 h): 5 min after every reader passed them: every event source
  mapping (its checkpoint) and every unused shard iterator. ``--stream-retention`` /
  ``GAMEDAY_STREAM_RETENTION_S``.
- CloudWatch datapoints (AWS: 3 h for 1-second data): 15 min, widened to twice the longest
  alarm look-back. ``--metric-retention`` / ``GAMEDAY_METRIC_RETENTION_S``.
- X-Ray traces (AWS: 30 days): 15 min after the trace's last segment. ``--trace-retention`` /
  ``GAMEDAY_TRACE_RETENTION_S``.
- SQS messages (AWS: the queue's MessageRetentionPeriod, default 4 days): the same, capped at
  1 h (0: no cap). ``--sqs-retention`` / ``GAMEDAY_SQS_RETENTION_S``; receipt handles of
  deleted messages: 15 min (``GAMEDAY_DELETED_HANDLES_S``).
- DynamoDB Streams shard iterators (AWS: 15 min): 15 min
  (``local_stack.aws_server.expire_stream_iterators``).
- moto's registry of every model object it ever made (``instances_tracked``, for its dashboard):
  weak, so it holds only what is still alive (``instances``). No setting.

docs/retention.md has the same list for users. One module per store says what moto does and
what the trim changes: ``streams``, ``cloudwatch``, ``xray``, ``sqs``, ``instances``;
``sweeper`` runs them and serves what is held and dropped at ``GET /_local_stack/retention`` on
the emulator's port (JSON). Not trimmed, because they do not grow with load: DynamoDB items
(the shop's data; no TTL is configured), alarms and their history (a line per state change),
SSM parameters, Lambda functions and mappings.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ENV = {
    "stream_records_s": "GAMEDAY_STREAM_RETENTION_S",
    "metric_datapoints_s": "GAMEDAY_METRIC_RETENTION_S",
    "traces_s": "GAMEDAY_TRACE_RETENTION_S",
    "sqs_messages_s": "GAMEDAY_SQS_RETENTION_S",
    "deleted_handles_s": "GAMEDAY_DELETED_HANDLES_S",
}


@dataclass(frozen=True)
class RetentionSettings:
    """Windows in seconds (see the module's table); ``sqs_messages_s`` 0 means no local cap."""

    stream_records_s: float = 300.0
    metric_datapoints_s: float = 900.0
    traces_s: float = 900.0
    sqs_messages_s: float = 3600.0
    deleted_handles_s: float = 900.0
    sweep_every_s: float = 5.0
    stream_checkpoints: Path | None = None  # the stream runtime's --checkpoint-file

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> RetentionSettings:
        """Defaults, then the GAMEDAY_*_S environment variables, then `overrides` (not None);
        ValueError naming the variable when one is not a number >= 0."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for field, var in ENV.items():
            raw = environ.get(var)
            if raw is not None and raw.strip():
                try:
                    values[field] = float(raw)
                except ValueError:
                    raise ValueError(f"{var} must be a number of seconds, got {raw!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for field in ("stream_records_s", "metric_datapoints_s", "traces_s", "sqs_messages_s",
                      "deleted_handles_s"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")
        if self.sweep_every_s <= 0:
            raise ValueError(f"sweep_every_s must be > 0, got {self.sweep_every_s}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stream_checkpoints"] = str(self.stream_checkpoints) if self.stream_checkpoints \
            else None
        return data
