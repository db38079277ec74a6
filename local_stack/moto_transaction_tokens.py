"""DynamoDB's ClientRequestToken for TransactWriteItems, which moto ignores.

On AWS a TransactWriteItems is idempotent by its ClientRequestToken: a call that repeats the
token of a call that succeeded less than 10 minutes ago, with the same parameters, succeeds
without writing anything again; with other parameters it fails with
IdempotentParameterMismatchException. botocore fills the token in itself (the parameter is an
``idempotencyToken`` in the model) and keeps it on its retries, so on AWS a transaction whose
answer was lost (a read timeout, a dropped connection) and that the SDK sent again simply
succeeds. moto ignores the token: the retry runs the transaction again, and an item whose
condition the first run made false (``attribute_not_exists``, ``Version = :v``) cancels it,
``TransactionCanceledException`` with ``ConditionalCheckFailed`` — the shop then takes its own
write for somebody else's (a like answered "already liked"; a checkout resumed from its own
order). Under load on a shared machine the emulator's answers do come late (the services' read
timeout is 2 s).

Here ``DynamoHandler.transact_write_items`` keeps, for every call that succeeded with a token, the
token, a digest of its other parameters and its answer, for ``TOKEN_TTL_S`` (AWS's 10 minutes) and
at most ``MAX_TOKENS`` of them, the oldest going first, so memory stays bounded under any load:
~0.7 kB a token, 15 MB when full; at the shop's heaviest load here (~60 transactions a second) the
cap keeps a token for over 5 minutes, where the SDK retries within seconds. A repeat with the same
digest gets the same answer and writes nothing; another digest gets
IdempotentParameterMismatchException. The check, the transaction and the record are one step under
``moto_dynamodb_fixes.DYNAMODB_LOCK``. A call that failed is not kept (its retry runs again, as it
would have failed again). A call without a token is moto's, unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from local_stack.moto_hooks import MotoHookNotFound, require_source

log = logging.getLogger("local_stack.moto_transaction_tokens")

TOKEN_TTL_S = 600.0  # AWS: a client request token is valid for 10 minutes
MAX_TOKENS = 20_000
REVIEW = "local_stack/moto_transaction_tokens.py"
_MARK = "__gameday_tokens__"


class TokenLedger:
    """Tokens of transactions that succeeded: token -> (digest, kept until, answer)."""

    def __init__(self, ttl_s: float = TOKEN_TTL_S, max_tokens: int = MAX_TOKENS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_tokens = max_tokens
        self.clock = clock
        self._entries: OrderedDict[str, tuple[str, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self, now: float) -> None:
        while self._entries:
            token, (_digest, until, _answer) = next(iter(self._entries.items()))
            if until > now and len(self._entries) <= self.max_tokens:
                return
            del self._entries[token]

    def seen(self, token: str) -> tuple[str, Any] | None:
        """(digest, answer) of an unexpired successful call with `token`, else None."""
        with self._lock:
            self._expire(self.clock())
            entry = self._entries.get(token)
            return None if entry is None else (entry[0], entry[2])

    def keep(self, token: str, digest: str, answer: Any) -> None:
        with self._lock:
            now = self.clock()
            self._entries.pop(token, None)
            self._entries[token] = (digest, now + self.ttl_s, answer)
            self._expire(now)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def parameters_digest(body: dict[str, Any]) -> str:
    """A digest of a TransactWriteItems request without its ClientRequestToken."""
    rest = {key: value for key, value in body.items() if key != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":"),
                                     default=repr).encode()).hexdigest()


def _mismatch() -> Exception:
    from moto.dynamodb.exceptions import DynamodbException

    return DynamodbException(
        "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
        "Request parameters do not match the parameters of a previous request with the same "
        "ClientRequestToken")


def _idempotent(method: Callable[[Any], Any], ledger: TokenLedger,
                lock: Any) -> Callable[[Any], Any]:
    @functools.wraps(method)
    def transact_write_items(self: Any) -> Any:
        body = self.body if isinstance(self.body, dict) else {}
        token = body.get("ClientRequestToken")
        if not isinstance(token, str) or not token:
            return method(self)
        digest = parameters_digest(body)
        with lock:
            seen = ledger.seen(token)
            if seen is not None:
                if seen[0] != digest:
                    raise _mismatch()
                log.debug("TransactWriteItems token %s repeated: answered, nothing written",
                          token)
                return seen[1]
            answer = method(self)
            ledger.keep(token, digest, answer)
            return answer

    setattr(transact_write_items, _MARK, ledger)
    transact_write_items.original = method  # type: ignore[attr-defined]
    return transact_write_items


def install() -> None:
    """Make moto's TransactWriteItems honour ClientRequestToken (idempotent)."""
    try:
        from moto.dynamodb.responses import DynamoHandler

        from local_stack.moto_dynamodb_fixes import DYNAMODB_LOCK
    except ImportError as exc:
        raise MotoHookNotFound(f"moto's DynamoDB handler moved: {exc}") from exc
    current = getattr(DynamoHandler, "transact_write_items", None)
    if current is None:
        raise MotoHookNotFound(f"DynamoHandler.transact_write_items is gone: review {REVIEW}")
    if getattr(current, _MARK, None) is not None:
        return
    source = require_source(current, "self.dynamodb_backend.transact_write_items(", REVIEW)
    if "ClientRequestToken" in source:
        raise MotoHookNotFound("moto reads ClientRequestToken itself now: this module may be "
                               f"redundant, review {REVIEW}")
    DynamoHandler.transact_write_items = _idempotent(  # type: ignore[method-assign]
        current, TokenLedger(), DYNAMODB_LOCK)
    log.info("moto DynamoDB: TransactWriteItems honours ClientRequestToken (%d s)",
             int(TOKEN_TTL_S))


def installed_ledger() -> TokenLedger | None:
    from moto.dynamodb.responses import DynamoHandler

    return getattr(DynamoHandler.transact_write_items, _MARK, None)


def uninstall() -> None:
    """Undo install() (tests compare with moto's own handler)."""
    from moto.dynamodb.responses import DynamoHandler

    original = getattr(DynamoHandler.transact_write_items, "original", None)
    if original is not None:
        DynamoHandler.transact_write_items = original  # type: ignore[method-assign]
