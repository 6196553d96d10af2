"""VPO: Video Policy Orchestrator."""

__version__ = "0.1.0"
