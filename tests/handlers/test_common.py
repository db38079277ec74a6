"""The shared handler plumbing: batch semantics (partial batch response), record parsing,
correlation-ID logging, the fault hook, lazy clients. No AWS needed."""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from reference_app.correlation import get_correlation_id
from reference_app.handlers import HANDLERS, common


def raw_record(seq: int, order_id: str, status: str, cid: str | None = None,
               old_status: str | None = None) -> dict[str, Any]:
    new: dict[str, Any] = {"OrderId": {"S": order_id}, "Status": {"S": status},
                           "AmountCents": {"N": "1250"},
                           "Items": {"L": [{"M": {"Sku": {"S": "SKU-1"}, "Qty": {"N": "2"}}}]}}
    if cid:
        new["CorrelationId"] = {"S": cid}
    ddb: dict[str, Any] = {"ApproximateCreationDateTime": 1_700_000_000.0,
                           "Keys": {"OrderId": {"S": order_id}}, "NewImage": new,
                           "SequenceNumber": str(1000 + seq), "SizeBytes": 100,
                           "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old_status:
        ddb["OldImage"] = {**new, "Status": {"S": old_status}}
    return {"eventID": f"e{seq}", "eventName": "MODIFY" if old_status else "INSERT",
            "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": ddb, "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x"}


def test_parse_record_deserialises_images() -> None:
    record = common.parse_record(raw_record(1, "o1", "RESERVED", "c1", old_status="PENDING"))
    assert record.event_name == "MODIFY" and record.sequence_number == "1001"
    assert record.new == {"OrderId": "o1", "Status": "RESERVED", "AmountCents": 1250,
                          "Items": [{"Sku": "SKU-1", "Qty": 2}], "CorrelationId": "c1"}
    assert record.old_value("Status") == "PENDING"
    assert record.created_at == 1_700_000_000.0
    assert common.default_correlation_id(record) == "c1"
    assert common.default_correlation_id(common.parse_record(raw_record(2, "o2", "X"))) == \
        "order:o2"


def test_all_records_ok_gives_an_empty_failure_list() -> None:
    seen: list[str] = []
    answer = common.run_batch({"Records": [raw_record(i, f"o{i}", "PENDING") for i in range(3)]},
                              "fn", lambda ctx: seen.append(ctx.record.keys["OrderId"]))
    assert answer == {"batchItemFailures": []}
    assert seen == ["o0", "o1", "o2"]
    assert common.run_batch({"Records": []}, "fn", lambda ctx: None) == {"batchItemFailures": []}


def test_a_later_failure_reports_it_and_the_rest() -> None:
    seen: list[str] = []

    def process(ctx: common.RecordContext) -> None:
        seen.append(ctx.record.sequence_number)
        if ctx.record.sequence_number == "1002":
            raise RuntimeError("boom")

    answer = common.run_batch({"Records": [raw_record(i, f"o{i}", "PENDING") for i in range(5)]},
                              "fn", process)
    assert answer == {"batchItemFailures": [{"itemIdentifier": s}
                                            for s in ("1002", "1003", "1004")]}
    assert seen == ["1000", "1001", "1002"]  # nothing after the failed record ran


def test_a_first_record_failure_fails_the_invocation() -> None:
    def process(ctx: common.RecordContext) -> None:
        raise RuntimeError("payments down")

    with pytest.raises(RuntimeError, match="payments down"):
        common.run_batch({"Records": [raw_record(0, "o0", "PENDING")]}, "fn", process)


def test_fault_hook_runs_before_each_record(monkeypatch: pytest.MonkeyPatch) -> None:
    hooked: list[tuple[str, str]] = []

    def fault(function_name: str, record: common.StreamRecord) -> None:
        hooked.append((function_name, record.sequence_number))
        if record.sequence_number == "1001":
            raise TimeoutError("injected")

    assert common.maybe_inject_fault("shop-inventory", common.parse_record(
        raw_record(0, "o0", "PENDING"))) is None  # the placeholder does nothing
    monkeypatch.setattr(common, "maybe_inject_fault", fault)
    answer = common.run_batch({"Records": [raw_record(i, f"o{i}", "PENDING") for i in range(2)]},
                              "shop-inventory", lambda ctx: None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "1001"}]}
    assert hooked == [("shop-inventory", "1000"), ("shop-inventory", "1001")]


def test_every_log_line_carries_the_correlation_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=common.LOGGER_NAME)
    scoped: list[str | None] = []

    def process(ctx: common.RecordContext) -> None:
        scoped.append(get_correlation_id())
        ctx.log.info("working on %s", ctx.record.keys["OrderId"])
        if ctx.record.keys["OrderId"] == "o1":
            raise ValueError("bad")

    common.run_batch({"Records": [raw_record(0, "o0", "PENDING", "cid-a"),
                                  raw_record(1, "o1", "PENDING", "cid-b")]}, "fn", process)
    assert scoped == ["cid-a", "cid-b"]  # outgoing HTTP calls forward it from here
    lines = [r for r in caplog.records if r.name == common.LOGGER_NAME]
    assert [(r.correlation_id, r.getMessage().split("]")[0]) for r in lines] == [
        ("cid-a", "[cid-a"), ("cid-b", "[cid-b"), ("cid-b", "[cid-b")]
    assert lines[-1].levelno == logging.ERROR and "1001 failed" in lines[-1].getMessage()
    assert get_correlation_id() is None


def test_handlers_are_importable_and_create_no_client_at_import() -> None:
    common.reset_process_state()
    for function_name, path in HANDLERS.items():
        module_name, _, attr = path.rpartition(".")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attr))
        assert module.FUNCTION_NAME == function_name
    assert common._clients == {} and common._settings is None


def test_records_join_the_orders_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    tracing = pytest.importorskip("reference_app.tracing")
    opened: list[tuple[str, str, str]] = []

    @contextlib.contextmanager
    def fake_segment(function_name: str, trace_header: str | None) -> Iterator[None]:
        try:
            yield
            opened.append((function_name, str(trace_header), "ok"))
        except Exception:
            opened.append((function_name, str(trace_header), "error"))
            raise

    monkeypatch.setattr(tracing, "handler_segment", fake_segment)
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    records = [raw_record(i, f"o{i}", "PENDING") for i in range(3)]
    for record in records[:2]:
        record["dynamodb"]["NewImage"]["TraceHeader"] = {"S": header}

    def process(ctx: common.RecordContext) -> None:
        if ctx.record.sequence_number == "1001":
            raise RuntimeError("fails inside the segment")

    answer = common.run_batch({"Records": records}, "shop-inventory", process)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "1001"},
                                            {"itemIdentifier": "1002"}]}
    assert opened == [("shop-inventory", header, "ok"), ("shop-inventory", header, "error")]


def test_a_broken_tracer_does_not_fail_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    tracing = pytest.importorskip("reference_app.tracing")

    def broken(function_name: str, trace_header: str | None) -> Any:
        raise ValueError("bad header")

    monkeypatch.setattr(tracing, "handler_segment", broken)
    record = raw_record(0, "o0", "PENDING")
    record["dynamodb"]["NewImage"]["TraceHeader"] = {"S": "garbage"}
    done: list[str] = []
    answer = common.run_batch({"Records": [record]}, "fn",
                              lambda ctx: done.append(ctx.record.sequence_number))
    assert answer == {"batchItemFailures": []} and done == ["1000"]


def test_each_failed_record_is_one_json_line_with_its_correlation_id(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Seed 004's detector reads these lines (the Contributor Insights rule counts them per
    correlation_id): one per failed record, a JSON object on one line, on stderr (the
    function's log stream)."""
    import json

    def process(ctx: common.RecordContext) -> None:
        if ctx.record.keys["OrderId"] == "o1":
            raise ValueError("Qty is not a number")

    records = [raw_record(0, "o0", "PENDING", "c0"), raw_record(1, "o1", "PENDING", "c1")]
    common.run_batch({"Records": records}, "shop-inventory", process)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    assert len(lines) == 1
    [line] = lines
    assert (line["event"], line["correlation_id"], line["function_name"]) == (
        "RecordFailed", "c1", "shop-inventory")
    assert (line["sequence_number"], line["error_type"], line["level"]) == (
        "1001", "ValueError", "ERROR")


def test_heartbeat_records_are_acknowledged_and_counted_not_processed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A consumer's liveness: each heartbeat it acknowledges is counted (CloudWatch
    ConsumerHeartbeats by FunctionName, sent with the batch; Prometheus
    shop_stream_heartbeats_total), and the processor never sees it."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(common, "flush_metrics", lambda: sent.append(
        dict(common._pending_metrics)) or common._pending_metrics.clear())
    heartbeat = raw_record(0, "heartbeat", "PENDING")
    heartbeat["dynamodb"]["NewImage"]["Heartbeat"] = {"N": "1"}
    before = common.HEARTBEATS.labels("shop-payment")._value.get()
    seen: list[str] = []
    common.run_batch({"Records": [heartbeat, raw_record(1, "o1", "PENDING")]}, "shop-payment",
                     lambda ctx: seen.append(ctx.record.keys["OrderId"]))
    assert seen == ["o1"]
    assert common.HEARTBEATS.labels("shop-payment")._value.get() == before + 1
    assert sent == [{("ConsumerHeartbeats", (("FunctionName", "shop-payment"),)): 1.0}]
