"""The X-Ray emitter binds its UDP socket to 127.0.0.1 when the daemon is on loopback (the SDK's
own emitter ends up on 0.0.0.0 at its first send: the negative control), and still delivers."""

from __future__ import annotations

import socket

from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

from reference_app.xray_emitter import LoopbackUDPEmitter


class _Entity:
    def serialize(self) -> str:
        return '{"name": "test"}'


def _sent_from(emitter: UDPEmitter) -> tuple[str, bytes]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(5)
        emitter.set_daemon_address(f"127.0.0.1:{daemon.getsockname()[1]}")
        emitter.send_entity(_Entity())
        data, source = daemon.recvfrom(65536)
    return emitter._socket.getsockname()[0], data


def test_loopback_daemon_means_a_loopback_socket() -> None:
    emitter = LoopbackUDPEmitter("127.0.0.1:2000")
    try:
        bound, data = _sent_from(emitter)
        assert bound == "127.0.0.1"
        assert data.endswith(b'{"name": "test"}')
    finally:
        emitter.close()


def test_the_sdk_emitter_binds_every_interface() -> None:  # the negative control
    emitter = UDPEmitter("127.0.0.1:2000")
    try:
        assert _sent_from(emitter)[0] == "0.0.0.0"
    finally:
        emitter._socket.close()


def test_a_daemon_elsewhere_keeps_an_unbound_socket() -> None:
    emitter = LoopbackUDPEmitter("127.0.0.1:2000")
    try:
        emitter.set_daemon_address("10.1.2.3:2000")  # e.g. compose's xray:2000
        assert emitter._socket.getsockname() == ("0.0.0.0", 0)
        emitter.set_daemon_address("localhost:2000")
        assert emitter._socket.getsockname()[0] == "127.0.0.1"
    finally:
        emitter.close()
