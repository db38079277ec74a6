"""The chaos CLI against the real local stack (`gameday up` on loopback): a CLI SIGKILLed in
the middle of faults leaves nothing behind once they expire, and each default experiment passes
while its negative control FAILS. Heavy: marked `integration`, each run bounded (~60-90 s).

A part of the stack that is not there yet (the stream runtime's functions, the alarms) makes
the experiments that need it skip, saying what is missing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.context import ChaosContext
from chaos.experiments import DIRECTORY
from chaos.ledger import Ledger
from chaos.spec.loader import load_file
from reference_app.faults import FaultFlags
from tests.chaos.conftest import sigkill_after_injected, spawn_inject
from tests.conftest import REPO, RunningStack, start_stack, wait_until

pytestmark = pytest.mark.integration

RUN_TIMEOUT_S = 300  # a safety net: poison-record's control waits ~3 min


def chaos(state_dir: Path, *argv: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos", *argv, "--state-dir", str(state_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False,
    )


@pytest.fixture
def clean_stack(stack: RunningStack) -> Iterator[RunningStack]:
    """The session stack, with every fault undone after the test whatever happened."""
    stack.reload()
    try:
        yield stack
    finally:
        result = chaos(stack.state_dir, "cleanup")
        assert result.returncode == 0, result.stderr


def test_sigkilled_cli_faults_end_by_themselves(clean_stack: RunningStack) -> None:
    stack = clean_stack
    ctx = ChaosContext.load(stack.state_dir)
    flags = FaultFlags(lambda: ctx.client("ssm"), refresh_s=0.0)

    # an SSM flag: the target ignores it at its expiry (10 s: on a busy machine the CLI's
    # inject-and-verify before its "injected" line can take seconds of a shorter fault)
    sigkill_after_injected(spawn_inject(stack.state_dir, "service-error", "--service", "payments",
                                        "--duration", "10s"))
    spec = flags.active("service/payments")
    assert spec is not None, "the fault should still be in effect after the CLI died"
    wait_until(lambda: flags.active("service/payments") is None,
               spec.expires_at - time.time() + 3, what="the flag to expire")

    # a killed replica: the supervisor's hold expires and the replica is replaced
    proc = spawn_inject(stack.state_dir, "kill-replica", "--service", "payments", "--target",
                        "COUNT(1)", "--seed", "0", "--duration", "4s")
    killed_at = time.time()
    sigkill_after_injected(proc)
    ledger = Ledger(stack.state_dir)
    [entry] = [e for e in ledger.entries() if e.name == "kill-replica"]
    name = entry.targets[0]
    wait_until(lambda: [e for e in stack.events() if e["kind"] == "replaced"
                        and e["process"] == name and e["ts"] > killed_at],
               entry.expires_at - time.time() + 20, what=f"{name} to be replaced")
    wait_until(lambda: stack.replica(name)["alive"], 10, what=f"{name} alive in the state file")

    # the stack's reaper has already closed both entries of the dead CLI (they self-expired)
    wait_until(lambda: not ledger.active(), 20, what="the reaper to close the expired entries")
    result = chaos(stack.state_dir, "cleanup")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nothing left to clean up", result.stdout
    again = chaos(stack.state_dir, "cleanup")
    assert again.stdout.strip() == "nothing left to clean up"


# -- the default experiments and their negative controls ----------------------------------------


def _missing_pieces(stack: RunningStack, data: dict[str, Any]) -> str | None:
    """Why this experiment (`data`, as loaded) cannot run on this stack yet (None: it can)."""
    ctx = ChaosContext.load(stack.state_dir)
    text = json.dumps(data)
    if "shop-inventory" in text:
        try:
            ctx.client("lambda").get_function(FunctionName="shop-inventory")
        except Exception:  # noqa: BLE001
            return "the stack has no shop-inventory function (stream runtime not wired yet)"
        try:
            from chaos.probes.stream import metrics_url

            metrics_url(ctx)
        except KeyError:
            return "the stack publishes no stream runtime metrics URL yet"
    for alarm in (data.get("observe") or {}).get("alarms", []):
        found = ctx.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        if not found:
            return f"the stack defines no alarm {alarm} yet"
    return None


def _run(stack: RunningStack, experiment: Path, out: Path, control: bool) -> dict[str, Any]:
    argv = ["run", str(experiment), "--journal", str(out)] + (["--control"] if control else [])
    started = time.monotonic()
    result = chaos(stack.state_dir, *argv, timeout_s=RUN_TIMEOUT_S)
    took = time.monotonic() - started
    journal_path = out / "journal.json"
    assert journal_path.exists(), f"no journal:\n{result.stdout}\n{result.stderr[-3000:]}"
    journal = json.loads(journal_path.read_text())
    journal["_cli"] = {"code": result.returncode, "stdout": result.stdout, "took_s": took}
    return journal


EXPERIMENTS = sorted(p.name for p in DIRECTORY.glob("*.yaml"))
# Already run in CI by tests/gameday/test_gameday_e2e.py: `gameday run --quick` (these two
# experiments must pass) and `--experiments payments-breaker --no-breaker` (its control: the
# breaker checks must fail). Not run twice, to keep CI within its time budget.
COVERED_BY_GAMEDAY_TESTS = {("payments-breaker.yaml", "experiment"),
                            ("payments-breaker.yaml", "control"),
                            ("storefront-replica-killed.yaml", "experiment")}
CASES = [(name, variant) for name in EXPERIMENTS for variant in ("experiment", "control")
         if (name, variant) not in COVERED_BY_GAMEDAY_TESTS]


class FreshStacks:
    """One fresh stack per run (an experiment, then its control, each on its own): moto keeps
    every write in memory, so a long-lived stack grows slow and would make timings depend on
    what ran before; and CloudWatch's look-back for missing data lets a breaching IteratorAge
    datapoint left by the experiment alarm the control's jam alarm (seen in CI: the
    inventory-throttled control "detected" its jam 0.5 s after the fault started, from the
    experiment's datapoints). At most one is kept running."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.name: str | None = None
        self.stack: RunningStack | None = None

    def get(self, name: str, variant: str) -> RunningStack:
        key = f"{name.removesuffix('.yaml')}-{variant}"
        if self.name != key:
            self.close()
            where = self.base / key
            where.mkdir(parents=True, exist_ok=True)
            self.stack = start_stack(where)
            self.name = key
        assert self.stack is not None
        return self.stack

    def close(self) -> None:
        if self.stack is not None:
            chaos(self.stack.state_dir, "cleanup")
            self.stack.stop()
        self.stack, self.name = None, None


@pytest.fixture(scope="module")
def fresh_stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshStacks]:
    stacks = FreshStacks(tmp_path_factory.mktemp("experiments"))
    try:
        yield stacks
    finally:
        stacks.close()


def _leave_a_problem(stack: RunningStack) -> str:
    """A problem left on the stack before the experiment starts (a product whose stock no
    longer adds up: nothing in the shop repairs it), named as the audit's key names it."""
    ddb = ChaosContext.load(stack.state_dir).client("dynamodb")
    table = f"{stack.state.get('table_prefix', 'shop-')}products"
    sku = "SKU-00001"
    ddb.update_item(TableName=table, Key={"ProductId": {"S": sku}, "TranId": {"S": "0"}},
                    UpdateExpression="SET InitialQty = InitialQty + :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    return f"stock_not_conserved product {sku} off by -1"


def _audit_after(journal: dict[str, Any]) -> dict[str, Any]:
    [audit] = [a["output"] for a in journal["steady_states"]["after"]["probes"]
               if a["activity"]["name"] == "audit-clean"]
    return audit


@pytest.mark.parametrize("name, variant", CASES)
def test_default_experiment_and_its_control(name: str, variant: str, fresh_stacks: FreshStacks,
                                            tmp_path: Path) -> None:
    """The experiment passes; its negative control (protection off) FAILS, on the checks it
    names in expect-failing."""
    path = DIRECTORY / name
    data = load_file(path).data
    section = data if variant == "experiment" else data["control"]
    args = (section.get("stack") or {}).get("args") or []
    target = start_stack(tmp_path, *args) if args else fresh_stacks.get(name, variant)
    try:
        missing = _missing_pieces(target, data)
        if missing:
            pytest.skip(missing)
        # an experiment's audit judges what appeared during it, not what it found there
        audited = variant == "experiment" and "audit-clean" in json.dumps(data)
        left = _leave_a_problem(target) if audited else None
        journal = _run(target, path, tmp_path / variant, control=variant == "control")
        cli = journal["_cli"]
        if variant == "experiment":
            assert journal["outcome"] == "passed", cli["stdout"]
            assert cli["code"] == 0
            if left is not None:
                audit = _audit_after(journal)
                assert left in audit["preexisting"] and left not in audit["new"], audit
        else:
            assert journal["outcome"] in ("failed", "aborted"), cli["stdout"]
            assert not journal.get("reason"), journal["reason"]  # failed on verdicts, not setup
            assert journal["control"]["conclusive"], cli["stdout"]
            assert cli["code"] == 0, "a control that fails as it must exits 0"
    finally:
        result = chaos(target.state_dir, "cleanup")
        if target is not fresh_stacks.stack:
            target.stop()
        assert result.returncode == 0, result.stderr
