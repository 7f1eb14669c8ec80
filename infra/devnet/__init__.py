"""The devnet: recorded L2 blocks settled on a local L1 (anvil) through the orchestrator's real pipeline.

`python -m infra.devnet --help`; the recorded Madara node alone: `python -m infra.devnet.recorded_node`.
"""
