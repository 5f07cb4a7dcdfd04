"""``blazer train policy``: a Diffusion Policy (``manip.policy.diffusion``) trained on a dataset
snapshot's recorded demonstrations of one task on one robot, registered as a model version
that ``blazer eval --model policy:NAME`` runs closed loop.

The recipe is ManiSkill's state-based Diffusion Policy baseline (observation horizon 2,
action chunk 16 of which 8 are run, U-Net 64-128-256, 100 DDPM steps, AdamW 1e-4 with
weight decay 1e-6, cosine schedule with 500 warm-up steps, EMA of the weights); on a CPU the
run is fitted into a wall-clock budget (refitted every 100 iterations to the rate measured,
stopped when the time is up). Training resumes from its last checkpoint when rerun
under the same name.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sqlalchemy import select

from manip.policy.diffusion import (
    POLICY_BASE,
    ConditionalUnet1D,
    DiffusionPolicy,
    Limits,
    PolicyConfig,
    noise_scheduler,
    to_offsets,
)
from manip.policy.features import episode_observations
from models.db import session_scope
from models.errors import ConfigError
from models.orm import ModelVersion
from models.settings import get_settings
from training.datasets import get_dataset
from training.exports import recorded_demos

CHECKPOINT_EVERY_S = 120.0
REFIT_EVERY = 100  # iterations between fits of the schedule to the time left


@dataclass(frozen=True)
class PolicyTraining:
    minutes: float = 30.0  # wall-clock budget: the schedule is fitted into it, then it stops
    max_iterations: int = 30_000  # the baseline's own length, where the budget allows it
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-6
    warmup: int = 500
    ema_power: float = 0.75
    relative: bool = True  # arm targets as offsets from the measured joints (PolicyConfig)
    seed: int = 0


@dataclass
class Demonstrations:
    observations: list[np.ndarray]  # per episode (T+1, obs_dim)
    actions: list[np.ndarray]  # per episode (T, act_dim)
    task: str
    robot: str
    actors: tuple[str, ...]
    dataset_id: int

    @property
    def steps(self) -> int:
        return sum(len(a) for a in self.actions)


def load_demonstrations(dataset: str, limit: int | None = None) -> Demonstrations:
    """The snapshot's successful recorded episodes (a policy imitates what worked), which
    must all be of one task on one robot."""
    obs, acts, pairs, actors = [], [], set(), None
    with session_scope() as session:
        ds = get_dataset(session, dataset)
        for demo in recorded_demos(session, ds):
            if not demo.success:
                continue
            pairs.add((demo.task, demo.robot))
            if len(pairs) > 1:
                raise ConfigError(
                    f"dataset {dataset!r} mixes {' and '.join(sorted(map(' on '.join, pairs)))}: "
                    "a policy is trained per task and robot (dataset build --task --robot)"
                )
            data = demo.load()
            names = tuple(sorted(data.group("env_states/actors")))
            if actors is not None and names != actors:
                raise ConfigError(f"episode {demo.episode_id} has actors {names}, not {actors}")
            actors = names
            obs.append(episode_observations(data))
            acts.append(np.asarray(data.arrays["actions"], dtype=np.float32))
            if limit is not None and len(obs) >= limit:
                break
        dataset_id = ds.id
    if not obs:
        raise ConfigError(f"dataset {dataset!r} has no successful recorded episode to learn from")
    task, robot = pairs.pop()
    return Demonstrations(obs, acts, task, robot, actors or (), dataset_id)


class Windows:
    """Every (episode, step) as a training sample: the ``obs_horizon`` observations up to
    the step and the ``pred_horizon`` actions from the oldest of them, padded at the
    episode's ends with its first and last entries (the baseline's padding); with
    ``config.relative`` the arm's targets as offsets from the step's measured joints."""

    def __init__(self, demos: Demonstrations, config: PolicyConfig) -> None:
        c = config
        obs, chunks = [], []
        for o, a in zip(demos.observations, demos.actions, strict=True):
            t = np.arange(len(a))[:, None]
            obs.append(o[np.clip(t + np.arange(1 - c.obs_horizon, 1), 0, None)])
            span = np.clip(
                t + np.arange(1 - c.obs_horizon, c.pred_horizon + 1 - c.obs_horizon), 0, len(a) - 1
            )
            chunk = a[span]
            chunks.append(to_offsets(chunk, o[: len(a)], c.n_arm) if c.relative else chunk)
        raw_obs, raw_chunks = np.concatenate(obs), np.concatenate(chunks)
        self.obs_limits = Limits.of(raw_obs.reshape(-1, c.obs_dim))
        self.chunk_limits = Limits.of(raw_chunks.reshape(-1, c.act_dim))
        self.obs = torch.from_numpy(self.obs_limits.scale(raw_obs)).flatten(1)
        self.chunks = torch.from_numpy(self.chunk_limits.scale(raw_chunks))

    def __len__(self) -> int:
        return len(self.chunks)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(rows)
        return self.obs[index], self.chunks[index]


def policy_path(name: str) -> Path:
    return get_settings().data_dir / "policies" / f"{name}.pt"


def gripper_levels(commands: np.ndarray, most: int = 3) -> tuple[float, ...]:
    """The gripper commands the demonstrations used, when they are a few discrete values
    (an expert opens and closes; a teleoperator's continuous trigger is left as it is)."""
    levels = np.unique(commands)
    return tuple(float(v) for v in levels) if len(levels) <= most else ()


def _write_atomically(state: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path.with_suffix(".partial"))
    path.with_suffix(".partial").replace(path)


def train_policy(
    dataset: str,
    name: str,
    training: PolicyTraining = PolicyTraining(),
    progress: Callable[[int, int, float], None] = lambda i, n, loss: None,
    demo_limit: int | None = None,
) -> str:
    """Train, save ``<data dir>/policies/NAME.pt`` and register model version NAME."""
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    with session_scope() as session:
        if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)):
            raise ConfigError(f"model version {name!r} exists; pick another --name")
    demos = load_demonstrations(dataset, demo_limit)
    all_obs = np.concatenate(demos.observations)
    all_act = np.concatenate(demos.actions)
    longest = max(len(a) for a in demos.actions)
    config = PolicyConfig(
        obs_dim=all_obs.shape[1],
        act_dim=all_act.shape[1],
        actors=demos.actors,
        task=demos.task,
        robot=demos.robot,
        max_steps=int(1.5 * longest),
        n_arm=all_act.shape[1] - 1,  # a pd_joint_pos action: the arm's joints, then the gripper
        relative=training.relative,
        gripper_levels=gripper_levels(all_act[:, -1]),
    )
    windows = Windows(demos, config)
    torch.manual_seed(training.seed)
    rng = np.random.default_rng(training.seed)
    net = ConditionalUnet1D(config)
    ema = EMAModel(net.parameters(), power=training.ema_power)
    opt = torch.optim.AdamW(net.parameters(), lr=training.lr, weight_decay=training.weight_decay)
    noise = noise_scheduler(config)
    state_path = policy_path(name).with_suffix(".train.pt")
    done, spent, total, loss_value = 0, 0.0, training.max_iterations, float("nan")
    if state_path.exists():  # a rerun of an interrupted training goes on from its checkpoint
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        for part, owner in (("net", net), ("ema", ema), ("opt", opt)):
            owner.load_state_dict(saved[part])
        done, spent, total = saved["done"], saved["spent"], saved["total"]
        rng, loss_value = saved["rng"], saved["loss"]

    def schedule(total: int):
        """Cosine with warm-up over ``total`` iterations, moved on to iteration ``done``."""
        lr = get_scheduler(
            "cosine",
            optimizer=opt,
            num_warmup_steps=min(training.warmup, total // 10),
            num_training_steps=total,
        )
        with warnings.catch_warnings():  # stepped without an optimizer step: a fast-forward
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(done):
                lr.step()
        return lr

    lr_schedule = schedule(total)
    budget_s, last_save = training.minutes * 60, time.monotonic()
    started = time.monotonic() - spent
    timed_from, timed_at = done, time.monotonic()  # the rate is measured from here
    while done < total:
        now = time.monotonic()
        if now - started >= budget_s:  # a wall-clock limit, whatever else runs beside it
            break
        if done - timed_from == (10 if timed_from == 0 else REFIT_EVERY):
            # fit the schedule to the iterations the budget left holds at the current rate
            left = (budget_s - (now - started)) * (done - timed_from) / (now - timed_at)
            fit = max(done + 1, min(training.max_iterations, done + int(left)))
            if abs(fit - total) > 0.02 * total:
                total, lr_schedule = fit, schedule(fit)
            timed_from, timed_at = done, now
        obs, act = windows.batch(rng.integers(0, len(windows), training.batch_size))
        eps = torch.randn_like(act)
        t = torch.randint(0, config.diffusion_steps, (len(act),))
        loss = torch.nn.functional.mse_loss(net(noise.add_noise(act, eps, t), t, obs), eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
        lr_schedule.step()
        ema.step(net.parameters())
        done += 1
        value = loss.item()  # smoothed for the progress bar
        loss_value = value if math.isnan(loss_value) else 0.98 * loss_value + 0.02 * value
        if time.monotonic() - last_save > CHECKPOINT_EVERY_S and done < total:
            state: dict[str, Any] = {
                k: o.state_dict() for k, o in (("net", net), ("ema", ema), ("opt", opt))
            }
            spent = time.monotonic() - started
            state |= {"done": done, "total": total, "rng": rng, "spent": spent, "loss": loss_value}
            _write_atomically(state, state_path)
            last_save = time.monotonic()
        progress(done, total, loss_value)
    minutes = (time.monotonic() - started) / 60
    ema.copy_to(net.parameters())
    meta = {
        "dataset": dataset,
        "demos": len(demos.actions),
        "steps": demos.steps,
        "iterations": done,
        "loss": round(loss_value, 5),
        "minutes": round(minutes, 2),
    }
    act_limits = Limits.of(all_act)
    policy = DiffusionPolicy(
        config, net, windows.obs_limits, act_limits, meta, windows.chunk_limits
    )
    path = policy_path(name)
    policy.save(path)
    with session_scope() as session:
        session.add(
            ModelVersion(
                name=name,
                base_model=POLICY_BASE,
                adapter_path=str(path.resolve()),  # found from any working directory
                dataset_id=demos.dataset_id,
                hyperparameters={**asdict(training), "config": asdict(config)},
                metrics={"train": meta},
            )
        )
    state_path.unlink(missing_ok=True)
    return name
