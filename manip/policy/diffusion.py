"""Diffusion Policy (Chi et al., RSS 2023), state-based, as ManiSkill's and LeRobot's baselines
run it: a 1-D temporal U-Net with FiLM conditioning denoises a chunk of ``pred_horizon``
actions given the last ``obs_horizon`` observations; ``act_horizon`` of them are executed
before the policy looks again. Noise schedule and sampler are diffusers' DDPM scheduler
(squared-cosine betas, ε-prediction, clipped samples), the recipe's own.

Observations and actions are scaled to [-1, 1] by their training min and max (the recipe's
"limits" normalizer); a dimension that never changed in training is held at its value.
A gripper the demonstrations only opened or closed is snapped to the nearer of their
commands: the network's value in between (-0.45 for "closed") opens the fingers enough to
drop a held cube. With ``relative`` the arm's joint targets of a chunk are learned as offsets from the joints
measured at its newest observation (the gripper stays absolute): offsets span a far smaller
range than the targets, so the same scaled error is a smaller error in radians, and one
motion looks alike wherever the cube lies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from models.errors import ConfigError

FORMAT = "blazer-diffusion-policy/1"
POLICY_BASE = "diffusion-policy"  # the registry's base_model of every policy version


@dataclass(frozen=True)
class PolicyConfig:
    obs_dim: int
    act_dim: int
    obs_horizon: int = 2
    act_horizon: int = 8
    pred_horizon: int = 16
    down_dims: tuple[int, ...] = (64, 128, 256)
    step_embed_dim: int = 64
    kernel_size: int = 5
    n_groups: int = 8
    diffusion_steps: int = 100
    actors: tuple[str, ...] = ()  # the env_states actors of its observations, in order
    task: str = ""
    robot: str = ""
    max_steps: int = 300  # closed-loop step limit: 1.5x the longest demonstration
    n_arm: int = 0  # arm joints: they lead both the observation's qpos and the action
    relative: bool = False  # arm targets learned as offsets from the measured joints
    gripper_levels: tuple[float, ...] = ()  # the demonstrations' gripper commands, if few

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyConfig:
        data = dict(data)
        for key in ("down_dims", "actors", "gripper_levels"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


class _StepEmbedding(nn.Module):
    """Sinusoidal embedding of the diffusion step."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000) / (half - 1)))
        angle = t.float()[:, None] * freq[None]
        return torch.cat([angle.sin(), angle.cos()], dim=-1)


def _conv(cin: int, cout: int, k: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(cin, cout, k, padding=k // 2), nn.GroupNorm(groups, cout), nn.Mish()
    )


class _ResBlock(nn.Module):
    """Two conv blocks; the condition scales and shifts the first one's output (FiLM)."""

    def __init__(self, cin: int, cout: int, cond_dim: int, k: int, groups: int) -> None:
        super().__init__()
        self.first, self.second = _conv(cin, cout, k, groups), _conv(cout, cout, k, groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * cout))
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        return self.second(self.first(x) * scale + shift) + self.skip(x)


class ConditionalUnet1D(nn.Module):
    def __init__(self, c: PolicyConfig) -> None:
        super().__init__()
        e, k, g = c.step_embed_dim, c.kernel_size, c.n_groups
        self.step = nn.Sequential(
            _StepEmbedding(e), nn.Linear(e, 4 * e), nn.Mish(), nn.Linear(4 * e, e)
        )
        cond = e + c.obs_dim * c.obs_horizon
        dims = [c.act_dim, *c.down_dims]
        pairs = list(zip(dims[:-1], dims[1:], strict=True))
        self.down = nn.ModuleList(
            nn.ModuleList(
                [
                    _ResBlock(cin, cout, cond, k, g),
                    _ResBlock(cout, cout, cond, k, g),
                    nn.Conv1d(cout, cout, 3, 2, 1) if i < len(pairs) - 1 else nn.Identity(),
                ]
            )
            for i, (cin, cout) in enumerate(pairs)
        )
        mid = dims[-1]
        self.mid = nn.ModuleList([_ResBlock(mid, mid, cond, k, g) for _ in range(2)])
        self.up = nn.ModuleList(
            nn.ModuleList(
                [
                    _ResBlock(2 * cout, cin, cond, k, g),
                    _ResBlock(cin, cin, cond, k, g),
                    nn.ConvTranspose1d(cin, cin, 4, 2, 1) if i < len(pairs) - 1 else nn.Identity(),
                ]
            )
            for i, (cin, cout) in enumerate(reversed(pairs[1:]))
        )
        self.out = nn.Sequential(_conv(dims[1], dims[1], k, g), nn.Conv1d(dims[1], c.act_dim, 1))

    def forward(self, sample: torch.Tensor, t: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """sample (B, H, act_dim), t (B,), obs (B, obs_horizon * obs_dim) -> noise (B, H, act_dim)."""
        cond = torch.cat([self.step(t), obs], dim=-1)
        x = sample.transpose(1, 2)
        skips = []
        for level in self.down:
            first, second, shrink = cast(nn.ModuleList, level)
            x = second(first(x, cond), cond)
            skips.append(x)
            x = shrink(x)
        for block in self.mid:
            x = block(x, cond)
        for level in self.up:
            first, second, grow = cast(nn.ModuleList, level)
            x = second(first(torch.cat([x, skips.pop()], dim=1), cond), cond)
            x = grow(x)
        return self.out(x).transpose(1, 2)


@dataclass
class Limits:
    """Min-max scaling to [-1, 1] per dimension."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Limits:
        return cls(values.min(axis=0).astype(np.float32), values.max(axis=0).astype(np.float32))

    def _span(self) -> np.ndarray:
        span = self.high - self.low
        return np.where(span > 1e-6, span, 1.0).astype(np.float32)

    def scale(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.low) / self._span() * 2 - 1).astype(np.float32)

    def unscale(self, x: np.ndarray) -> np.ndarray:
        """Back to units; a dimension that never changed in training is its one value."""
        out = (x + 1) / 2 * self._span() + self.low
        return np.where(self.high - self.low > 1e-6, out, self.low).astype(np.float32)


def noise_scheduler(config: PolicyConfig):
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=config.diffusion_steps,
        beta_schedule="squaredcos_cap_v2",
        clip_sample=True,
        prediction_type="epsilon",
    )


def to_offsets(chunks: np.ndarray, qpos: np.ndarray, n_arm: int) -> np.ndarray:
    """(N, H, act_dim) absolute targets -> the arm's as offsets from each row's ``qpos``
    (N, obs_dim); ``act`` adds them back."""
    out = np.array(chunks, dtype=np.float32)
    out[..., :n_arm] -= qpos[:, None, :n_arm]
    return out


@dataclass
class DiffusionPolicy:
    config: PolicyConfig
    net: ConditionalUnet1D
    obs_limits: Limits
    act_limits: Limits  # the demonstrations' absolute targets (what a guard checks against)
    meta: dict[str, Any] = field(default_factory=dict)  # training facts (dataset, loss, time)
    chunk_limits: Limits | None = None  # what the network's chunks scale by, if not act_limits

    def mismatch(self, task: str, robot: str, obs: np.ndarray, actors: list[str]) -> str | None:
        """Why this policy cannot act on what it sees here, or None."""
        c = self.config
        if (c.task, c.robot) != (task, robot):
            return f"this policy was trained on {c.task} with {c.robot}, not {task} with {robot}"
        if tuple(actors) != c.actors:
            return (
                f"the scene has actors {list(actors)}, the policy was trained on {list(c.actors)}"
            )
        if len(obs) != c.obs_dim:
            return (
                f"the policy reads {c.obs_dim} observation values, this build gives {len(obs)} "
                "(trained on another feature layout: train it again)"
            )
        return None

    @property
    def output_limits(self) -> Limits:
        return self.chunk_limits or self.act_limits

    @torch.no_grad()
    def act(self, history: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
        """``history`` (obs_horizon, obs_dim), oldest first -> the ``act_horizon`` actions to
        run now, (act_horizon, act_dim): the chunk's part that starts at the newest observation."""
        c = self.config
        self.net.eval()
        obs = torch.from_numpy(self.obs_limits.scale(history)).reshape(1, -1)
        sample = torch.randn((1, c.pred_horizon, c.act_dim), generator=generator)
        scheduler = noise_scheduler(c)
        scheduler.set_timesteps(c.diffusion_steps)
        for t in scheduler.timesteps:
            noise = self.net(sample, t.reshape(1), obs)
            sample = scheduler.step(noise, t, sample, generator=generator).prev_sample
        actions = self.output_limits.unscale(sample[0].numpy())
        if c.relative:
            actions[:, : c.n_arm] += history[-1][: c.n_arm]
        if c.gripper_levels:  # open or closed as demonstrated: a value between lets go
            levels = np.asarray(c.gripper_levels, np.float32)
            actions[:, -1] = levels[np.abs(actions[:, -1:] - levels).argmin(axis=1)]
        start = c.obs_horizon - 1
        return actions[start : start + c.act_horizon]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        torch.save(
            {
                "format": FORMAT,
                "config": asdict(self.config),
                "state_dict": self.net.state_dict(),
                "obs_limits": [self.obs_limits.low, self.obs_limits.high],
                "act_limits": [self.act_limits.low, self.act_limits.high],
                "chunk_limits": [self.output_limits.low, self.output_limits.high],
                "meta": self.meta,
            },
            tmp,
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> DiffusionPolicy:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=False)
        except (OSError, RuntimeError, EOFError) as exc:
            raise ConfigError(f"cannot load the policy at {path}: {exc}") from None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise ConfigError(f"{path} is not a blazer diffusion policy ({FORMAT})")
        config = PolicyConfig.from_json(saved["config"])
        net = ConditionalUnet1D(config)
        net.load_state_dict(saved["state_dict"])
        act = Limits(*saved["act_limits"])
        chunk = Limits(*saved["chunk_limits"]) if "chunk_limits" in saved else None
        return cls(config, net, Limits(*saved["obs_limits"]), act, saved["meta"], chunk)
