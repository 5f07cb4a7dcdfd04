"""Simulator backends: one small interface, ManiSkill 3 first, run isolated in a child process."""

from __future__ import annotations

from models.errors import ConfigError


def make_simulator(kind: str = "maniskill", *, episode_timeout_s: float = 60.0):
    """``maniskill`` (isolated child process) or ``noop`` (benchmarks only)."""
    if kind == "maniskill":
        from manip.sim.isolated import IsolatedSimulator

        return IsolatedSimulator(episode_timeout_s=episode_timeout_s)
    if kind == "noop":
        from manip.sim.noop import NoopSimulator

        return NoopSimulator()
    raise ConfigError(f"unknown simulator {kind!r}; known: maniskill, noop")
