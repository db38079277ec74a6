"""local_stack.moto_fast_dispatch: DynamoDB and Streams calls reach moto's handler without
Flask, with the request moto would have built (unit tests of that one module; the answers are
compared with plain moto's on real servers in test_moto_fixes.py)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import BackendRequest

from local_stack import moto_fast_dispatch
from local_stack.moto_fast_dispatch import _headers, _json_request_class, fast_json_dispatch


def _environ(body: bytes = b'{"TableName": "t"}', target: str = "DynamoDB_20120810.GetItem",
             host: str = "127.0.0.1:8703", path: str = "/", query: str = "",
             method: str = "POST", script_name: str = "") -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "SCRIPT_NAME": script_name, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8703",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/x-amz-json-1.0", "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_AMZ_TARGET": target, "HTTP_X_AMZ_DATE": "20261203T150000Z",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/"
                              "dynamodb/aws4_request, SignedHeaders=host, Signature=abc",
        "HTTP_AMZ_SDK_INVOCATION_ID": "inv-1",
    }
    if host:
        environ["HTTP_HOST"] = host
    return environ


@pytest.mark.parametrize("kwargs", [
    {}, {"host": "localhost:80"}, {"host": "127.0.0.1"}, {"script_name": "/base/"},
    {"query": "a=1&b=%20"}, {"host": "xn--bcher-kva.example:9000"}, {"host": ""},
    {"body": b""}, {"body": "{\"K\": \"\u00e9\"}".encode()},
])
def test_the_request_is_the_one_moto_would_build(kwargs: dict[str, Any]) -> None:
    ours = _json_request_class(BackendRequest)(_environ(**kwargs))
    motos = BackendRequest(_environ(**kwargs))
    assert ours.raw_url == motos.raw_url
    assert ours.data == motos.data and ours.get_data(as_text=True) == motos.get_data(as_text=True)
    assert ours.form == motos.form and ours.files == motos.files
    assert ours.raw_path == motos.raw_path and ours.method == motos.method
    assert list(_headers(ours.environ).items()) == list(motos.headers.items())


def test_only_json_calls_of_dynamodb_and_streams_take_the_short_way() -> None:
    seen: list[str] = []

    def flask_side(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_X_AMZ_TARGET", ""))
        start_response("200 OK", [])
        return [b"flask"]

    app = fast_json_dispatch(flask_side)
    for environ in (_environ(target="GraniteServiceVersion20100801.PutMetricData"),
                    _environ(target="DynamoDB_20120810"),  # no action
                    _environ(method="GET"), _environ(path="/moto-api/"),
                    _environ(target="")):
        assert app(environ, lambda *a: None) == [b"flask"]
    assert len(seen) == 5


def test_a_dynamodb_call_is_answered_by_motos_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, str, dict[str, str]]] = []

    def dispatch(request: Any, full_url: str, headers: dict[str, str]) -> Any:
        calls.append((request, full_url, headers))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps({"Item": {}})

    monkeypatch.setattr(moto_fast_dispatch, "_handlers", lambda: {"DynamoDB_20120810": dispatch})
    statuses: list[str] = []
    app = fast_json_dispatch(lambda *a: pytest.fail("went through Flask"))
    body = b"".join(app(_environ(), lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"] and json.loads(body) == {"Item": {}}
    request, full_url, headers = calls[0]
    assert full_url == "http://127.0.0.1:8703/" and headers["X-Amz-Target"].endswith("GetItem")
    assert request.data == b'{"TableName": "t"}' and request.from_wsgi_server
