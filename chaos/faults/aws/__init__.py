"""The aws target's fault backends, by the same fault names as the local ones (chaos/faults/):

- kill-replica: ECS UpdateService (desiredCount lowered, mode hold) + StopTask
  (ecs_tasks.py); undone by UpdateService with the desiredCount read before;
- throttle-stream: PutFunctionConcurrency 0, or UpdateEventSourceMapping Enabled=false
  (mode mapping) (lambda_stream.py); undone by Delete/PutFunctionConcurrency or
  UpdateEventSourceMapping;
- lambda-error, lambda-latency, service-error, service-latency, dynamodb-throttle: SSM
  PutParameter of the flag the shop reads (flags.py); undone by DeleteParameter;
- esm-update: UpdateEventSourceMapping (lambda_stream.py); undone with the values read before;
- remove-alarm: DeleteAlarms / PutMetricAlarm (alarms.py); undone by PutMetricAlarm with the
  kept definition.

Every backend targets only resources tagged by the stack on the command line (tagging.py) and
schedules its undo with EventBridge Scheduler before it injects (scheduled_undo.py, base.py).
FIS is an alternative for the Lambda faults (fis.py: an experiment template generator).
"""

from __future__ import annotations

from chaos.faults.aws import alarms, ecs_tasks, flags, lambda_stream
from chaos.faults.base import Fault
from chaos.registry import Registry

FAULTS: Registry[Fault] = Registry("aws fault")
for _module in (ecs_tasks, lambda_stream, flags, alarms):
    for _fault in _module.FAULTS:
        FAULTS.register(_fault.name, _fault)
