"""A local stand-in for AWS Lambda's event source mapping (ESM) on DynamoDB Streams.

moto stores functions and event source mappings but never runs them; this package reads the
mappings from the local Lambda API and invokes the Python handlers the way the ESM does, with
its rules on failure (the stream jam, retries, record age, bisect, partial batch responses,
OnFailure destinations), parallelization, reserved concurrency and throttles, and the metrics
Lambda publishes. No library implements these semantics outside AWS, hence this code.

Modules, one job each:

* ``semantics``   the ESM rules, pure (unit-tested without moto)
* ``shard_reader`` shards, lineage, iterators, Lambda-shaped records
* ``poller``      per mapping and per shard: reading, lanes, invoking, applying the rules
* ``handlers`` / ``worker``  execution environments: handler resolution, context, env, timeout
* ``mappings``    live ESM + function configuration from the Lambda API
* ``destinations`` OnFailure records to SQS/SNS
* ``checkpoints`` shard positions, in memory or a JSON file
* ``metrics``     Prometheus /metrics and CloudWatch PutMetricData
* ``runner``      wiring, start/stop; ``__main__`` the process entry point
* ``deploy``      registering functions and mappings in moto
"""

from local_stack.stream_runtime.poller import RuntimeOptions
from local_stack.stream_runtime.runner import StreamRuntime

__all__ = ["RuntimeOptions", "StreamRuntime"]
