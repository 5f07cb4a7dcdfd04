"""InsertInPeg-v1: put the square ring over the peg.

The ring (5.6 cm) fits in the open hand: the fingers close on its outer walls with the hand
over its hole, so the peg can rise between the fingers while the ring is lowered onto it."""

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

DESCRIPTION = "Put the ring over the peg so that the peg goes through its hole."
scene_objects = listed_objects  # the env lists what it placed; its words vary per seed
ON_PEG_M = 0.02  # let go with the ring's centre this far above the peg's: 2 cm down the peg
CLEAR_M = 0.06  # carried this much higher, its bottom clear of the peg's top


def expert_plan(scene: SceneState) -> str:
    ring, peg = scene.object("ring"), scene.object("peg")
    return code_block(
        [
            bind_point("ring", ring),
            bind_yaw("yaw", ring),
            bind_point("peg", peg),
            *pick("ring", "ring", "yaw"),
            *place("peg", "yaw", ON_PEG_M, above=CLEAR_M, retreat=True),
            "task_completed()",
        ]
    )
