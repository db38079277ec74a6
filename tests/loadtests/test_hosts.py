"""Which host is loaded: the state file's storefront by default, loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.hosts import HostError, check_host, host_from_state, resolve_host
from local_stack.state import write_state


def test_loopback_hosts_are_allowed() -> None:
    assert check_host("http://127.0.0.1:8700") == "http://127.0.0.1:8700"
    assert check_host("http://127.8.9.10") == "http://127.8.9.10"
    assert check_host("http://localhost:8700")  # resolves into 127.0.0.0/8 here


@pytest.mark.parametrize("url", ["http://10.0.0.1:80", "https://192.168.1.2",
                                 "http://[::2]:80", "http://8.8.8.8"])
def test_other_hosts_are_refused(url: str) -> None:
    with pytest.raises(HostError, match=r"outside loopback \(127.0.0.0/8, ::1.*--allow-remote"):
        check_host(url)
    assert check_host(url, allow_remote=True) == url


@pytest.mark.parametrize("url", ["127.0.0.1:8700", "ftp://127.0.0.1", "http://"])
def test_malformed_hosts(url: str) -> None:
    with pytest.raises(HostError, match="not an http"):
        check_host(url)


def test_host_from_state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_state({"urls": {"storefront": "http://127.0.0.1:5555/"}}, tmp_path)
    assert host_from_state(tmp_path) == "http://127.0.0.1:5555"
    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path))
    assert host_from_state(None) == "http://127.0.0.1:5555"
    assert resolve_host(None, None) == "http://127.0.0.1:5555"
    assert resolve_host("http://127.0.0.2:1/", None) == "http://127.0.0.2:1"


def test_no_state_file(tmp_path: Path) -> None:
    with pytest.raises(HostError, match="no --host given and no running stack"):
        host_from_state(tmp_path / "nothing")


def test_state_file_with_remote_storefront_is_refused(tmp_path: Path) -> None:
    write_state({"urls": {"storefront": "http://10.1.1.1:80"}}, tmp_path)
    with pytest.raises(HostError, match="refusing"):
        resolve_host(None, tmp_path)
