"""BlockInBasket-v1 (unseen): put the block in the basket on the side the words name."""

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

DESCRIPTION = "Put the {colour} block in the basket on the {left|right}."
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
DROP_DZ = 0.005  # the block's centre 1 cm above resting on the basket's floor


def expert_plan(scene: SceneState) -> str:
    side = re.search(r"basket on the (left|right)", scene.description).group(1)
    block = next(o for o in scene.objects if o.name.startswith("block_"))
    return code_block(
        [
            bind_point("block", block),
            bind_yaw("yaw", block),
            bind_point("basket", scene.object(f"basket_{side}")),
            *pick("block", block.name, "yaw"),
            *place("basket", "yaw", DROP_DZ),
            "task_completed()",
        ]
    )
