"""StackBlocks-v1: stack the three blocks of the named colour into one tower."""

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

DESCRIPTION = (
    "Stack the three {colour} blocks into one tower; leave the other blocks where they are."
)
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
BLOCK_M, GAP_M, CLEAR_M = 0.04, 0.005, 0.06  # block height, release gap, clearance over the tower


def expert_plan(scene: SceneState) -> str:
    colour = re.search(r"Stack the \w+ (\w+) blocks", scene.description).group(1)
    # the tower goes up on the block farthest from the robot (largest x): a tower near the
    # arm's base gets swept by its forearm as the last block comes over it
    tower = sorted(
        (o for o in scene.objects if o.name.startswith(f"block_{colour}_")),
        key=lambda o: -o.position[0],
    )
    lines = [bind_point("base", tower[0])]
    for i, block in enumerate(tower[1:], start=1):
        var, yaw, dz = f"b{i + 1}", f"yaw{i + 1}", i * BLOCK_M + GAP_M
        lines += [
            bind_point(var, block),
            bind_yaw(yaw, block),
            *pick(var, block.name, yaw, lift=dz + CLEAR_M),
            *place("base", yaw, dz, above=CLEAR_M, retreat=True),
        ]
    return code_block([*lines, "task_completed()"])
