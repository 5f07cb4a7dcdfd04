"""ClosestBasket-v1 (unseen): put the fruit in the basket closest to it."""

from __future__ import annotations

import math

from manip.sim.tasks.common import (
    bind_point,
    code_block,
    listed_objects,
    pick,
    place,
)
from models.types import SceneState

DESCRIPTION = "Put the fruit in the basket closest to it."
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
GRASP_YAW = "45"  # a ball has no preferred yaw
DROP_DZ = 0.005


def expert_plan(scene: SceneState) -> str:
    fruit = scene.object("fruit")
    baskets = [o for o in scene.objects if o.name.startswith("basket_")]
    near = min(baskets, key=lambda b: math.dist(b.position[:2], fruit.position[:2]))
    return code_block(
        [
            bind_point("fruit", fruit),
            bind_point("basket", near),
            *pick("fruit", "fruit", GRASP_YAW),
            *place("basket", GRASP_YAW, DROP_DZ),
            "task_completed()",
        ]
    )
