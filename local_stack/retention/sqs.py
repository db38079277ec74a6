"""SQS messages: deleted once older than their queue's MessageRetentionPeriod (capped locally),
and the receipt handles of deleted messages forgotten after a while.

AWS deletes a message when it has been in the queue longer than the queue's
MessageRetentionPeriod (default 4 days). moto only stops *returning* such messages (the check
in ReceiveMessage) and keeps them in the queue forever; it also remembers every receipt handle
of every deleted message (``Queue.deleted_messages``, so that deleting twice succeeds), one set
entry per receive of every message ever deleted. Here messages older than the queue's
MessageRetentionPeriod, or than the local cap when that is shorter, are removed from the queue,
and the receipt handles of deleted messages are forgotten after ``deleted_handles_s`` (a
second DeleteMessage with such a handle then answers ReceiptHandleIsInvalid, as moto does for
a handle it never issued).

moto appends to a queue under the queue's ``_messages_lock`` and rebuilds the list on delete;
the trim takes the same lock, so a SendMessage is never lost to it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from local_stack.moto_dynamodb_fixes import MotoHookNotFound
from local_stack.retention.streams import every_backend

AWS_DEFAULT_S = 4 * 86_400  # MessageRetentionPeriod when a queue does not set one
GENERATIONS = "local_stack_deleted_generations"  # [(monotonic time, handles seen deleted)]


def check() -> None:
    """MotoHookNotFound when moto's queue is not shaped as this module expects."""
    import inspect

    from moto.sqs.models import Message, Queue

    try:
        source = inspect.getsource(Queue) + inspect.getsource(Message)
    except (OSError, TypeError) as exc:
        raise MotoHookNotFound(f"cannot read moto's SQS source: {exc}") from exc
    for needle in ("self._messages.append(", "self.deleted_messages", "self._messages_lock",
                   "self.sent_timestamp = int(", '"MessageRetentionPeriod"'):
        if needle not in source:
            raise MotoHookNotFound(f"moto's SQS Queue no longer has {needle!r}: review "
                                   "local_stack/retention/sqs.py")


def trim(cap_s: float | None, deleted_handles_s: float, now_ms: float | None = None,
         backends: Iterable[Any] | None = None) -> tuple[int, int]:
    """Remove expired messages and old deleted receipt handles from every queue of every
    backend (default: every account and region of the process).

    `cap_s`: the longest a message is kept locally (None: the queue's own period only).
    Returns (messages removed, messages held)."""
    from moto.sqs.models import sqs_backends

    now_ms = time.time() * 1000 if now_ms is None else now_ms
    removed = held = 0
    for backend in backends if backends is not None else every_backend(sqs_backends):
        for queue in list(backend.queues.values()):
            keep_s = float(getattr(queue, "message_retention_period", AWS_DEFAULT_S))
            if cap_s is not None:
                keep_s = min(keep_s, cap_s)
            cutoff_ms = now_ms - keep_s * 1000
            with queue._messages_lock:
                messages = queue._messages
                kept = [m for m in messages
                        if m.sent_timestamp is None or m.sent_timestamp >= cutoff_ms]
                if len(kept) != len(messages):
                    gone = set(messages) - set(kept)
                    queue._messages = kept
                    for message in gone:
                        queue.pending_messages.discard(message)
                    removed += len(gone)
            held += len(queue._messages)
            _forget_deleted_handles(queue, deleted_handles_s)
    return removed, held


def _forget_deleted_handles(queue: Any, keep_s: float, now: float | None = None) -> None:
    """Drop receipt handles that were already in ``deleted_messages`` `keep_s` ago.

    moto does not say when a handle was added, so each trim notes the handles it sees for the
    first time; a generation older than `keep_s` is removed from the set."""
    now = time.monotonic() if now is None else now
    generations: list[tuple[float, set[str]]] = queue.__dict__.setdefault(GENERATIONS, [])
    known = set().union(*(handles for _, handles in generations)) if generations else set()
    fresh = set(queue.deleted_messages) - known
    if fresh:
        generations.append((now, fresh))
    while generations and now - generations[0][0] > keep_s:
        _, old = generations.pop(0)
        queue.deleted_messages.difference_update(old)
