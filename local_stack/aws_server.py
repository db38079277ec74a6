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
rollback for change sets, which ``gameday aws deploy`` uses) and
``local_stack.alarm_evaluator.moto_history`` (DescribeAlarmHistory, alarm
states as on AWS), which is written to be applied in the moto server process.

The ``/moto-api/`` endpoints (reset, data) stay available; the stack uses ``/moto-api/`` as the
health check.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from local_stack import moto_cloudformation_fixes, moto_dynamodb_fixes

log = logging.getLogger("local_stack.aws_server")

_PATCH_MARK = "_local_stack_esm_invocation_disabled"


class MotoHookNotFound(RuntimeError):
    """moto's DynamoDB Streams → Lambda hook is not where this module expects it."""


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
    try:
        add_source = inspect.getsource(shard_cls.add)
    except (OSError, TypeError) as exc:
        raise MotoHookNotFound(f"cannot read moto's StreamShard.add source: {exc}") from exc
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
        self.local_stack_created = time.monotonic()

    def get_records(self: Any, iterator_arn: str, limit: int) -> Any:
        now = time.monotonic()
        iterators = self.shard_iterators
        if now - last_prune[0] > _PRUNE_EVERY_S and prune_lock.acquire(blocking=False):
            try:
                last_prune[0] = now
                for arn, it in list(iterators.items()):
                    if now - getattr(it, "local_stack_created", now) > lifetime_s:
                        iterators.pop(arn, None)
            finally:
                prune_lock.release()
        it = iterators.get(iterator_arn)
        if it is None or now - getattr(it, "local_stack_created", now) > lifetime_s:
            raise JsonRESTError("ExpiredIteratorException",
                                "Iterator expired. The iterator was created more than "
                                f"{lifetime_s:.0f} seconds ago, or is unknown.")
        return original_get_records(self, iterator_arn, limit)

    setattr(get_records, _PATCH_MARK, True)
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


class AwsServer:
    """moto's WSGI app behind a threaded werkzeug server, stoppable from any thread.

    The socket is bound in the constructor (an OSError there means the port is taken), unlike
    moto's ThreadedMotoServer, which waits forever when its thread fails to bind.
    """

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        disable_moto_stream_invocation()
        moto_dynamodb_fixes.install()
        moto_cloudformation_fixes.install()
        expire_stream_iterators()
        install_cloudwatch_alarm_history()
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server",
                                        daemon=True)
        self._stopped = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> tuple[str, int]:
        self._thread.start()
        return self.address

    def stop(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.aws_server",
        description="moto server (loopback only) with DynamoDB Streams → Lambda invocation off",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # werkzeug raises its own logger to INFO unless it has a level: one line per request
    logging.getLogger("werkzeug").setLevel(args.log_level.upper())
    from local_stack.ports import check_loopback

    try:
        check_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))

    try:
        server = AwsServer(args.host, args.port)
    except MotoHookNotFound as exc:
        log.critical("refusing to start: %s", exc)
        return 3
    except RuntimeError as exc:  # e.g. moto_history.MotoCloudWatchChanged
        log.critical("refusing to start: %s: %s", type(exc).__name__, exc)
        return 3
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        log.critical("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 1

    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    host, port = server.start()
    log.info("moto server listening on http://%s:%d", host, port)
    while not stop_requested.wait(0.5):
        pass
    server.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
