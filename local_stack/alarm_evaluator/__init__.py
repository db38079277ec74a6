"""A local CloudWatch alarm evaluator: moto stores metric alarms but never evaluates them.

``python -m local_stack.alarm_evaluator [--interval 1] [--metrics-port P]`` reads every metric
alarm from the CloudWatch API at ``AWS_ENDPOINT_URL`` (loopback only), evaluates each one as the
CloudWatch user guide documents (Period, EvaluationPeriods, DatapointsToAlarm, Threshold,
ComparisonOperator, Statistic, TreatMissingData, the evaluation range and the premature-alarm
rule) and writes each state change back with ``SetAlarmState``, so ``describe_alarms`` and
``describe_alarm_history`` read the same as on AWS.

Why hand-written: moto answers PutMetricAlarm/DescribeAlarms and stores metrics, but no moto
code path ever compares metrics with an alarm, and no library reproduces CloudWatch's rules.

Modules, one job each:

* ``evaluation`` — the rules, pure functions (unit-tested row by row against the user guide);
* ``alarm_rule`` — an alarm's settings read from DescribeAlarms and validated (metric math:
  ``FILL(m, n)`` and ``INSIGHT_RULE_METRIC``, the two forms the shop's alarms use);
* ``reason`` — CloudWatch-shaped ``StateReason`` / ``StateReasonData``;
* ``datapoints`` — GetMetricData reads of each alarm's evaluation range (aligned periods);
* ``runner`` — the loop: load, evaluate, write state changes, log transitions; insight alarms
  read ``local_stack.insight_rules`` (the Contributor Insights rules, from the log files);
* ``prom`` — ``cloudwatch_alarm_state{alarm,state}`` and friends for Prometheus;
* ``moto_history`` — the patch a moto server process installs so DescribeAlarmHistory works and
  alarms start in INSUFFICIENT_DATA;
* ``__main__`` — the command line.
"""
