"""BlockOnColour-v1 (unseen): put the block on the plate of the named colour."""

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

DESCRIPTION = "Put the block on the {colour} plate."
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
PLACE_DZ = 0.03  # block centre over the plate's centre when resting on it, plus 5 mm


def expert_plan(scene: SceneState) -> str:
    colour = re.search(r"on the (\w+) plate", scene.description).group(1)
    block = scene.object("block")
    return code_block(
        [
            bind_point("block", block),
            bind_yaw("yaw", block),
            bind_point("plate", scene.object(f"plate_{colour}")),
            *pick("block", "block", "yaw"),
            *place("plate", "yaw", PLACE_DZ),
            "task_completed()",
        ]
    )
