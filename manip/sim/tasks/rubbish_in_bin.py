"""RubbishInBin-v1: put the rubbish into the bin; the other items stay."""

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

DESCRIPTION = "Put the rubbish in the bin; leave the other items where they are."
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
DROP_DZ = 0.003  # rubbish centre 1 cm above resting on the bin's floor, from the bin's centre


def expert_plan(scene: SceneState) -> str:
    rubbish, bin_ = scene.object("rubbish"), scene.object("bin")
    return code_block(
        [
            bind_point("rubbish", rubbish),
            bind_yaw("yaw", rubbish),
            bind_point("bin", bin_),
            *pick("rubbish", "rubbish", "yaw"),
            *place("bin", "yaw", DROP_DZ),
            "task_completed()",
        ]
    )
