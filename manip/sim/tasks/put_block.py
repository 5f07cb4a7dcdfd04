"""PutBlock-v1: put the named colour's block on the target among blocks of other colours."""

from __future__ import annotations

import re

from manip.sim.tasks.common import (
    bind_point,
    bind_yaw,
    code_block,
    listed_objects,
    pick,
    place,
)
from models.types import SceneState

DESCRIPTION = "Put the {colour} block on the target; leave the other blocks where they are."
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
PLACE_DZ = 0.026  # the block's centre over the target disc's when it rests on the table


def expert_plan(scene: SceneState) -> str:
    colour = re.search(r"Put the (\w+) block", scene.description).group(1)
    block, target = scene.object(f"block_{colour}"), scene.object("target")
    return code_block(
        [
            bind_point("block", block),
            bind_yaw("yaw", block),
            bind_point("target", target),
            *pick("block", block.name, "yaw"),
            *place("target", "yaw", PLACE_DZ),
            "task_completed()",
        ]
    )
