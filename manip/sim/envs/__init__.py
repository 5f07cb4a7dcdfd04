"""blazer's own ManiSkill tasks (one env per file); ``register()`` imports the modules the task
registry names (``manip.sim.tasks.TASKS``, field ``env``), which registers their ids with
ManiSkill (once per process, in the simulator process)."""

from __future__ import annotations

import importlib


def register() -> None:
    from manip.sim.tasks import TASKS

    for task in TASKS.values():
        if task.env:
            importlib.import_module(f"manip.sim.envs.{task.env}")
