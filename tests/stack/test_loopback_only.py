"""Everything the stack opens binds to loopback: every TCP and UDP socket of every stack process
(the supervisor and all its descendants), after traffic has made the X-Ray emitters send."""

from __future__ import annotations

import socket

import psutil
import pytest
import requests

from reference_app.loopback import is_loopback_host
from tests.conftest import RunningStack, wait_until

pytestmark = pytest.mark.integration


def stack_sockets(stack: RunningStack) -> list[tuple[str, psutil._common.pconn]]:
    """(process name, socket) for every bound inet socket of the stack's processes."""
    root = psutil.Process(int(stack.reload()["supervisor_pid"]))
    found = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            name = " ".join(proc.cmdline()[2:]) or proc.name()
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found += [(f"pid {proc.pid} ({name})", c) for c in conns if c.laddr]
    return found


def emitter_sockets(sockets: list[tuple[str, psutil._common.pconn]]) -> list[str]:
    """UDP sockets of the storefront replicas: the X-Ray emitters (nothing else there is UDP)."""
    return [who for who, c in sockets if c.type == socket.SOCK_DGRAM and "storefront" in who]


def test_every_socket_of_the_stack_is_on_loopback(stack: RunningStack) -> None:
    storefront = stack.urls["storefront"]
    for _ in range(4):  # traced requests: each replica's emitter sends (and so binds)
        assert requests.get(f"{storefront}/v1/products", params={"q": "a", "limit": 1},
                            timeout=10).status_code == 200
    sockets = wait_until(lambda: (found := stack_sockets(stack)) and emitter_sockets(found)
                         and found, 15, 0.3, "an X-Ray emitter socket of the storefront")
    outside = [f"{who}: {'udp' if c.type == socket.SOCK_DGRAM else 'tcp'} "
               f"{c.laddr.ip}:{c.laddr.port}"
               for who, c in sockets if not is_loopback_host(c.laddr.ip)]
    assert not outside, "bound outside loopback:\n" + "\n".join(outside)
    kinds = {c.type for _, c in sockets}
    assert kinds == {socket.SOCK_STREAM, socket.SOCK_DGRAM}, kinds  # both were looked at
