"""BlockInBasket-v1 (unseen): put the block in the left or the right basket, as told."""

from __future__ import annotations

from mani_skill.utils.registration import register_env

from manip.sim.envs.block_world import BLOCK_HALF, COLOURS, BlockWorldEnv, Listed

INNER, WALL_H = 0.12, 0.06


@register_env("BlockInBasket-v1", max_episode_steps=5000)
class BlockInBasketEnv(BlockWorldEnv):
    """A block and two baskets, one on the robot's left (+y), one on its right. The words
    decide which: success = the block in the named basket, released."""

    def build_objects(self) -> None:
        self.left = self.container("basket_left", INNER, WALL_H, [0.55, 0.4, 0.25, 1])
        self.right = self.container("basket_right", INNER, WALL_H, [0.55, 0.4, 0.25, 1])
        self.blocks = {c: self.block(f"block_{c}", c) for c in COLOURS}

    def init_objects(self) -> None:
        size = (INNER + 0.02, INNER + 0.02, WALL_H)
        xs = self.rng.uniform(-0.06, 0.06, size=3)
        self.show(
            Listed("basket_left", self.left, size, kind="container", symmetry_deg=90),
            xs[0],
            self.rng.uniform(0.17, 0.22),
            WALL_H / 2,
            self.yaw(),
        )
        self.show(
            Listed("basket_right", self.right, size, kind="container", symmetry_deg=90),
            xs[1],
            -self.rng.uniform(0.17, 0.22),
            WALL_H / 2,
            self.yaw(),
        )
        (colour,) = self.pick_colours(1)
        self.block_actor = self.blocks[colour]
        self.show(
            Listed(f"block_{colour}", self.block_actor, (0.04,) * 3, symmetry_deg=90),
            xs[2],
            self.rng.uniform(-0.06, 0.06),
            BLOCK_HALF,
            self.yaw(),
        )
        for c in COLOURS:
            if c != colour:
                self.park(self.blocks[c])
        self.goal_side = str(self.rng.choice(["left", "right"]))
        self.description = f"Put the {colour} block in the basket on the {self.goal_side}."

    def evaluate(self):
        basket = self.left if self.goal_side == "left" else self.right
        return self.result(
            is_block_in_basket=self.inside(self.block_actor, basket, INNER, WALL_H),
            is_block_released=self.released(self.block_actor),
        )
