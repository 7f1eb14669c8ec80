"""Test doubles of external services: aiohttp servers with in-memory state.

They share the devnet's server base (request counting, scripted faults), so the doubles the tests
use and the stand-in services `make run` starts behave alike.
"""

from infra.devnet.server import DoubleServer, Fault

__all__ = ["DoubleServer", "Fault"]
