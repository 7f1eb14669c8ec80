"""The composition root: reads Settings, builds the clients, injects them into the services.

This is the only package that knows which implementation backs which protocol:
- `container`: `Container` (what entrypoints get) and `OwnedClients` (what it closes);
- `infrastructure`: the profile's database, queue, storage, alerts, lock, cron, and the engine;
- `rollup`: one builder per rollup client (node, prover, fact registry, settlement, DA, runners);
- `pipeline`: the layer's handlers and triggers over those clients;
- `build`: `build(settings)`, the whole wiring.
"""

from orchestrator.bootstrap.build import build, build_pipeline
from orchestrator.bootstrap.container import Container, Infrastructure, OwnedClients
from orchestrator.bootstrap.engine import engine_params
from orchestrator.bootstrap.infrastructure import build_infrastructure, visibility_timeouts
from orchestrator.bootstrap.rollup import (
    build_aggregator_runner,
    build_da,
    build_fact_registry,
    build_node,
    build_prover,
    build_settlement,
    build_snos_runner,
)

__all__ = [
    "Container",
    "Infrastructure",
    "OwnedClients",
    "build",
    "build_aggregator_runner",
    "build_da",
    "build_fact_registry",
    "build_infrastructure",
    "build_node",
    "build_pipeline",
    "build_prover",
    "build_settlement",
    "build_snos_runner",
    "engine_params",
    "visibility_timeouts",
]
