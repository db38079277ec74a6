"""remove-alarm on aws (the negative controls' protection switch): the local remove_alarm.py
on alarms tagged by our stack; the scheduled undo puts the kept definition back
(`cloudwatch:putMetricAlarm` with the whole definition as its input)."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext
from chaos.faults import remove_alarm
from chaos.faults.aws import tagging
from chaos.faults.aws.base import Scheduled
from chaos.faults.aws.scheduled_undo import UndoCall


def _alarms(ctx: ChaosContext, params: dict[str, Any]) -> list[str]:
    names = remove_alarm.RemoveAlarm().candidates(ctx, params)
    found = remove_alarm.describe(ctx, names)
    client = ctx.client("cloudwatch")
    for name in names:
        tags = client.list_tags_for_resource(ResourceARN=found[name]["AlarmArn"]).get("Tags")
        tagging.require_ours(tags, str(ctx.stack), f"CloudWatch alarm {name}")
    return names


def _undo_calls(targets: list[str], params: dict[str, Any], data: dict[str, Any]
                ) -> list[UndoCall]:
    return [UndoCall("cloudwatch", "PutMetricAlarm", spec)
            for spec in (data.get("definitions") or {}).values()]


FAULTS = [Scheduled(remove_alarm.RemoveAlarm(),
                    ["cloudwatch:DescribeAlarms {target}",
                     "cloudwatch:ListTagsForResource {target}",
                     "cloudwatch:DeleteAlarms or PutMetricAlarm {target}"],
                    ["cloudwatch:PutMetricAlarm"], _undo_calls, _alarms)]
