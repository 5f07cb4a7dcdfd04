"""One module per task: its description, its scene extraction, and the scripted expert.

Each module has the same three names, in the same order: ``DESCRIPTION``,
``scene_objects(env)`` and ``expert_plan(scene)``; for blazer's own envs, whose words vary
per episode (the colour to pick, the side), ``DESCRIPTION`` is the template and the env
says the episode's words (``env.description``). ``TASKS`` maps task ids to modules; ``GROUPS`` says which tasks a student may
train on (``train``) and which are kept for evaluation on tasks never trained on
(``unseen``). The six BLM1 tasks are ManiSkill's; the others are blazer's own envs
(``worker.sim.envs``).
"""

from __future__ import annotations

from types import ModuleType

from models.errors import ConfigError
from worker.sim.envs import ENV_TASKS
from worker.sim.tasks import (
    block_in_basket,
    block_on_colour,
    closest_basket,
    empty_container,
    insert_in_peg,
    lift_peg_upright,
    pick_cube,
    place_sphere,
    pull_cube,
    push_cube,
    put_block,
    rubbish_in_bin,
    stack_blocks,
    stack_cube,
    stack_pyramid,
)

TASKS: dict[str, ModuleType] = {
    "PickCube-v1": pick_cube,
    "PushCube-v1": push_cube,
    "PullCube-v1": pull_cube,
    "StackCube-v1": stack_cube,
    "PlaceSphere-v1": place_sphere,
    "LiftPegUpright-v1": lift_peg_upright,
    "PutBlock-v1": put_block,
    "StackBlocks-v1": stack_blocks,
    "RubbishInBin-v1": rubbish_in_bin,
    "EmptyContainer-v1": empty_container,
    "InsertInPeg-v1": insert_in_peg,
    "BlockInBasket-v1": block_in_basket,
    "BlockOnColour-v1": block_on_colour,
    "ClosestBasket-v1": closest_basket,
    "StackPyramid-v1": stack_pyramid,  # ManiSkill's; here to set our expert beside its solution
}
UNSEEN = ("BlockInBasket-v1", "BlockOnColour-v1", "ClosestBasket-v1")
GROUPS: dict[str, str] = {task: "unseen" if task in UNSEEN else "train" for task in TASKS}

# Robots each task can be run on here (assets from mani-skill, shared assets, or built by
# worker.sim.agents); which pairs the expert can solve is measured (README's robot table).
ROBOTS: dict[str, tuple[str, ...]] = {
    task: ("panda", "xarm6_robotiq", "xarm7_robotiq", "widowxai") for task in TASKS
} | {"StackPyramid-v1": ("panda",)}  # ManiSkill's env supports panda (and fetch) only


def describe(task: str, env) -> str:
    """The episode's instruction: the env's words for this seed (blazer's envs), or the
    module's fixed text."""
    return env.description if task in ENV_TASKS else get_task(task).DESCRIPTION


def seen_tasks(tasks: list[str]) -> list[str]:
    return [t for t in tasks if GROUPS.get(t) != "unseen"]


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
