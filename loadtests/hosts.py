"""Which shop to load: `--host`, else the storefront of the stack in the gameday state file.

The state dir is `--state-dir`, else $GAMEDAY_STATE_DIR, else ./.gameday (local_stack.state).
Load goes to loopback only (127.0.0.0/8, ::1; `reference_app.loopback` decides) unless
`--allow-remote` is given: a load test aimed at someone else's service by a typo is an attack,
not a test. A name is resolved and every address it resolves to must be loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local_stack.state import StackNotRunning, default_state_dir, read_state
from reference_app.loopback import DESCRIPTION, is_loopback_host

PREFLIGHT_S = 3.0  # how long `gameday load` waits for a target to answer before giving up


class HostError(ValueError):
    """No usable host, or a host we refuse to load."""


class NoStack(HostError):
    """No --host and no running stack to take the storefront from."""


def state_dir_of(state_dir: Path | None) -> Path:
    return (state_dir or default_state_dir()).resolve()


def load_state(state_dir: Path | None) -> dict[str, Any]:
    """The stack's state file (StackNotRunning with a hint when there is none)."""
    return read_state(state_dir_of(state_dir))


def host_from_state(state_dir: Path | None) -> str:
    """The storefront URL of the running stack."""
    try:
        state = load_state(state_dir)
    except StackNotRunning as exc:
        raise NoStack(f"no --host given and {exc}") from exc
    url = (state.get("urls") or {}).get("storefront")
    if not url:
        raise HostError(f"the state file in {state_dir_of(state_dir)} has no storefront URL")
    return str(url).rstrip("/")


def _addresses(hostname: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(hostname)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(hostname, None)
    except OSError as exc:
        raise HostError(f"cannot resolve {hostname!r}: {exc}") from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def check_host(url: str, allow_remote: bool = False) -> str:
    """The URL if it may be loaded; HostError otherwise (bad URL, or not loopback)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostError(f"host {url!r} is not an http(s)://host[:port] URL")
    if allow_remote:
        return url
    addresses = _addresses(parts.hostname)
    outside = [str(a) for a in addresses if not is_loopback_host(str(a))]
    if not addresses or outside:
        raise HostError(f"refusing to load {url}: {parts.hostname} is outside "
                        f"{DESCRIPTION} ({', '.join(outside) or 'no address'}); pass "
                        f"--allow-remote if you really mean it")
    return url


def resolve_host(explicit: str | None, state_dir: Path | None, allow_remote: bool = False) -> str:
    """`--host` if given, else the state file's storefront; checked against loopback."""
    url = explicit.rstrip("/") if explicit else host_from_state(state_dir)
    return check_host(url, allow_remote)


def unanswered(url: str, within_s: float = PREFLIGHT_S) -> str | None:
    """None as soon as `url` answers HTTP at all (any status: a server is there); else why it
    did not, after trying for `within_s` seconds (a refused connection is tried again every
    0.25 s: a stack may still be starting). Proxies are not used."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + within_s
    while True:
        left = deadline - time.monotonic()
        try:
            with opener.open(f"{url.rstrip('/')}/health", timeout=max(0.5, left)):
                return None
        except urllib.error.HTTPError:
            return None  # an HTTP error status is an answer
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            why = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) \
                else str(reason)
        if time.monotonic() + 0.25 >= deadline:
            return f"{why} (tried for {within_s:.0f} s)"
        time.sleep(0.25)
