"""DynamoDB and DynamoDB Streams calls go straight to moto's handler, not through Flask.

A cost, not a behaviour (issue 11: the emulator's CPU per call). moto's server answers every
request through a stack of WSGI layers: the domain dispatcher (which works out the backend from
the signature and the body, under a lock), then one Flask app per backend in debug mode (request
context, URL map binding and matching, flask-cors, Flask's debug helpers), then
``convert_to_flask_response``, which builds moto's request object from Flask's and calls the
handler's ``dispatch``. Profiled on a GetItem loop (py-spy ``--gil``), Flask's part was about a
third of the emulator's CPU per call and the handler's own work (``DynamoHandler.get_item``)
under 4 %; every DynamoDB call paid ~1.4 ms of emulator CPU, most of it that stack.

DynamoDB and DynamoDB Streams are JSON-protocol APIs: a POST to ``/`` whose ``X-Amz-Target``
header (``DynamoDB_20120810.GetItem``, ``DynamoDBStreams_20120810.GetRecords``) names the
handler class and the action. For exactly those requests this middleware builds the request
object the Flask app would have built (moto's ``BackendRequest`` over the same WSGI environ),
records it as moto's recorder does, and calls the same ``dispatch`` with the same arguments;
the handler's answer (status, headers, body) becomes the WSGI response as Flask would make it.
Everything else, including an exception the handler raises (Flask's debug mode lets it reach
waitress, which answers 500 either way), goes on as before. Every patch moto_dynamodb_fixes
applies to the handlers (lock, JSON responses) sits inside ``dispatch``, so it applies here
unchanged; what is skipped is the routing, which these requests do not need.

Why not a faster WSGI framework or server: the cost is moto's per-backend Flask app, which
moto builds itself; this is the one seam where moto hands a request to a service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from local_stack.moto_hooks import MotoHookNotFound

log = logging.getLogger("local_stack.moto_fast_dispatch")

# X-Amz-Target prefix (the part before the dot) -> (module, handler class)
TARGETS = {
    "DynamoDB_20120810": ("moto.dynamodb.responses", "DynamoHandler"),
    "DynamoDBStreams_20120810": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
}


def _handlers() -> dict[str, Callable[..., Any]]:
    import importlib

    dispatchers = {}
    for prefix, (module_name, class_name) in TARGETS.items():
        try:
            handler = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise MotoHookNotFound(f"{module_name}.{class_name} not found: {exc}") from exc
        dispatch = getattr(handler, "dispatch", None)
        if not callable(dispatch):
            raise MotoHookNotFound(f"{class_name}.dispatch not found")
        dispatchers[prefix] = dispatch
    return dispatchers


def _json_request_class(base: type) -> type:
    """moto's BackendRequest for a JSON-protocol POST, made cheaper in two places werkzeug
    spends most of the request object's time on, with the same values:

    - the body is read once from ``wsgi.input`` (CONTENT_LENGTH bytes) and the form and
      files are empty: werkzeug does not parse a JSON body as a form either, but builds a
      limited input stream and two empty dicts first;
    - ``raw_url`` (moto's "URL as it arrived": werkzeug's ``url_root`` plus the raw path),
      for a plain ASCII host, is put together from the environ without werkzeug's IRI
      conversion, which gives an ASCII host back unchanged; any other host goes through
      werkzeug as before.
    """
    from urllib.parse import quote

    from werkzeug.datastructures import ImmutableMultiDict

    raw_url_property = getattr(base, "raw_url", None)
    if not isinstance(raw_url_property, property):
        raise MotoHookNotFound("moto's Request.raw_url is no longer a property")

    class JsonRequest(base):  # type: ignore[misc, valid-type]
        def __init__(self, environ: dict[str, Any]) -> None:
            super().__init__(environ)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self._cached_data = environ["wsgi.input"].read(length) if length > 0 else b""
            self.__dict__["form"] = ImmutableMultiDict()
            self.__dict__["files"] = ImmutableMultiDict()

        @property
        def raw_url(self) -> str:
            environ = self.environ
            host = environ.get("HTTP_HOST", "")
            scheme = environ.get("wsgi.url_scheme", "http")
            if (not host or not host.isascii() or "%" in host or "xn--" in host.lower()
                    or self.query_string or self.trusted_hosts is not None):
                return str(raw_url_property.fget(self))  # type: ignore[misc]
            if (scheme, host.rpartition(":")[2]) in (("http", "80"), ("https", "443")):
                host = host.rpartition(":")[0]
            root = quote(environ.get("SCRIPT_NAME", "").rstrip("/"))
            return f"{scheme}://{host}{root}{self.raw_path}"

    return JsonRequest


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """``dict(request.headers)`` of werkzeug's EnvironHeaders, read from the environ directly:
    the same names in the same order (``HTTP_X_AMZ_TARGET`` -> ``X-Amz-Target``; Content-Type
    and Content-Length when not empty)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                headers[key[5:].replace("_", "-").title()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[key.replace("_", "-").title()] = value
    return headers


def fast_json_dispatch(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """`app` (moto's domain dispatcher), with DynamoDB and Streams calls handed to their
    handler directly."""
    try:
        from botocore.exceptions import ClientError
        from flask import Response
        from moto.core.request import normalize_request
        from moto.moto_api import recorder
        from moto.moto_server.werkzeug_app import BackendRequest
    except ImportError as exc:
        raise MotoHookNotFound(f"moto's server modules moved: {exc}") from exc
    if not callable(getattr(recorder, "_record_request", None)):
        raise MotoHookNotFound("moto's recorder no longer has _record_request")
    dispatchers = _handlers()
    request_class = _json_request_class(BackendRequest)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        prefix, _, action = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
        dispatch = dispatchers.get(prefix)
        if (dispatch is None or not action or environ.get("REQUEST_METHOD") != "POST"
                or environ.get("PATH_INFO", "") != "/"):
            return app(environ, start_response)
        request = normalize_request(request_class(environ))
        recorder._record_request(request)
        try:
            result = dispatch(request, request.raw_url, _headers(environ))
        except ClientError as exc:  # as convert_to_flask_response answers it
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, body = result if len(result) == 3 else (200, {}, result)
        return Response(response=body, status=status, headers=headers)(environ, start_response)

    log.info("moto: DynamoDB and DynamoDB Streams calls dispatched without Flask")
    return wsgi
