"""Contributor Insights rules, evaluated locally from log files: moto stores rules
(PutInsightRule, DescribeInsightRules, Enable/DisableInsightRules) but never evaluates them and
has no GetInsightRuleReport, so nothing would ever compute ``INSIGHT_RULE_METRIC``.

The rule definitions are read back from the CloudWatch API exactly as ``put_insight_rule``
stored them (``dashboards.cloudwatch_alarms`` defines them once), parsed with CloudWatch's
JSON rule syntax (``rule``), and applied to the log events of their log groups, which the local
stack keeps as files (``local_stack.log_groups``; ``logs`` tails them). ``report`` aggregates
the contributions per second and answers the rule metrics (MaxContributorValue,
UniqueContributors, SampleCount, Sum, Minimum, Maximum, Average) per period and the top
contributors of a time range, as GetInsightRuleReport would. ``source`` ties them together for
the alarm evaluator, which evaluates ``INSIGHT_RULE_METRIC`` alarms with it and names the top
contributors of an alarm in its StateReasonData (AWS readers call GetInsightRuleReport).

Why hand-written: no library evaluates Contributor Insights rules; the subset is small (JSON
logs, dotted ``$.`` paths, the filter operators below, Count or Sum).
"""
