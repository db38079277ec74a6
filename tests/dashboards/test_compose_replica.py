"""kill-replica against a compose stack, through a fake Docker Engine API on loopback
(tests/dashboards/fake_docker.py): crash mode (Docker's restart policy brings the container
back), stop mode (held down, started by undo), the refusals, and the local stack path left as
it was."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed
from chaos.faults import compose_replica
from chaos.faults.injector import Injector
from chaos.ledger import UNDONE, Ledger
from local_stack.compose import compose_state
from local_stack.state import write_state
from tests.conftest import REPO, wait_until
from tests.dashboards.fake_docker import FakeDocker

PROJECT = "shop-gameday"


@pytest.fixture()
def docker(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDocker]:
    with FakeDocker() as fake:
        for n in (1, 2):
            fake.state.add(PROJECT, "storefront", n)
            fake.state.add(PROJECT, "payments", n)
        fake.state.add(PROJECT, "storefront", 3, status="exited")  # not a candidate
        fake.state.add("other-project", "storefront", 1)  # another project: never touched
        fake.state.add(PROJECT, "reviews", 1, init=False)
        monkeypatch.setenv("DOCKER_HOST", fake.host)
        yield fake


@pytest.fixture()
def ctx(tmp_path: Path) -> ChaosContext:
    write_state(compose_state(PROJECT, state_dir=tmp_path), tmp_path)
    return ChaosContext.load(tmp_path)


def _container(docker: FakeDocker, service: str, number: int, project: str = PROJECT) -> Any:
    return next(c for c in docker.state.containers.values()
                if (c.project, c.service, c.number) == (project, service, number))


def test_candidates_are_the_running_containers_of_the_project(
        docker: FakeDocker, ctx: ChaosContext) -> None:
    plan = Injector(ctx).plan("kill-replica", "ALL", {"service": "storefront"}, 5, seed=1)
    assert plan.candidates == ["storefront-1", "storefront-2"]
    assert plan.params == {"service": "storefront", "mode": "crash"}  # the default, recorded
    assert plan.effects == [f"crash container {t}: SIGKILL its processes; Docker's restart "
                            "policy restarts it" for t in plan.targets]


def test_crash_mode_restart_policy_brings_it_back(docker: FakeDocker,
                                                  ctx: ChaosContext) -> None:
    injector = Injector(ctx)
    plan = injector.plan("kill-replica", "COUNT(1)", {"service": "storefront"}, 5, seed=3)
    (target,) = plan.targets
    container = _container(docker, "storefront", int(target.rsplit("-", 1)[1]))
    before = container.started_at
    entry = injector.inject(plan)
    execs = [(m, p, b) for m, p, b in docker.state.calls if p.endswith("/exec")]
    assert len(execs) == 1 and execs[0][1] == f"/containers/{container.id}/exec"
    assert execs[0][2]["Cmd"] == compose_replica.CRASH_COMMAND
    assert entry.undo["docker"]["mode"] == "crash"
    wait_until(lambda: container.status == "running" and container.started_at != before, 10,
               what="Docker's restart policy to restart the container")
    assert container.restart_count == 1
    outcome = injector.undo(entry.fault_id, by_owner=True)
    assert outcome.status == UNDONE
    assert outcome.detail == f"{target} runs again (restarts: 1)"
    others = [c for c in docker.state.containers.values() if c is not container]
    assert all(c.restart_count == 0 for c in others)
    assert not any(p.startswith("/containers/") and p.endswith(("/kill", "/start"))
                   for _m, p, _ in docker.state.calls)  # Docker restarted it, not the fault


def test_stop_mode_holds_the_container_down_until_undo(docker: FakeDocker,
                                                       ctx: ChaosContext) -> None:
    injector = Injector(ctx)
    plan = injector.plan("kill-replica", "ALL", {"service": "payments", "mode": "stop"}, 5,
                         seed=1)
    entry = injector.inject(plan)
    kills = [(p, q) for m, p, q in docker.state.calls if p.endswith("/kill")]
    assert len(kills) == 2 and all(q == {"signal": "SIGKILL"} for _p, q in kills)
    payments = [_container(docker, "payments", n) for n in (1, 2)]
    assert all(c.status == "exited" and c.restart_count == 0 for c in payments)
    outcome = injector.undo(entry.fault_id, by_owner=True)
    assert outcome.detail == "started payments-1; started payments-2"
    assert all(c.status == "running" for c in payments)


def test_crash_without_init_does_not_land(docker: FakeDocker, ctx: ChaosContext,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compose_replica, "VERIFY_TIMEOUT_S", 1.0)
    injector = Injector(ctx)
    plan = injector.plan("kill-replica", "ALL", {"service": "reviews"}, 5, seed=1)
    with pytest.raises(InjectionFailed, match=r"reviews-1 still runs.*init: true"):
        injector.inject(plan)
    (entry,) = Ledger(ctx.state_dir).entries()
    assert entry.status == UNDONE and "injection failed" in entry.note


def test_a_remote_docker_daemon_is_refused(ctx: ChaosContext,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.1.2.3:2375")
    with pytest.raises(InjectionFailed, match="refusing the Docker daemon"):
        Injector(ctx).plan("kill-replica", "ALL", {"service": "storefront"}, 5)


def test_an_unreachable_docker_daemon_is_named(ctx: ChaosContext,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from local_stack.ports import free_port

    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    with pytest.raises(InjectionFailed, match="cannot talk to the Docker daemon"):
        Injector(ctx).plan("kill-replica", "ALL", {"service": "storefront"}, 5)


def test_bad_parameters() -> None:
    fault = compose_replica.KillReplica()
    with pytest.raises(ValueError, match="--mode must be one of"):
        fault.normalize({"service": "storefront", "mode": "pause"})
    with pytest.raises(ValueError, match="service in"):
        fault.normalize({"service": "nosuch"})
    assert fault.normalize({"service": "payments"}) == {"service": "payments"}


def test_the_local_stack_path_is_kill_replica_unchanged(tmp_path: Path) -> None:
    state = {"urls": {"aws": "http://127.0.0.1:9"}, "supervisor_pid": 1, "services": {
        "payments": {"replicas": [{"name": "payments-1", "pid": 999999, "alive": True,
                                   "port": 1}]}}}
    write_state(state, tmp_path)
    ctx = ChaosContext.load(tmp_path)
    fault = compose_replica.KillReplica()
    assert fault.candidates(ctx, {"service": "payments"}) == ["payments-1"]
    with pytest.raises(InjectionFailed, match="applies to a compose stack"):
        fault.candidates(ctx, {"service": "payments", "mode": "stop"})


def test_registered_as_kill_replica() -> None:
    from chaos.faults import get_fault

    assert isinstance(get_fault("kill-replica"), compose_replica.KillReplica)


def test_chaos_cli_kills_a_container(docker: FakeDocker, ctx: ChaosContext) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chaos", "inject", "kill-replica", "--service", "storefront",
         "--target", "COUNT(1)", "--seed", "4", "--duration", "1s",
         "--state-dir", str(ctx.state_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "injected kill-replica" in done.stdout
    restarted = [c for c in docker.state.containers.values() if c.restart_count]
    assert len(restarted) == 1 and restarted[0].service == "storefront"
