"""InsertInPeg-v1: put the square ring over the peg."""

from __future__ import annotations

import numpy as np
import sapien
from mani_skill.utils.registration import register_env

from manip.sim.envs.block_world import BlockWorldEnv, Listed, parked

RING_OUTER, RING_HOLE, RING_H = 0.056, 0.032, 0.02  # fits in the open hand
PEG_SIDE, PEG_H = 0.02, 0.08


@register_env("InsertInPeg-v1", max_episode_steps=5000)
class InsertInPegEnv(BlockWorldEnv):
    """A peg fixed upright on the table and a square ring (a block with a square hole) lying
    flat. Success: the ring is down the peg (its centre within the hole's clearance of the
    peg's axis, resting low on it), released and still."""

    def build_objects(self) -> None:
        material = sapien.render.RenderMaterial(base_color=[0.2, 0.5, 0.85, 1])
        builder = self.scene.create_actor_builder()
        wall = (RING_OUTER - RING_HOLE) / 2
        c = RING_HOLE / 2 + wall / 2
        for p, half in [
            ([c, 0, 0], [wall / 2, RING_OUTER / 2, RING_H / 2]),
            ([-c, 0, 0], [wall / 2, RING_OUTER / 2, RING_H / 2]),
            ([0, c, 0], [RING_HOLE / 2, wall / 2, RING_H / 2]),
            ([0, -c, 0], [RING_HOLE / 2, wall / 2, RING_H / 2]),
        ]:
            builder.add_box_collision(sapien.Pose(p), half)
            builder.add_box_visual(sapien.Pose(p), half, material=material)
        builder.initial_pose = parked(RING_H / 2)
        self.ring = builder.build(name="ring")
        peg = self.scene.create_actor_builder()
        half = [PEG_SIDE / 2, PEG_SIDE / 2, PEG_H / 2]
        peg.add_box_collision(half_size=half)
        peg.add_box_visual(
            half_size=half, material=sapien.render.RenderMaterial(base_color=[0.9, 0.6, 0.1, 1])
        )
        peg.initial_pose = parked(PEG_H / 2)
        self.peg = peg.build_kinematic(name="peg")

    def init_objects(self) -> None:
        ring_xy, peg_xy = self.spots(2, [-0.1, -0.2], [0.1, 0.2], apart=0.16)
        self.show(
            Listed("peg", self.peg, (PEG_SIDE, PEG_SIDE, PEG_H), kind="goal", symmetry_deg=90),
            *peg_xy,
            PEG_H / 2,
            self.yaw(),
        )
        self.show(
            Listed("ring", self.ring, (RING_OUTER, RING_OUTER, RING_H), symmetry_deg=90),
            *ring_xy,
            RING_H / 2,
            self.yaw(),
        )
        self.description = "Put the ring over the peg so that the peg goes through its hole."

    def evaluate(self):
        off = np.linalg.norm(self.xy(self.ring) - self.xy(self.peg))
        return self.result(
            is_ring_on_peg=off <= (RING_HOLE - PEG_SIDE) / 2 + 0.005
            and self.z(self.ring) < PEG_H / 2,
            is_ring_released=self.released(self.ring),
            is_ring_static=self.static(self.ring),
        )
