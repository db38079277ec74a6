"""The aws target: the shop deployed by `gameday aws deploy` into an account named with
`--allow-account`; the catalog is the stack's outputs (deploy.aws.catalog.endpoints), the
fault backends are chaos/faults/aws/ (each with an undo scheduled in the account before it
injects), the probes that read AWS differently are chaos/probes/aws/."""

from __future__ import annotations

from typing import Any

from chaos.targets.base import Target


def stack_catalog(ctx: Any) -> dict[str, Any]:
    return dict(ctx.catalog())


TARGET = Target(
    name="aws",
    summary="a CloudFormation stack in an AWS account (--stack, --allow-account)",
    deploy="gameday aws deploy --stack NAME --allow-account ID --image URI",
    teardown="gameday aws destroy --stack NAME --allow-account ID",
    faults_from="chaos.faults.aws", catalog_fn=stack_catalog,
    probes_from="chaos.probes.aws",
    notes=("Lambda and SQS metrics are 1-minute", "FIS Lambda actions start up to 60 s late"),
)
