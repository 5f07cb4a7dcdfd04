"""EmptyContainer-v1: move every block from container_a into container_b."""

from __future__ import annotations

from manip.sim.tasks.common import (
    bind_point,
    bind_yaw,
    code_block,
    listed_objects,
    pick,
    place,
)
from models.types import SceneState

DESCRIPTION = "Move every block out of container_a into container_b."
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
SLOTS = [(-0.05, -0.05), (0.05, 0.05), (-0.05, 0.05), (0.05, -0.05)]  # in container_b
DROP_DZ = 0.01  # a small block's centre 1 cm above resting on the floor, from the box centre
CARRY_M = 0.08


def expert_plan(scene: SceneState) -> str:
    blocks = [o for o in scene.objects if o.name.startswith("block_")]
    lines = [bind_point("dest", scene.object("container_b"))]
    for i, block in enumerate(blocks):
        var, yaw = f"b{i + 1}", f"yaw{i + 1}"
        lines += [
            bind_point(var, block),
            bind_yaw(yaw, block),
            *pick(var, block.name, yaw),
            *place("dest", yaw, DROP_DZ, *SLOTS[i], above=CARRY_M, retreat=i < len(blocks) - 1),
        ]
    return code_block([*lines, "task_completed()"])
