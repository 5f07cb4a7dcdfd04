"""PutBlock-v1: put the block of the named colour on the target, among blocks of other colours."""

from __future__ import annotations

import numpy as np
from mani_skill.utils.building import actors
from mani_skill.utils.registration import register_env

from manip.sim.envs.block_world import BLOCK_HALF, COLOURS, BlockWorldEnv, Listed, parked

TARGET_RADIUS = 0.05


@register_env("PutBlock-v1", max_episode_steps=5000)
class PutBlockEnv(BlockWorldEnv):
    """A target disc and 2-4 blocks of different colours; the description names the one to
    move. Success: that block rests on the target, released; the others stayed."""

    def build_objects(self) -> None:
        self.blocks = {c: self.block(f"block_{c}", c) for c in COLOURS}
        self.target = actors.build_red_white_target(
            self.scene,
            radius=TARGET_RADIUS,
            thickness=0.002,
            name="target",
            add_collision=False,
            body_type="kinematic",
            initial_pose=parked(0.001),
        )

    def init_objects(self) -> None:
        n = 2 + int(self.rng.randint(0, 3))  # the target block and 1-3 distractors
        colours = self.pick_colours(n)
        self.colour = colours[0]
        spots = self.spots(n + 1, [-0.12, -0.22], [0.12, 0.22], apart=0.11)
        self.show(Listed("target", self.target, (0.1, 0.1, 0.0), kind="goal"), *spots[0], 0.001)
        self.place(self.target, *spots[0], 0.001, pitch_deg=90)  # the disc's axis (x) up
        for c, (x, y) in zip(colours, spots[1:], strict=True):
            self.show(
                Listed(f"block_{c}", self.blocks[c], (0.04,) * 3, symmetry_deg=90),
                x,
                y,
                BLOCK_HALF,
                self.yaw(),
            )
        for c in COLOURS:
            if c not in colours:
                self.park(self.blocks[c])
        self.description = (
            f"Put the {self.colour} block on the target; leave the other blocks where they are."
        )

    def evaluate(self):
        block = self.blocks[self.colour]
        others = [o.name for o in self.listing if o.kind == "object" and o.actor is not block]
        on = np.linalg.norm(self.xy(block) - self.xy(self.target)) <= TARGET_RADIUS - 0.01
        return self.result(
            is_block_on_target=on and self.z(block) <= BLOCK_HALF + 0.01,
            is_block_released=self.released(block),
            is_block_static=self.static(block),
            are_others_in_place=self.stayed(others),
        )
