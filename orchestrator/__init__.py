"""Job-pipeline orchestrator for a Starknet-style rollup."""

from orchestrator.core.version import ORCHESTRATOR_VERSION as __version__

__all__ = ["__version__"]
