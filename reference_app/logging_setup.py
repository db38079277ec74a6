"""Logging configuration of a shop process: one stderr handler whose lines carry the service,
the replica and the correlation ID of the request being served."""

from __future__ import annotations

import logging
import sys

from reference_app.config import Settings
from reference_app.correlation import CorrelationFilter

LOG_FORMAT = (
    "%(asctime)s %(levelname)s %(service)s/%(replica)s [%(correlation_id)s] %(name)s: "
    "%(message)s"
)


class ServiceFilter(logging.Filter):
    """Puts `service` and `replica` on every record."""

    def __init__(self, service: str, replica: str) -> None:
        super().__init__()
        self.service = service
        self.replica = replica

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "service"):
            record.service = self.service
        if not hasattr(record, "replica"):
            record.replica = self.replica
        return True


class _ShopHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker class so configure_logging can find (and replace) its own handler."""


def configure_logging(settings: Settings, level: int = logging.INFO) -> logging.Handler:
    """Install the shop's handler on the root logger (idempotent).

    Plain StreamHandlers left by `logging.basicConfig` are replaced so each line is written
    once, in the shop's format; other handlers (pytest's capture, files) are kept.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler or isinstance(handler, _ShopHandler):
            root.removeHandler(handler)
    handler = _ShopHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    handler.addFilter(ServiceFilter(settings.service_name, settings.replica_id))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # werkzeug logs every request at INFO; the RED metrics already count them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return handler
