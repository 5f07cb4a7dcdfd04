"""EmptyContainer-v1: move every object out of one container into the other."""

from __future__ import annotations

import numpy as np
from mani_skill.utils.registration import register_env

from manip.sim.envs.block_world import COLOURS, BlockWorldEnv, Listed

INNER, WALL_H = 0.24, 0.04
SMALL_HALF = 0.015  # 3 cm blocks: room for open fingers between them and the walls
SLOTS = [(-0.05, -0.05), (0.05, 0.05), (-0.05, 0.05), (0.05, -0.05)]  # inside a container
FLOOR = 0.005


@register_env("EmptyContainer-v1", max_episode_steps=5000)
class EmptyContainerEnv(BlockWorldEnv):
    """Two open boxes side by side; 2-3 small blocks in the first. Success: every block is
    in the second box, released."""

    def build_objects(self) -> None:
        self.source = self.container("container_a", INNER, WALL_H, [0.6, 0.45, 0.3, 1])
        self.dest = self.container("container_b", INNER, WALL_H, [0.35, 0.35, 0.4, 1])
        self.blocks = {c: self.block(f"block_{c}", c, half=SMALL_HALF) for c in COLOURS}

    def init_objects(self) -> None:
        side = float(self.rng.choice([-1.0, 1.0]))
        x = self.rng.uniform(-0.04, 0.04, size=2)
        a = np.array([x[0], side * self.rng.uniform(0.14, 0.16)])
        b = np.array([x[1], -side * self.rng.uniform(0.14, 0.16)])
        size = (INNER + 0.02, INNER + 0.02, WALL_H)
        self.show(
            Listed("container_a", self.source, size, kind="container", symmetry_deg=90),
            *a,
            WALL_H / 2,
        )
        self.show(
            Listed("container_b", self.dest, size, kind="container", symmetry_deg=90),
            *b,
            WALL_H / 2,
        )
        n = 2 + int(self.rng.randint(0, 2))
        colours = self.pick_colours(n)
        slots = self.rng.permutation(len(SLOTS))[:n]
        self.moved = [self.blocks[c] for c in colours]
        for c, s in zip(colours, slots, strict=True):
            dx, dy = np.array(SLOTS[s]) + self.rng.uniform(-0.005, 0.005, size=2)
            z = FLOOR + SMALL_HALF  # on the floor of the container (its centre is WALL_H/2 up)
            self.show(
                Listed(f"block_{c}", self.blocks[c], (2 * SMALL_HALF,) * 3, symmetry_deg=90),
                a[0] + dx,
                a[1] + dy,
                z,
                self.yaw() / 4,
            )
        for c in COLOURS:
            if c not in colours:
                self.park(self.blocks[c], SMALL_HALF)
        self.description = "Move every block out of container_a into container_b."

    def evaluate(self):
        return self.result(
            are_blocks_in_b=all(self.inside(b, self.dest, INNER, WALL_H) for b in self.moved),
            are_blocks_released=all(self.released(b) for b in self.moved),
        )
