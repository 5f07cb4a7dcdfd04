"""ClosestBasket-v1 (unseen): put the fruit in the basket closest to it."""

from __future__ import annotations

import numpy as np
from mani_skill.utils.building import actors
from mani_skill.utils.registration import register_env

from manip.sim.envs.block_world import BlockWorldEnv, Listed, parked

INNER, WALL_H = 0.12, 0.06
FRUIT_R = 0.02
BASKETS = {"red": [0.7, 0.2, 0.2, 1], "blue": [0.2, 0.3, 0.7, 1], "green": [0.2, 0.6, 0.3, 1]}
MARGIN_M = 0.04  # the closest basket is closer than the next by at least this


@register_env("ClosestBasket-v1", max_episode_steps=5000)
class ClosestBasketEnv(BlockWorldEnv):
    """A fruit (a ball) and 2-3 baskets at different distances from it. Success: the fruit
    is in the basket that was closest to it, released."""

    def build_objects(self) -> None:
        self.baskets = {
            c: self.container(f"basket_{c}", INNER, WALL_H, rgba) for c, rgba in BASKETS.items()
        }
        self.fruit = actors.build_sphere(
            self.scene,
            radius=FRUIT_R,
            color=[0.95, 0.55, 0.1, 1],
            name="fruit",
            initial_pose=parked(FRUIT_R),
        )

    def init_objects(self) -> None:
        n = 2 + int(self.rng.randint(0, 2))
        colours = [list(BASKETS)[i] for i in self.rng.permutation(len(BASKETS))[:n]]
        for _ in range(100):
            spots = self.spots(n + 1, [-0.12, -0.24], [0.12, 0.24], apart=0.17)
            d = sorted(np.linalg.norm(s - spots[0]) for s in spots[1:])
            if d[1] - d[0] >= MARGIN_M:
                break
        else:
            raise RuntimeError("no layout with one basket clearly closest to the fruit")
        fruit_xy, basket_xy = spots[0], spots[1:]
        size = (INNER + 0.02, INNER + 0.02, WALL_H)
        for c, (x, y) in zip(colours, basket_xy, strict=True):
            self.show(
                Listed(f"basket_{c}", self.baskets[c], size, kind="container", symmetry_deg=90),
                x,
                y,
                WALL_H / 2,
                self.yaw(),
            )
        for c in BASKETS:
            if c not in colours:
                self.park(self.baskets[c], WALL_H / 2)
        self.show(Listed("fruit", self.fruit, (2 * FRUIT_R,) * 3), *fruit_xy, FRUIT_R)
        near = int(np.argmin([np.linalg.norm(b - fruit_xy) for b in basket_xy]))
        self.goal = self.baskets[colours[near]]
        self.description = "Put the fruit in the basket closest to it."

    def evaluate(self):
        return self.result(
            is_fruit_in_closest_basket=self.inside(self.fruit, self.goal, INNER, WALL_H),
            is_fruit_released=self.released(self.fruit),
        )
