"""The local AWS endpoint: moto in server mode, with moto's own DynamoDB Streams → Lambda
invocation switched off.

Entry point: ``python -m local_stack.aws_server --host 127.0.0.1 --port P``.

Why not plain ``python -m moto.server``: moto cannot run Lambda code without Docker, yet every
write to a table that has an event source mapping (even a Disabled one) makes moto's DynamoDB
backend call ``LambdaBackend.send_dynamodb_items``, which tries a Docker invocation (an error
line per write, writes about twice as slow). Worse, the failed attempt returns an error text,
which is truthy, and ``StreamShard.add`` then empties the shard (``if result: self.items =
[]``): measured with moto 5.2.1, 50 writes after a Disabled mapping was created left 0 records
in the stream, so no consumer could ever read them. Here the stream records are consumed by
``local_stack.stream_runtime`` (which implements the event source mapping rules itself), so
moto's hook is replaced by a no-op that returns ``""``: the record stays in the stream, nothing
is invoked. Only the DynamoDB path is touched; SQS and Kinesis mappings keep moto's behaviour.

The patch is checked against moto's source at start: if ``StreamShard.add`` no longer calls
``send_dynamodb_items`` (a moto upgrade moved the hook), the server refuses to start rather
than silently invoking (or not invoking) through some other path.

One more, smaller change: moto keeps every DynamoDB Streams shard iterator it ever issued (one
per GetRecords), which grows the server without bound under a polling consumer; here they expire
after 15 minutes, as AWS documents (``ExpiredIteratorException`` afterwards).

It also installs ``local_stack.moto_cloudformation_fixes`` (outputs, resource events and
rollback for change sets, which ``gameday aws deploy`` uses),
``local_stack.alarm_evaluator.moto_history`` (DescribeAlarmHistory, alarm states as on AWS),
which is written to be applied in the moto server process, and
``local_stack.moto_dynamodb_fixes`` (isolation, item-level transaction rollback, key queries)
and ``local_stack.moto_expression_cache`` (an update expression's text parsed once).

Serving (issue 11: under the game day's load the emulator was the bottleneck): waitress instead
of moto's werkzeug development server (no access-log line per request, connections kept alive,
a fixed thread pool; see ``AwsServer``), moto's per-request backend lookup remembered per host
(``cached_dispatcher``) and its per-request action lookup cached per class
(``cache_action_lookup``), and DynamoDB and DynamoDB Streams calls handed from waitress to
moto's handler without the dispatcher and Flask (``local_stack.moto_fast_dispatch``). None of
these changes what any API answers.
GetMetricData's MetricStat queries read a per-series time index (``local_stack.metric_index``)
instead of filtering every datapoint once per period per query (the idle stack's largest cost:
the alarm evaluator asks once a second).

Retention (``local_stack.retention``, defaults and flags in docs/retention.md): a sweeper thread
trims what grows with load, as AWS does: stream records a window after every mapping (the stream
runtime's ``--stream-checkpoints`` file) and reader passed them, CloudWatch datapoints, X-Ray
traces, SQS messages. ``GET /_local_stack/retention`` shows what is held and was dropped.

The ``/moto-api/`` endpoints (reset, data) stay available; the stack uses ``/moto-api/`` as the
health check.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from local_stack import (
    metric_index,
    moto_cloudformation_fixes,
    moto_condition_cache,
    moto_dynamodb_fixes,
    moto_expression_cache,
    moto_fast_dispatch,
    moto_transaction_tokens,
)
from local_stack.moto_hooks import MotoHookNotFound, moto_source
from local_stack.replica import quiet_waitress_queue
from local_stack.retention import RetentionSettings, sweeper
from local_stack.retention.streams import ISSUED

log = logging.getLogger("local_stack.aws_server")

_PATCH_MARK = "_local_stack_esm_invocation_disabled"


def _no_dynamodb_stream_invocation(
    self: Any, function_arn: str, items: list[Any], source: str
) -> str:
    """Replacement for ``LambdaBackend.send_dynamodb_items``: invoke nothing, keep the records.

    Returning a falsy value matters: ``StreamShard.add`` empties the shard when the call
    returns something truthy.
    """
    return ""


def disable_moto_stream_invocation() -> None:
    """Neutralise moto's DynamoDB Streams → Lambda invocation; raise MotoHookNotFound if the
    hook is not found exactly as expected. Idempotent."""
    import moto
    from moto.awslambda import models as lambda_models
    from moto.dynamodb.models import table as table_models

    backend_cls = getattr(lambda_models, "LambdaBackend", None)
    shard_cls = getattr(table_models, "StreamShard", None)
    if backend_cls is None or shard_cls is None:
        raise MotoHookNotFound(
            f"moto {moto.__version__}: LambdaBackend or StreamShard is gone; review "
            "local_stack/aws_server.py before using this moto version"
        )
    current = getattr(backend_cls, "send_dynamodb_items", None)
    if current is None:
        raise MotoHookNotFound(
            f"moto {moto.__version__}: LambdaBackend.send_dynamodb_items is gone; moto may "
            "invoke stream mappings some other way — review local_stack/aws_server.py"
        )
    if getattr(current, _PATCH_MARK, False):
        return
    add_source = moto_source(shard_cls.add)
    for needle in ("lambda_event_source_mappings", "send_dynamodb_items"):
        if needle not in add_source:
            raise MotoHookNotFound(
                f"moto {moto.__version__}: StreamShard.add no longer references {needle!r}; "
                "the stream → Lambda hook moved — review local_stack/aws_server.py"
            )
    # No other moto code path may send DynamoDB stream records to Lambda.
    others = [
        name
        for name, obj in vars(table_models).items()
        if inspect.isclass(obj) and obj is not shard_cls
        and obj.__module__ == table_models.__name__
        and "send_dynamodb_items" in _source_or_empty(obj)
    ]
    if others:
        raise MotoHookNotFound(
            f"moto {moto.__version__}: send_dynamodb_items is also called from {others}; "
            "review local_stack/aws_server.py"
        )
    setattr(_no_dynamodb_stream_invocation, _PATCH_MARK, True)
    backend_cls.send_dynamodb_items = _no_dynamodb_stream_invocation
    log.info(
        "moto %s: DynamoDB Streams → Lambda invocation switched off "
        "(LambdaBackend.send_dynamodb_items is a no-op; stream records stay readable for "
        "local_stack.stream_runtime; SQS/Kinesis mappings untouched)",
        moto.__version__,
    )


ITERATOR_LIFETIME_S = 900.0  # DynamoDB Streams: a shard iterator expires after 15 minutes
_PRUNE_EVERY_S = 30.0


def expire_stream_iterators(lifetime_s: float = ITERATOR_LIFETIME_S) -> bool:
    """Give moto's DynamoDB Streams shard iterators AWS's 15-minute lifetime.

    moto keeps every shard iterator it ever issued (each GetRecords issues one), so a consumer
    polling 4 times a second grows the server by ~100 MB an hour. Iterators older than
    `lifetime_s` are dropped (checked every 30 s) and using one answers
    ``ExpiredIteratorException``, as on AWS. Returns False (logged; the server still starts)
    when moto's streams backend does not look as expected.
    """
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams import models as streams_models

    backend_cls = getattr(streams_models, "DynamoDBStreamsBackend", None)
    iterator_cls = getattr(streams_models, "ShardIterator", None)
    if backend_cls is None or iterator_cls is None or not hasattr(backend_cls, "get_records"):
        log.warning("moto's DynamoDB Streams backend changed: shard iterators never expire")
        return False
    if getattr(backend_cls.get_records, _PATCH_MARK, False):
        return True
    original_init = iterator_cls.__init__
    original_get_records = backend_cls.get_records
    prune_lock = threading.Lock()
    last_prune = [time.monotonic()]

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        setattr(self, ISSUED, time.monotonic())

    def get_records(self: Any, iterator_arn: str, limit: int) -> Any:
        now = time.monotonic()
        iterators = self.shard_iterators
        if now - last_prune[0] > _PRUNE_EVERY_S and prune_lock.acquire(blocking=False):
            try:
                last_prune[0] = now
                for arn, it in list(iterators.items()):
                    if now - getattr(it, ISSUED, now) > lifetime_s:
                        iterators.pop(arn, None)
            finally:
                prune_lock.release()
        it = iterators.get(iterator_arn)
        if it is None or now - getattr(it, ISSUED, now) > lifetime_s:
            raise JsonRESTError("ExpiredIteratorException",
                                "Iterator expired. The iterator was created more than "
                                f"{lifetime_s:.0f} seconds ago, or is unknown.")
        return original_get_records(self, iterator_arn, limit)

    setattr(get_records, _PATCH_MARK, True)
    # functools.wraps-style handles on the originals, so a test can start from plain moto
    init.__wrapped__ = original_init  # type: ignore[attr-defined]
    get_records.__wrapped__ = original_get_records  # type: ignore[attr-defined]
    iterator_cls.__init__ = init
    backend_cls.get_records = get_records
    log.info("moto DynamoDB Streams: shard iterators expire after %.0f s, as on AWS", lifetime_s)
    return True


def install_cloudwatch_alarm_history() -> bool:
    """Apply ``local_stack.alarm_evaluator.moto_history`` (DescribeAlarmHistory and AWS's alarm
    states in moto's CloudWatch), which asks to be installed in the moto server process.
    Its ``MotoCloudWatchChanged`` propagates: the server refuses to start. Returns False when
    that module is not there."""
    try:
        from local_stack.alarm_evaluator import moto_history
    except ImportError:
        log.info("local_stack.alarm_evaluator.moto_history not present: CloudWatch unpatched")
        return False
    moto_history.install()
    log.info("moto CloudWatch: alarm history and AWS alarm states (alarm_evaluator.moto_history)")
    return True


def _source_or_empty(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def cached_dispatcher() -> Any:
    """moto's DomainDispatcherApplication with its host → backend answer remembered.

    moto works out the backend of every request anew: from the signature's service name it
    builds a host name, then ``get_backend_for_host`` lists moto's package directory
    (``backends.list_of_moto_modules``: a directory listing and ~200 ``isdir`` calls) and tries
    every backend's URL regex until one matches, all under one lock (about 13 % of the
    emulator's CPU under load). The answer depends on the host name only, and there are a
    handful of those (one per service and region), so it is kept in a dict. A failed lookup
    (None: moto then falls back to S3) is not kept.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class CachedDispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backends: dict[str, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host is None:
                return None
            backend = self._backends.get(host)
            if backend is None:
                backend = super().get_backend_for_host(host)
                if backend:
                    self._backends[host] = backend
            return backend

    return CachedDispatcher()


def cache_action_lookup() -> bool:
    """Remember each moto response class's method names.

    ``BaseResponse.call_action`` asks ``method_names_from_class`` (``inspect.getmembers`` over
    the class, a few hundred attributes) on every request to see whether the action is
    implemented (about 3 % of the emulator's CPU under load). A class's methods do not change
    once the server is serving (every patch here is applied before), so the answer is cached
    per class. Returns False (logged; nothing changed) when moto no longer looks like that.
    """
    from moto.core import responses

    original = getattr(responses, "method_names_from_class", None)
    if original is None or "method_names_from_class(self.__class__)" not in _source_or_empty(
            responses.BaseResponse.call_action):
        log.warning("moto's BaseResponse.call_action changed: action lookup not cached")
        return False
    if getattr(original, _PATCH_MARK, False):
        return True
    cached = functools.lru_cache(maxsize=None)(original)
    setattr(cached, _PATCH_MARK, True)
    responses.method_names_from_class = cached
    return True


# waitress settings of the emulator. Threads: requests hold the GIL (and DynamoDB's lock) for
# their whole CPU time, so more threads do not add throughput; 16 leave room for SQS long
# polls (a ReceiveMessage with WaitTimeSeconds holds its thread that long). poll(): select()
# cannot watch more than 1024 sockets, and every client keeps a pool of connections alive.
SERVER_THREADS = 16
WAITRESS_OPTIONS: dict[str, Any] = {"connection_limit": 2000, "channel_timeout": 120,
                                    "asyncore_use_poll": True, "ident": None}


class AwsServer:
    """moto's WSGI app served by waitress, stoppable from any thread.

    Why not moto's own server (werkzeug's development server): it writes an access-log line
    per request (about 8 % of the emulator's CPU under the game day's load), starts a thread per
    connection and answers every request with ``Connection: close``, so each boto3 call paid a
    new TCP connection and a new thread on both sides. waitress (already the shop's server)
    keeps connections alive, serves from a fixed pool of threads and logs no access lines.
    The socket is bound in the constructor (an OSError there means the port is taken).
    """

    def __init__(self, host: str, port: int, threads: int = SERVER_THREADS,
                 retention: RetentionSettings | None = None) -> None:
        import waitress

        disable_moto_stream_invocation()
        moto_dynamodb_fixes.install()
        moto_expression_cache.install()
        moto_condition_cache.install()
        moto_transaction_tokens.install()
        moto_cloudformation_fixes.install()
        expire_stream_iterators()
        install_cloudwatch_alarm_history()
        metric_index.install()
        cache_action_lookup()
        sweeper.install()
        self.retention = sweeper.Sweeper(retention or RetentionSettings.from_env())
        app = sweeper.stats_app(moto_fast_dispatch.fast_json_dispatch(cached_dispatcher()),
                                self.retention)
        self._server = waitress.create_server(app, host=host, port=port, threads=threads,
                                              **WAITRESS_OPTIONS)
        self._thread = threading.Thread(target=self._server.run, name="moto-server",
                                        daemon=True)
        self._stopped = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        return str(self._server.effective_host), int(self._server.effective_port)

    def start(self) -> tuple[str, int]:
        self._thread.start()
        self.retention.start()
        return self.address

    def stop(self) -> None:
        """Finish the requests being served (up to 5 s), then close every socket; the serving
        thread ends when it has none left. (waitress's own ``close`` closes its wake-up pipe
        first, which fails the threads still answering.)"""
        if not self._stopped.is_set():
            self._stopped.set()
            self.retention.stop()
            from waitress import wasyncore

            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            wasyncore.close_all(self._server._map, ignore_all=True)
            self._thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.aws_server",
        description="moto server (loopback only) with DynamoDB Streams → Lambda invocation off",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    parser.add_argument("--log-level", default="INFO")
    keep = parser.add_argument_group(
        "retention", "how long the emulator keeps what grows with load (local_stack.retention; "
        "defaults from the GAMEDAY_*_RETENTION_S variables, else the module's defaults)")
    keep.add_argument("--stream-retention", type=float, metavar="S",
                      help="DynamoDB stream records are dropped S after every event source "
                           "mapping and reader has passed them (default 300)")
    keep.add_argument("--metric-retention", type=float, metavar="S",
                      help="CloudWatch datapoints (default 900; at least twice the longest "
                           "alarm look-back)")
    keep.add_argument("--trace-retention", type=float, metavar="S",
                      help="X-Ray traces (default 900)")
    keep.add_argument("--sqs-retention", type=float, metavar="S",
                      help="cap on every queue's MessageRetentionPeriod (default 3600; 0: the "
                           "queue's own period only)")
    keep.add_argument("--retention-sweep", type=float, metavar="S",
                      help="seconds between trims (default 5)")
    keep.add_argument("--stream-checkpoints", type=Path, metavar="FILE",
                      help="the stream runtime's --checkpoint-file: a record a mapping has not "
                           "passed is kept (without it, a stream with a mapping is never "
                           "trimmed)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from local_stack.ports import check_loopback

    try:
        check_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))

    try:
        retention = RetentionSettings.from_env(
            stream_records_s=args.stream_retention, metric_datapoints_s=args.metric_retention,
            traces_s=args.trace_retention, sqs_messages_s=args.sqs_retention,
            sweep_every_s=args.retention_sweep, stream_checkpoints=args.stream_checkpoints)
    except ValueError as exc:
        parser.error(str(exc))

    try:
        server = AwsServer(args.host, args.port, retention=retention)
    except MotoHookNotFound as exc:
        log.critical("refusing to start: %s", exc)
        return 3
    except RuntimeError as exc:  # e.g. moto_history.MotoCloudWatchChanged
        log.critical("refusing to start: %s: %s", type(exc).__name__, exc)
        return 3
    except OSError as exc:  # the port is taken
        log.critical("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 1

    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # waiting for a thread is expected (the requests queue for DynamoDB's lock anyway)
    quiet_waitress_queue()
    host, port = server.start()
    log.info("moto server listening on http://%s:%d", host, port)
    while not stop_requested.wait(0.5):
        pass
    server.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
