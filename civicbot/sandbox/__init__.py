"""A GitHub REST API simulator for civicbot's demo, tests and benchmarks.

It is a separate package: civicbot's harvest, store, metrics, triage and publish code never
imports it (tests/test_layout.py checks). It is reached only over HTTP, like api.github.com.
"""

from .app import Simulator
from .faults import FaultPlan, FaultRule
from .server import SandboxServer
from .world import World, WorldError

__all__ = ["FaultPlan", "FaultRule", "SandboxServer", "Simulator", "World", "WorldError"]
