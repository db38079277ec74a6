"""One answer to "is this loopback?" (reference_app.loopback) in every rail that asks it: the
chaos CLI's endpoints, the Grafana URL, `gameday load`'s target, the local-AWS dummy
credentials, the stack's bind checks. `::1` is loopback, deliberately (see the module)."""

from __future__ import annotations

import pytest

from chaos.safety import UnsafeTarget, is_loopback_url, require_loopback
from dashboards.grafana_http import check_url
from loadtests.hosts import HostError, check_host
from local_stack.ports import check_loopback
from reference_app.aws_session import _session_kwargs
from reference_app.config import Settings
from reference_app.loopback import is_loopback_host

CASES = [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("localhost", True), ("LocalHost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("128.0.0.1", False),
    ("::2", False), ("::ffff:10.0.0.1", False), ("169.254.169.254", False),
    ("localhost.example.com", False), ("", False),
]


def _url(host: str) -> str:
    return f"http://[{host}]:8700" if ":" in host else f"http://{host}:8700"


@pytest.mark.parametrize(("host", "loopback"), CASES)
def test_every_rail_gives_the_same_answer(host: str, loopback: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = _url(host)
    answers = {"reference_app.loopback": is_loopback_host(host),
               "chaos.safety": is_loopback_url(url)}
    try:
        require_loopback(url, "test")
        answers["chaos.safety.require_loopback"] = True
    except UnsafeTarget:
        answers["chaos.safety.require_loopback"] = False
    try:
        check_url(url)
        answers["dashboards.grafana_http"] = True
    except ValueError:
        answers["dashboards.grafana_http"] = False
    try:
        check_loopback(host)
        answers["local_stack.ports"] = True
    except ValueError:
        answers["local_stack.ports"] = False
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    answers["reference_app.aws_session"] = "aws_access_key_id" in _session_kwargs(
        Settings(aws_endpoint_url=url))
    if host and (":" in host or host[0].isdigit() or host.lower() == "localhost"):
        try:  # names other than localhost would need DNS here
            check_host(url)
            answers["loadtests.hosts"] = True
        except HostError:
            answers["loadtests.hosts"] = False
    assert answers == dict.fromkeys(answers, loopback)
