"""The `audit` probe judges what appeared since its baseline (an audit taken when the experiment
started) and lists what was already there apart: the real audit process against moto, and the
comparison itself, with its negative controls (no usable baseline, a crashed audit)."""

from __future__ import annotations

import json
import time

from chaos.context import ChaosContext
from chaos.probes.audit import compare, run_audit
from reference_app.config import Settings, TableNames
from reference_app.ddb import to_item
from reference_app.tables import create_tables
from tests.chaos.conftest import FakeStack

OLD_MS = int(time.time() - 3600) * 1000
ARGS = ["--json", "--grace-s", "30"]


def _orphan_payment(stack: FakeStack, table: str, key: str) -> None:
    stack.aws.client("dynamodb").put_item(TableName=table, Item=to_item({
        "IdempotencyKey": key, "OrderId": f"ord-{key}", "AmountCents": 100,
        "Status": "AUTHORIZED", "History": [], "CreatedAt": OLD_MS, "UpdatedAt": OLD_MS}))


def test_a_problem_already_there_is_listed_not_blamed(fake_stack: FakeStack) -> None:
    settings = Settings(aws_endpoint_url=fake_stack.aws.url, tables=TableNames("audit-"))
    create_tables(settings)
    state = json.loads((fake_stack.state_dir / "state.json").read_text())
    state["env"] = {"AWS_ENDPOINT_URL": fake_stack.aws.url, "SHOP_TABLE_PREFIX": "audit-",
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1"}
    (fake_stack.state_dir / "state.json").write_text(json.dumps(state))
    ctx = ChaosContext.load(fake_stack.state_dir)

    _orphan_payment(fake_stack, settings.tables.payments, "left-before")
    at_start = run_audit(ctx, ARGS)
    assert at_start["clean"] is False  # the stack is not clean when the experiment starts

    assert compare(at_start, at_start)["clean"] is True  # nothing appeared: clean

    _orphan_payment(fake_stack, settings.tables.payments, "during")  # appears during the run
    judged = run_audit(ctx, ARGS, baseline=at_start)
    assert judged["clean"] is False  # the check can fail: what appeared is blamed
    assert judged["new"] == ["orphan_payment payment during"]
    assert judged["preexisting"] == ["orphan_payment payment left-before"]  # listed apart
    assert judged["all_clean"] is False


def _report(*keys: str, exit_code: int | None = None) -> dict:
    return {"exit_code": (1 if keys else 0) if exit_code is None else exit_code,
            "clean": not keys, "checked_at": 1.0,
            "problems": [{"check": k.split()[0], "key": k} for k in keys]}


def test_compare_matches_problems_by_key() -> None:
    before = _report("stuck_order order o1", "stock_not_conserved product SKU-1 off by +1",
                     "orphan_payment payment p1")
    after = _report("orphan_payment payment p1", "stock_not_conserved product SKU-1 off by +3",
                    "double_charge order o2")
    out = compare(before, after)
    assert out["clean"] is False
    assert out["new"] == ["stock_not_conserved product SKU-1 off by +3", "double_charge order o2"]
    assert out["preexisting"] == ["orphan_payment payment p1"]
    assert out["resolved"] == ["stock_not_conserved product SKU-1 off by +1",
                               "stuck_order order o1"]
    assert list(out)[:4] == ["clean", "new", "preexisting", "resolved"]  # first in reports


def test_compare_excuses_nothing_without_a_usable_baseline() -> None:
    after = _report("orphan_payment payment p1")
    assert compare(after, after)["clean"] is True
    broken = {"raw": "Traceback ...", "exit_code": 2, "clean": False}
    judged = compare(broken, after)
    assert judged["clean"] is False and judged["new"] == ["orphan_payment payment p1"]
    assert "nothing is excused" in judged["baseline_note"]
    crashed = {"raw": "Traceback ...", "exit_code": 2, "clean": False}
    assert compare(_report(), crashed)["clean"] is False  # an audit that did not run
