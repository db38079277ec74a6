"""kill-replica: SIGKILL the chosen replicas of a service and hold them down for the duration.

The hold is `<state_dir>/holds/<service>.json` = {"until": expires_at, "fault_ids": [...]};
the stack's supervisor keeps the service's dead replicas down until `until` and then replaces
them, so the fault ends on time even if the CLI is SIGKILLed. Only processes whose parent is
the stack's supervisor are ever signalled (a recycled pid is refused).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil

from chaos.context import ChaosContext
from chaos.exceptions import InjectionFailed, UnknownTarget
from chaos.faults.base import Fault, poll
from chaos.ledger import Entry
from local_stack.state import write_json_atomic
from local_stack.supervisor import pid_alive

log = logging.getLogger("chaos.faults.kill_replica")

# redis too: the supervisor replaces it like a replica (same port), and the shop must survive it
SERVICES = ("storefront", "payments", "reviews", "stream-runtime", "redis")


def hold_path(state_dir: Path, service_key: str) -> Path:
    return state_dir / "holds" / f"{service_key}.json"


def _read_hold(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


class KillReplica(Fault):
    name = "kill-replica"
    summary = "SIGKILL replicas of a service; held down for the duration (supervisor hold)"
    uses_aws = False

    def normalize(self, params: dict[str, Any]) -> dict[str, Any]:
        service = params.get("service")
        if service not in SERVICES:
            raise ValueError(f"kill-replica needs service in {SERVICES}, got {service!r}")
        self.reject_unknown(params, {"service"})
        return {"service": service}

    def candidates(self, ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
        if not ctx.has_stack:
            raise InjectionFailed("kill-replica needs a running stack (no state file)")
        try:
            replicas = ctx.replicas(params["service"])
        except KeyError as exc:
            raise UnknownTarget(exc.args[0] if exc.args else str(exc)) from exc
        return [r["name"] for r in replicas if r.get("alive") and r.get("pid")]

    def conflict_keys(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"replica:{t}" for t in targets]

    def effects(self, targets: list[str], params: dict[str, Any]) -> list[str]:
        return [f"hold {params['service']} replicas down; SIGKILL {t}" for t in targets]

    def prepare_undo(self, ctx: ChaosContext, entry: Entry) -> dict[str, Any]:
        key = ctx.service_key(entry.params["service"])
        pids = {}
        for replica in ctx.replicas(entry.params["service"]):
            if replica["name"] in entry.targets:
                if not replica.get("pid"):
                    raise InjectionFailed(f"{replica['name']} has no pid to kill")
                pids[replica["name"]] = int(replica["pid"])
        missing = set(entry.targets) - set(pids)
        if missing:
            raise InjectionFailed(f"no such replica(s): {sorted(missing)}")
        return {"hold": str(hold_path(ctx.state_dir, key)), "pids": pids}

    def inject(self, ctx: ChaosContext, entry: Entry) -> None:
        path = Path(entry.undo["hold"])
        hold = _read_hold(path)
        ids = [i for i in hold.get("fault_ids", []) if i != entry.fault_id] + [entry.fault_id]
        until = max(float(hold.get("until", 0) or 0), entry.expires_at)
        write_json_atomic(path, {"until": until, "fault_ids": ids})
        supervisor = ctx.state.get("supervisor_pid")
        for name, pid in entry.undo["pids"].items():
            try:
                proc = psutil.Process(pid)
                if supervisor and proc.ppid() != int(supervisor):
                    raise InjectionFailed(
                        f"pid {pid} ({name}) is not a child of the stack's supervisor "
                        f"{supervisor}; refusing to kill it"
                    )
                os.kill(pid, signal.SIGKILL)
                log.info("SIGKILL %s (pid %d)", name, pid)
            except (psutil.NoSuchProcess, ProcessLookupError) as exc:
                raise InjectionFailed(f"{name} (pid {pid}) was already gone") from exc

    def verify(self, ctx: ChaosContext, entry: Entry) -> None:
        for name, pid in entry.undo["pids"].items():
            if not poll(lambda p=pid: not pid_alive(p), timeout_s=5.0):
                raise InjectionFailed(f"{name} (pid {pid}) still alive 5 s after SIGKILL")
        if not Path(entry.undo["hold"]).exists() and time.time() < entry.expires_at:
            raise InjectionFailed(f"hold {entry.undo['hold']} vanished")

    def undo(self, ctx: ChaosContext, entry: Entry) -> str:
        path = Path(entry.undo.get("hold", ""))
        hold = _read_hold(path)
        if not hold:
            return f"hold {path.name} already gone; replicas are being replaced"
        others = [i for i in hold.get("fault_ids", []) if i != entry.fault_id]
        if others:
            write_json_atomic(path, {**hold, "fault_ids": others})
            return f"hold {path.name} kept for {', '.join(others)}"
        path.unlink(missing_ok=True)
        return f"removed hold {path.name}; the supervisor replaces {', '.join(entry.targets)}"


FAULTS = [KillReplica()]
