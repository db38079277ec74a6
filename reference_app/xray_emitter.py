"""The X-Ray SDK's UDP emitter, with its socket bound to loopback when the daemon is there.

aws-xray-sdk's `UDPEmitter` creates its socket unbound; the kernel binds it to
`0.0.0.0:<ephemeral>` at the first `sendto`, so every traced process of the local stack held a
UDP port open on every interface (`ss -lunp`), although it only ever talks to a receiver on
127.0.0.1. What this subclass changes, and nothing else:

- when the daemon address is loopback (`reference_app.loopback`), the socket is bound to
  `127.0.0.1:0` before anything is sent: the same ephemeral source port, on loopback only;
- when it is elsewhere (compose's `xray:2000`, a sidecar), the SDK's behaviour is kept: a
  socket bound to loopback could not reach it. A later switch from a loopback daemon to a
  remote one gets a fresh, unbound socket for the same reason.

Sending, serialising and the non-blocking, drop-on-error behaviour are the SDK's own.
"""

from __future__ import annotations

import socket

from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

from reference_app.loopback import is_loopback_host

LOOPBACK_SOURCE = ("127.0.0.1", 0)


class LoopbackUDPEmitter(UDPEmitter):
    """`UDPEmitter` whose socket is bound to 127.0.0.1 when the daemon is on loopback."""

    def set_daemon_address(self, address: str | None) -> None:
        super().set_daemon_address(address)
        host, port = self._socket.getsockname()
        on_loopback = host != "0.0.0.0"
        if is_loopback_host(self._ip):
            if not on_loopback:
                if port:  # already bound to the wildcard by an earlier send
                    self._fresh_socket()
                self._socket.bind(LOOPBACK_SOURCE)
        elif on_loopback:  # a loopback source cannot reach a daemon elsewhere
            self._fresh_socket()

    def _fresh_socket(self) -> None:
        self._socket.close()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def close(self) -> None:
        self._socket.close()
