"""One module per task: its description, its scene extraction, and the scripted expert.

Each module has the same three names, in the same order: ``DESCRIPTION``,
``scene_objects(env)`` and ``expert_plan(scene)``. ``TASKS`` maps task ids to modules.
"""

from __future__ import annotations

from types import ModuleType

from models.errors import ConfigError
from worker.sim.tasks import (
    lift_peg_upright,
    pick_cube,
    place_sphere,
    pull_cube,
    push_cube,
    stack_cube,
)

TASKS: dict[str, ModuleType] = {
    "PickCube-v1": pick_cube,
    "PushCube-v1": push_cube,
    "PullCube-v1": pull_cube,
    "StackCube-v1": stack_cube,
    "PlaceSphere-v1": place_sphere,
    "LiftPegUpright-v1": lift_peg_upright,
}

# Robots each task can be run on here (assets from mani-skill, shared assets, or built by
# worker.sim.agents); which pairs the expert can solve is measured (README's robot table).
ROBOTS: dict[str, tuple[str, ...]] = {
    task: ("panda", "xarm6_robotiq", "xarm7_robotiq", "widowxai") for task in TASKS
}


def get_task(task: str) -> ModuleType:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[task]


def check_task_robot(task: str, robot: str) -> None:
    get_task(task)
    if robot not in ROBOTS[task]:
        raise ConfigError(
            f"task {task} does not support robot {robot!r}; it supports {', '.join(ROBOTS[task])}"
        )
