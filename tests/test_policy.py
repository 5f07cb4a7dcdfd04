"""A policy that learns from recorded demonstrations, for real: expert PushCube episodes
recorded on the embedded default, a Diffusion Policy trained on them (interrupted and
resumed), run closed loop by `blazer eval --model policy:NAME` in the simulator child and on
the robot runtime's stand-in.

Sizes are tiny here (3 demonstrations, ~100 iterations): the tests check that each part
works and that training learns; the success rates are the README's (benchmarks/policy_table.sh).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import select

from manip.policy.diffusion import ConditionalUnet1D, DiffusionPolicy
from manip.policy.features import episode_observations
from manip.sim.isolated import sim_environment
from models.db import session_scope
from models.errors import ConfigError, NotFound
from models.orm import Episode, ModelVersion
from tests.conftest import REPO, embedded_blazer, run_cli

SPEC = """name: {name}
tasks: [{task}]
robots: [panda]
teacher: {{kind: expert}}
successes: {n}
attempt_cap: {cap}
block_size: 1
record: {{trajectory: true, cameras: []}}
"""


def record(tmp, name: str, task: str, n: int) -> None:
    spec = tmp / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, task=task, n=n, cap=n + 3))
    done = run_cli("campaign", "run", str(spec), env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """Three recorded PushCube demonstrations as dataset ``push``; one PickCube one beside
    them in ``mixed``."""
    tmp = tmp_path_factory.mktemp("policy")
    with embedded_blazer(tmp):
        record(tmp, "push-rec", "PushCube-v1", 3)
        record(tmp, "pick-rec", "PickCube-v1", 1)
        for name, sources in (("push", ["push-rec"]), ("mixed", ["push-rec", "pick-rec"])):
            flags = [f for s in sources for f in ("--from", s)]
            built = run_cli("dataset", "build", "--name", name, *flags, env=dict(os.environ))
            assert built.returncode == 0, built.stderr[-2000:]
        yield tmp


@pytest.fixture(scope="module")
def trained(demos):
    """`push-policy`, trained in two sittings: interrupted at iteration 100, then resumed."""
    from training import policy

    spec = policy.PolicyTraining(max_iterations=300, batch_size=64, lr=1e-3, warmup=10)
    seen: list[tuple[int, float]] = []

    def stop_at_100(i, total, loss):
        seen.append((i, loss))
        if i == 100:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(policy, "CHECKPOINT_EVERY_S", 0.0)
        with pytest.raises(KeyboardInterrupt):
            policy.train_policy("push", "push-policy", spec, progress=stop_at_100)
        with session_scope() as s:
            assert s.scalar(select(ModelVersion).where(ModelVersion.name == "push-policy")) is None
        assert policy.policy_path("push-policy").with_suffix(".train.pt").exists()
        resumed: list[tuple[int, float]] = []
        policy.train_policy(
            "push", "push-policy", spec, progress=lambda i, n, loss: resumed.append((i, loss))
        )
    return seen, resumed


def test_a_recording_and_the_live_env_give_the_policy_the_same_observation(demos):
    """The one feature owner: row 0 of a recorded episode is what the env shows after the
    same seed's reset, so a policy sees in closed loop what it was trained on."""
    from training.datasets import get_dataset
    from training.exports import recorded_demos

    with session_scope() as s:
        demo = next(recorded_demos(s, get_dataset(s, "push")))
        recorded = episode_observations(demo.load())
    # in a process of its own, as the simulator child runs (its Vulkan driver settings)
    code = (
        "import json, sys; from manip.sim.maniskill_backend import ManiSkillBackend; "
        "from manip.policy.features import env_observation; b = ManiSkillBackend(); "
        "b.reset(sys.argv[1], sys.argv[2], int(sys.argv[3])); "
        "o, a = env_observation(b._envs[b._current][0]); print(json.dumps([o.tolist(), a]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, demo.task, demo.robot, str(demo.seed)],
        env=sim_environment(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    obs, actors = json.loads(done.stdout.strip().splitlines()[-1])
    live = np.array(obs, dtype=np.float32)
    assert "cube" in actors and "goal_region" in actors
    n = len(actors)  # poses, then the vectors between the TCP and the actors, pair by pair
    assert recorded.shape[1] == live.shape[0] == 9 + 9 + 7 + 7 * n + 3 * (n + 1) * n // 2
    np.testing.assert_allclose(recorded[0], live, atol=1e-5)


def test_training_resumes_learns_and_registers_the_policy(trained):
    from training import policy

    seen, resumed = trained
    assert [i for i, _ in seen] == list(range(1, 101))
    assert resumed[0][0] == 101 and resumed[-1][0] == 300  # on from the checkpoint, not again
    assert resumed[-1][1] < 0.5 * seen[0][1]  # the denoising loss fell
    assert not policy.policy_path("push-policy").with_suffix(".train.pt").exists()
    with session_scope() as s:
        v = s.scalars(select(ModelVersion).where(ModelVersion.name == "push-policy")).one()
        assert v.base_model == "diffusion-policy" and v.metrics["train"]["iterations"] == 300
        assert v.metrics["train"]["demos"] == 3
    trained_policy = DiffusionPolicy.load(policy.policy_path("push-policy"))
    untrained = DiffusionPolicy(
        trained_policy.config,
        ConditionalUnet1D(trained_policy.config),
        trained_policy.obs_limits,
        trained_policy.act_limits,
    )
    demos = policy.load_demonstrations("push")
    c = trained_policy.config

    def error(p: DiffusionPolicy) -> float:
        """Mean squared error (scaled units) of its chunks against the demonstrations'."""
        errs = []
        for obs, act in zip(demos.observations, demos.actions, strict=True):
            for t in range(1, len(act) - c.act_horizon, 25):
                chunk = p.act(obs[t - 1 : t + 1], torch_generator(t))
                want = act[t : t + c.act_horizon]
                scale = p.act_limits
                errs.append(np.mean((scale.scale(chunk) - scale.scale(want)) ** 2))
        return float(np.mean(errs))

    assert error(trained_policy) < 0.5 * error(untrained)


def torch_generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


def test_train_policy_says_what_is_wrong_with_its_dataset(demos):
    from training.policy import PolicyTraining, train_policy

    tiny = PolicyTraining(max_iterations=2, batch_size=4)
    with pytest.raises(ConfigError, match="mixes PickCube-v1 on panda and PushCube-v1 on panda"):
        train_policy("mixed", "m", tiny)
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        train_policy("nope", "m", tiny)
    done = run_cli("train", "policy", "--dataset", "mixed", env=dict(os.environ))
    assert done.returncode != 0 and "a policy is trained per task and robot" in done.stderr


def test_eval_runs_the_policy_closed_loop_and_records_every_episode(trained):
    env = dict(os.environ)
    for tasks in ("PushCube-v1", "PushCube-v1,PickCube-v1"):
        done = run_cli(
            "eval", "--model", "policy:push-policy", "--tasks", tasks, "--episodes", "1", env=env
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "policy:push-policy" in done.stdout
    with session_scope() as s:
        rows = s.scalars(select(Episode).where(Episode.teacher == "policy:push-policy")).all()
        push = [e for e in rows if e.task == "PushCube-v1"]
        (pick,) = [e for e in rows if e.task == "PickCube-v1"]
        version = s.scalars(select(ModelVersion).where(ModelVersion.name == "push-policy")).one()
        metrics = version.metrics
    assert len(push) == 2 and all(e.plan is None and e.completion is None for e in push)
    assert all(e.success or e.failure_reason == "task_failed" for e in push)
    assert all(e.final_positions and e.timings["motion_s"] > 0 for e in push)
    # the same seed twice: the same episode (the sampler's noise is seeded by the episode)
    assert push[0].final_positions == push[1].final_positions
    assert pick.failure_reason == "teacher_error"
    assert "trained on PushCube-v1 with panda, not PickCube-v1" in pick.failure_detail
    assert "PushCube-v1" in metrics["eval"]


def test_the_robot_runtime_runs_the_policy_on_the_stand_in(trained):
    from manip.teachers.policy import policy_checkpoint
    from robot_runtime.policy_runner import JointGuard, deploy_policy
    from robot_runtime.sim_robot import SimRobot

    policy = DiffusionPolicy.load(policy_checkpoint("push-policy"))
    robot = SimRobot("PushCube-v1", seed=7, scene="true")
    result = deploy_policy(robot, policy, JointGuard(margin=10.0, max_jump_rad=10.0), max_steps=24)
    assert result.refused is None and result.steps == 24 and result.chunks == 3
    strict = deploy_policy(
        SimRobot("PushCube-v1", seed=7, scene="true"), policy, JointGuard(10.0, 0.0)
    )
    assert strict.steps == 0 and "rad from the measured joints" in strict.refused
    done = run_cli(
        "robot",
        "run",
        "--model",
        "policy:push-policy",
        "--task",
        "PushCube-v1",
        "--seed",
        "7",
        env=dict(os.environ),
    )
    out = json.loads(done.stdout)
    assert done.returncode == (0 if out["success"] else 1)
    assert out["chunks"] >= 1 and (out["steps"] > 0 or out["refused"])
    wrong = run_cli("robot", "run", "--model", "policy:nope", env=dict(os.environ))
    assert wrong.returncode != 0 and "no policy named 'nope'" in wrong.stderr


def test_scaling_holds_a_constant_dimension_and_the_guard_fails_closed():
    """A dimension that never changed in training (PushCube's closed gripper) comes back as
    its one value whatever the network says; the joint guard refuses out-of-range targets
    and jumps before anything moves."""
    from manip.policy.diffusion import Limits, PolicyConfig
    from robot_runtime.policy_runner import JointGuard

    values = np.array([[0.0, 2.0, -1.0], [1.0, 4.0, -1.0]], np.float32)
    limits = Limits.of(values)
    np.testing.assert_allclose(limits.unscale(limits.scale(values)), values, atol=1e-6)
    np.testing.assert_allclose(limits.unscale(np.array([0.3, 0.3, 0.9], np.float32))[2], -1.0)
    config = PolicyConfig(obs_dim=3, act_dim=3)
    policy = DiffusionPolicy(config, ConditionalUnet1D(config), limits, limits)
    guard = JointGuard(margin=0.05, max_jump_rad=0.5)
    qpos = np.array([0.5, 3.0])
    assert guard.check(policy, qpos, np.array([0.6, 3.2, -1.0], np.float32)) is None
    assert "outside the demonstrations' range" in guard.check(
        policy, qpos, np.array([1.2, 3.0, -1.0], np.float32)
    )
    assert "rad from the measured joints" in guard.check(
        policy, qpos, np.array([0.5, 3.9, -1.0], np.float32)
    )


def test_relative_windows_give_back_the_demonstrated_targets():
    """With offsets the network learns the arm's targets minus the measured joints; added
    back to the joints they are the demonstration's targets, and the gripper is untouched."""
    from manip.policy.diffusion import PolicyConfig
    from training.policy import Demonstrations, Windows

    rng = np.random.default_rng(0)
    obs = rng.normal(size=(11, 6)).astype(np.float32)  # qpos (2 arm + 1 finger) leads
    act = rng.normal(size=(10, 3)).astype(np.float32)  # 2 arm targets, then the gripper
    demos = Demonstrations([obs], [act], "T", "r", (), 0)
    config = PolicyConfig(obs_dim=6, act_dim=3, pred_horizon=4, n_arm=2, relative=True)
    windows = Windows(demos, config)
    rows, chunks = windows.batch(np.arange(10))
    offsets = windows.chunk_limits.unscale(chunks.numpy())
    t = 5  # the window of step 5: actions 4..7, offsets from the joints at step 5
    np.testing.assert_allclose(offsets[t, :, :2] + obs[t, :2], act[4:8, :2], atol=1e-5)
    np.testing.assert_allclose(offsets[t, :, 2], act[4:8, 2], atol=1e-5)
    scaled_obs = rows.reshape(10, 2, 6)[t].numpy()
    np.testing.assert_allclose(windows.obs_limits.unscale(scaled_obs), obs[4:6], atol=1e-5)
    absolute = Windows(demos, PolicyConfig(obs_dim=6, act_dim=3, pred_horizon=4, n_arm=2))
    got = absolute.chunk_limits.unscale(absolute.batch(np.arange(10))[1].numpy())
    np.testing.assert_allclose(got[0], act[[0, 0, 1, 2]], atol=1e-5)  # padded at the start


def test_a_demonstrated_open_or_close_is_what_the_policy_commands():
    """Between the two gripper commands an expert used, the network's value is snapped to
    the nearer one (a half-closed command drops the cube); a continuous one is kept."""
    import torch

    from manip.policy.diffusion import Limits, PolicyConfig
    from training.policy import gripper_levels

    assert gripper_levels(np.array([1.0, -1.0, 1.0, -1.0])) == (-1.0, 1.0)
    assert gripper_levels(np.linspace(-1, 1, 50)) == ()
    config = PolicyConfig(obs_dim=3, act_dim=3, n_arm=2, gripper_levels=(-1.0, 1.0))
    limits = Limits(np.full(3, -1, np.float32), np.full(3, 1, np.float32))
    policy = DiffusionPolicy(config, ConditionalUnet1D(config), limits, limits)
    chunk = policy.act(np.zeros((2, 3), np.float32), torch.Generator().manual_seed(0))
    assert set(chunk[:, -1].tolist()) <= {-1.0, 1.0}
    free = DiffusionPolicy(PolicyConfig(obs_dim=3, act_dim=3), policy.net, limits, limits)
    values = free.act(np.zeros((2, 3), np.float32), torch.Generator().manual_seed(0))[:, -1]
    assert not set(values.tolist()) <= {-1.0, 1.0}  # the raw values lie in between


def test_a_policy_refuses_an_observation_of_another_layout():
    """A checkpoint trained on another feature layout says so instead of acting on it."""
    from manip.policy.diffusion import Limits, PolicyConfig

    config = PolicyConfig(obs_dim=3, act_dim=3, actors=("cube",), task="T", robot="r")
    limits = Limits(np.zeros(3, np.float32), np.ones(3, np.float32))
    policy = DiffusionPolicy(config, ConditionalUnet1D(config), limits, limits)
    assert policy.mismatch("T", "r", np.zeros(3), ["cube"]) is None
    assert "train it again" in policy.mismatch("T", "r", np.zeros(5), ["cube"])
    assert "actors ['goal']" in policy.mismatch("T", "r", np.zeros(3), ["goal"])
    assert "not U with r" in policy.mismatch("U", "r", np.zeros(3), ["cube"])
