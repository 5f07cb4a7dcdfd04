"""RubbishInBin-v1: put the rubbish into the bin; the other items on the table stay."""

from __future__ import annotations

import numpy as np
from mani_skill.utils.building import actors
from mani_skill.utils.registration import register_env

from manip.sim.envs.block_world import COLOURS, BlockWorldEnv, Listed, parked

BIN_INNER, BIN_WALL_H = 0.14, 0.06
RUBBISH_HALF = 0.018
ITEM_RADIUS = 0.02


@register_env("RubbishInBin-v1", max_episode_steps=5000)
class RubbishInBinEnv(BlockWorldEnv):
    """A bin, a grey rubbish cube and 1-3 coloured balls. Success: the rubbish is in the bin,
    released; every ball stayed where it was."""

    def build_objects(self) -> None:
        self.bin = self.container("bin", BIN_INNER, BIN_WALL_H, [0.3, 0.3, 0.3, 1])
        self.rubbish = actors.build_cube(
            self.scene,
            half_size=RUBBISH_HALF,
            color=[0.55, 0.5, 0.45, 1],
            name="rubbish",
            initial_pose=parked(RUBBISH_HALF),
        )
        self.balls = {
            c: actors.build_sphere(
                self.scene,
                radius=ITEM_RADIUS,
                color=COLOURS[c],
                name=f"ball_{c}",
                initial_pose=parked(ITEM_RADIUS),
            )
            for c in COLOURS
        }

    def init_objects(self) -> None:
        n = 1 + int(self.rng.randint(0, 3))
        colours = self.pick_colours(n)
        bin_xy = np.array([self.rng.uniform(-0.08, 0.08), self.side(0.12, 0.2)])
        self.show(
            Listed(
                "bin",
                self.bin,
                (BIN_INNER + 0.02, BIN_INNER + 0.02, BIN_WALL_H),
                kind="container",
                symmetry_deg=90,
            ),
            *bin_xy,
            BIN_WALL_H / 2,
            self.yaw(),
        )
        spots = self.spots(n + 1, [-0.12, -0.24], [0.12, 0.24], apart=0.1, avoid=[(bin_xy, 0.17)])
        self.show(
            Listed("rubbish", self.rubbish, (2 * RUBBISH_HALF,) * 3, symmetry_deg=90),
            *spots[0],
            RUBBISH_HALF,
            self.yaw(),
        )
        for c, (x, y) in zip(colours, spots[1:], strict=True):
            self.show(Listed(f"ball_{c}", self.balls[c], (2 * ITEM_RADIUS,) * 3), x, y, ITEM_RADIUS)
        for c in COLOURS:
            if c not in colours:
                self.park(self.balls[c], ITEM_RADIUS)
        self.description = "Put the rubbish in the bin; leave the other items where they are."

    def evaluate(self):
        balls = [o.name for o in self.listing if o.name.startswith("ball_")]
        return self.result(
            is_rubbish_in_bin=self.inside(self.rubbish, self.bin, BIN_INNER, BIN_WALL_H),
            is_rubbish_released=self.released(self.rubbish),
            are_others_in_place=self.stayed(balls),
        )
