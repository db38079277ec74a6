"""The compose target: docker-compose.yml's containers; the catalog is the state file
`python -m local_stack.compose state` writes. Faults are the local ones, except that
kill-replica acts on containers through the Docker API (chaos/faults/compose_replica.py)."""

from __future__ import annotations

from chaos.targets.base import Target
from chaos.targets.local import state_catalog

TARGET = Target(
    name="compose",
    summary="the same services as containers (docker compose), AWS APIs from the emulator",
    deploy="docker compose up -d && python -m local_stack.compose state",
    teardown="docker compose down",
    faults_from="chaos.faults", catalog_fn=state_catalog,
)
