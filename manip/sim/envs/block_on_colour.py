"""BlockOnColour-v1 (unseen): put the block on the plate of the named colour."""

from __future__ import annotations

import numpy as np
import sapien
from mani_skill.utils.registration import register_env

from manip.sim.envs.block_world import BLOCK_HALF, COLOURS, BlockWorldEnv, Listed, parked

PLATE, PLATE_H = 0.09, 0.01


@register_env("BlockOnColour-v1", max_episode_steps=5000)
class BlockOnColourEnv(BlockWorldEnv):
    """A white block and three flat plates of different colours. Success: the block rests on
    the named plate, released; the plates are fixed."""

    def build_objects(self) -> None:
        self.plates = {}
        for c, rgba in COLOURS.items():
            b = self.scene.create_actor_builder()
            half = [PLATE / 2, PLATE / 2, PLATE_H / 2]
            b.add_box_collision(half_size=half)
            b.add_box_visual(half_size=half, material=sapien.render.RenderMaterial(base_color=rgba))
            b.initial_pose = parked(PLATE_H / 2)
            self.plates[c] = b.build_kinematic(name=f"plate_{c}")
        self.cube = self.scene.create_actor_builder()
        white = sapien.render.RenderMaterial(base_color=[0.95, 0.95, 0.95, 1])
        self.cube.add_box_collision(half_size=[BLOCK_HALF] * 3)
        self.cube.add_box_visual(half_size=[BLOCK_HALF] * 3, material=white)
        self.cube.initial_pose = parked()
        self.cube = self.cube.build(name="block")

    def init_objects(self) -> None:
        colours = self.pick_colours(3)
        self.colour = str(self.rng.choice(colours))
        spots = self.spots(4, [-0.12, -0.22], [0.12, 0.22], apart=0.13)
        for c, (x, y) in zip(colours, spots, strict=False):
            self.show(
                Listed(
                    f"plate_{c}",
                    self.plates[c],
                    (PLATE, PLATE, PLATE_H),
                    kind="goal",
                    symmetry_deg=90,
                ),
                x,
                y,
                PLATE_H / 2,
                self.yaw(),
            )
        for c in COLOURS:
            if c not in colours:
                self.park(self.plates[c], PLATE_H / 2)
        self.show(
            Listed("block", self.cube, (0.04,) * 3, symmetry_deg=90),
            *spots[3],
            BLOCK_HALF,
            self.yaw(),
        )
        self.description = f"Put the block on the {self.colour} plate."

    def evaluate(self):
        plate = self.plates[self.colour]
        on = np.linalg.norm(self.xy(self.cube) - self.xy(plate)) <= PLATE / 2
        return self.result(
            is_block_on_plate=bool(on) and self.z(self.cube) <= PLATE_H + BLOCK_HALF + 0.01,
            is_block_released=self.released(self.cube),
            is_block_static=self.static(self.cube),
        )
