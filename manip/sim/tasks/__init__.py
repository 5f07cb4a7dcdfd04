"""One record per task, in one registry (``TASKS``).

Each task has one module here with the same three names, in the same order:
``DESCRIPTION``, ``scene_objects(env)`` and ``expert_plan(scene)`` (a ManiSkill task adds
``CAMERA`` and ``GIVEN`` for perception); for blazer's own envs,
whose words vary per episode (the colour to pick, the side), ``DESCRIPTION`` is the template
and the env says the episode's words (``env.description``). The six BLM1 tasks are
ManiSkill's; the others are blazer's own envs, one file each under ``manip.sim.envs``.

Adding a task = its env file (if it is not ManiSkill's) + its module here (the expert) + one
``Task(...)`` line below.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from manip.sim.robots import ROBOTS as ROBOT_RECORDS
from manip.sim.tasks import (
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
from models.errors import ConfigError

ALL_ROBOTS = tuple(ROBOT_RECORDS)


@dataclass(frozen=True)
class Task:
    id: str  # the gym/ManiSkill env id
    module: ModuleType  # DESCRIPTION, scene_objects(env), expert_plan(scene)
    # "train": a student may train on it; "unseen": kept out of training snapshots, for
    # evaluation on tasks never trained on
    group: str = "train"
    env: str | None = None  # blazer's own env: its module under manip.sim.envs
    robots: tuple[str, ...] = ALL_ROBOTS  # robots it runs on here
    blm1: bool = False  # one of the BLM1 paper's six (its data engine's grid)

    @property
    def description(self) -> str:
        return self.module.DESCRIPTION

    def scene_objects(self, env) -> list:
        return self.module.scene_objects(env)

    @property
    def perceivable(self) -> bool:
        """The cameras know what to look for: a blazer env lists its objects; a ManiSkill
        task's module names its visible actors (``CAMERA``) and what the instruction gives
        instead of a camera (``GIVEN``, e.g. PickCube's goal point)."""
        return bool(self.env) or hasattr(self.module, "CAMERA")

    def expert_plan(self, scene) -> str:
        return self.module.expert_plan(scene)


TASKS: dict[str, Task] = {
    t.id: t
    for t in (
        Task("PickCube-v1", pick_cube, blm1=True),
        Task("PushCube-v1", push_cube, blm1=True),
        Task("PullCube-v1", pull_cube, blm1=True),
        Task("StackCube-v1", stack_cube, blm1=True),
        Task("PlaceSphere-v1", place_sphere, blm1=True),
        Task("LiftPegUpright-v1", lift_peg_upright, blm1=True),
        Task("PutBlock-v1", put_block, env="put_block"),
        Task("StackBlocks-v1", stack_blocks, env="stack_blocks"),
        Task("RubbishInBin-v1", rubbish_in_bin, env="rubbish_in_bin"),
        Task("EmptyContainer-v1", empty_container, env="empty_container"),
        Task("InsertInPeg-v1", insert_in_peg, env="insert_in_peg"),
        Task("BlockInBasket-v1", block_in_basket, "unseen", env="block_in_basket"),
        Task("BlockOnColour-v1", block_on_colour, "unseen", env="block_on_colour"),
        Task("ClosestBasket-v1", closest_basket, "unseen", env="closest_basket"),
        # ManiSkill's, here to set our expert beside its solution; its env supports the Panda
        # (and Fetch) only
        Task("StackPyramid-v1", stack_pyramid, robots=("panda",)),
    )
}
BLM1_TASKS = tuple(t.id for t in TASKS.values() if t.blm1)
UNSEEN = tuple(t.id for t in TASKS.values() if t.group == "unseen")
GROUPS: dict[str, str] = {t.id: t.group for t in TASKS.values()}
ENV_TASKS = tuple(t.id for t in TASKS.values() if t.env)  # blazer's own envs
PERCEIVABLE = tuple(t.id for t in TASKS.values() if t.perceivable)
ROBOTS: dict[str, tuple[str, ...]] = {t.id: t.robots for t in TASKS.values()}


def describe(task: str, env) -> str:
    """The episode's instruction: the env's words for this seed (blazer's envs), or the
    module's fixed text."""
    return env.description if task in ENV_TASKS else get_task(task).description


def seen_tasks(tasks: list[str]) -> list[str]:
    return [t for t in tasks if GROUPS.get(t) != "unseen"]


def get_task(task: str) -> Task:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[task]


def check_task_robot(task: str, robot: str) -> None:
    if robot not in get_task(task).robots:
        raise ConfigError(
            f"task {task} does not support robot {robot!r}; it supports {', '.join(ROBOTS[task])}"
        )
