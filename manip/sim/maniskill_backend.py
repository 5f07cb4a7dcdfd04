"""ManiSkill 3 backend: CPU physics, state observations, primitives via mplib motion planning.

Runs inside the simulator child process (``manip.sim.server``); the worker talks to it
through ``manip.sim.isolated.IsolatedSimulator`` so a crash or hang costs one episode.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from manip.plan_language import CloseGripper, Move, OpenGripper, Step, TaskCompleted
from manip.sim import agents, envs
from manip.sim.assets import setup_assets
from manip.sim.base import ExecutionResult, SimConfig, StepOutcome
from manip.sim.recorder import CameraError, EpisodeRecorder, camera_sensors
from manip.sim.robots import Robot, get_robot
from manip.sim.tasks import Task, check_task_robot, describe, get_task
from models.errors import ConfigError
from models.frames import gripper_quat, yaw_of_quat
from models.types import FailureReason, RecordSpec, SceneState

log = logging.getLogger(__name__)

MAX_EPISODE_STEPS = 5000
GRIPPER_STEPS = 6  # sim steps to open or close, as ManiSkill's solutions use
CONVERGE_STEPS = 15  # extra steps at a move's end for the arm to catch up
SETTLE_STEPS = 40  # idle steps after the plan for the scene to come to rest
SETTLE_CHECK_EVERY = 5
RRT_PLANNING_TIME_S = 1.0
REACH_TOLERANCE_M = 0.02
FINGERTIP_CLEARANCE_M = 0.005  # a deeper grasp (Robot.pads_behind_tcp_m) stops this high
SCREW_QPOS_STEP = 0.1


def _point(v, digits: int) -> tuple[float, float, float]:
    return (round(float(v[0]), digits), round(float(v[1]), digits), round(float(v[2]), digits))


def _render_backend() -> str:
    """ManiSkill asks for a CUDA renderer by default and warns on every env without one."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def _return_freed_heap() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim); elsewhere a no-op."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _freeze_long_lived() -> None:
    """Move every object alive now (modules, torch, the env and its planner) out of the
    garbage collector's sight: a full collection (ManiSkill runs one at every scene rebuild)
    then walks only what came after, not the process's ~300,000 long-lived objects."""
    gc.collect()
    gc.freeze()


def fresh_physics(env) -> None:
    """Move every entity of a ManiSkill CPU scene into a new PhysX system, same config, same
    order, before an episode. A reused PhysX scene keeps state from the episodes before
    (the order of its contact pairs, islands and constraint arrays follows its history), so
    the same seed and plan re-run after other episodes ends up to ~1 mm elsewhere (a verdict
    can flip); in a new system it is the same, bit for bit, whatever ran before, as in a
    new env. Articulations, actors, cameras and lights are the same objects (the render
    system is kept); it costs ~1 ms, where ManiSkill's full rebuild (``reconfigure``) cost
    ~60-80 ms. Scenes on the GPU (one system for many sub-scenes) are left as they are."""
    import sapien
    from sapien import physx

    scene = env.unwrapped.scene
    old = scene.sub_scenes[0]
    px = old.physx_system
    if len(scene.sub_scenes) != 1 or not isinstance(px, physx.PhysxCpuSystem):
        return
    entities = list(old.entities)
    default = physx.get_scene_config()
    physx.set_scene_config(px.config)
    try:
        new_px = physx.PhysxCpuSystem()
    finally:
        physx.set_scene_config(default)
    new_px.timestep = px.timestep
    new_px.scene_collision_id = px.scene_collision_id
    for entity in entities:
        old.remove_entity(entity)
    render = old.render_system if _has_render_system(old) else None
    new = sapien.Scene([new_px] + ([render] if render is not None else []))
    for entity in entities:
        new.add_entity(entity)
    scene.sub_scenes[0] = new
    scene.px = new_px


@functools.cache
def _planner_seeders() -> tuple[Any, Any] | None:
    """OMPL's ``RNG::setSeed`` (in the libompl mplib bundles; mplib 0.1 has no Python call
    for it) and libc's ``srand`` (pinocchio's random IK restarts draw from ``std::rand``);
    None where that library is not found."""
    import glob

    import mplib

    found = glob.glob(str(Path(mplib.__file__).parent.parent / "mplib.libs" / "libompl*.so*"))
    try:
        ompl = ctypes.CDLL(found[0])
        return ompl._ZN4ompl3RNG7setSeedEm, ctypes.CDLL("libc.so.6").srand
    except (IndexError, OSError, AttributeError):
        log.debug("OMPL's seed is out of reach: a move planned by RRT may not re-run the same")
        return None


def seed_planner(seed: int) -> None:
    """Seed the motion planner's random draws from the episode's seed. A move the screw
    planner cannot make falls back to RRTConnect with IK restarts, both random; OMPL hands
    each new sampler a seed from one process-wide sequence, reseeded here, so the same
    episode plans the same path whatever ran before (measured: LiftPegUpright, 100 held-out
    seeds in two orders, the one RRT episode that drifted 4.2 mm now identical)."""
    if (seeders := _planner_seeders()) is not None:
        set_seed, srand = seeders
        set_seed(ctypes.c_ulong(seed % 2**31 + 1))  # OMPL ignores 0
        srand(ctypes.c_uint(seed % 2**31))


def _table_top(u) -> float:
    """Height of the table's top (ManiSkill's table scene; blazer's envs build the same)."""
    table = u.table_scene
    return float(table.table.pose.p[0, 2]) + float(table.table_height)


def _false_checks(checks: dict[str, bool]) -> str:
    """ ": is_obj_placed, is_robot_static false" (the parts of a failed check), or ""."""
    failed = [k for k, v in checks.items() if k != "success" and not v]
    return f": {', '.join(failed)} false" if failed else ""


@functools.lru_cache(maxsize=2)
def _load_policy(path: str):
    """A policy checkpoint, loaded once per simulator process (evaluation runs many seeds)."""
    from manip.policy.diffusion import DiffusionPolicy

    return DiffusionPolicy.load(path)


def _has_render_system(scene) -> bool:
    try:
        return scene.render_system is not None
    except Exception:  # sapien raises when the scene was made without one
        return False


def step_without_evaluate(env, action: np.ndarray) -> None:
    """One control step of a ManiSkill env without the task evaluation ``env.step`` runs after
    every step for its info. Verdicts come from one ``evaluate()`` when the plan is done, and
    that per-step evaluation is ~40% of ManiSkill's own solve() time (bench_expert.py). The
    same actions give the same states, bit for bit (a test compares them with env.step's)."""
    env._step_action(action)
    env._elapsed_steps += 1


class ManiSkillBackend:
    """One env and planner per (task, robot), reused across seeds."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig.from_settings()
        setup_assets(self.config)
        import gymnasium as gym
        import mani_skill.envs  # noqa: F401  (registers the tasks)

        agents.register()
        envs.register()
        self._gym = gym
        # (task, robot, agent uid, image size, renderer) -> (env, planner or None)
        self._envs: dict[tuple, tuple] = {}
        self._current: tuple | None = None
        self._seed: int | None = None
        self._steps = 0  # control steps since the last env.reset
        self._arm_target: np.ndarray | None = None  # the last move's final joint targets
        self._task: Task | None = None
        self._recorder: EpisodeRecorder | None = None
        self._record: RecordSpec | None = None

    # lifecycle ------------------------------------------------------------------------------
    def _env(self, task: str, robot: str, record: RecordSpec | None = None, render: bool = False):
        """One env per (task, agent, image size, renderer): a recording run with a wrist
        camera uses the robot's ``*_wristcam`` agent (same arm, a camera on the hand). Only
        an env that records or perceives gets a renderer: without one it holds ~70 MB less."""
        wrist = record is not None and "wrist" in record.cameras
        uid = get_robot(robot).wristcam if wrist else robot
        size = record.image_size if record is not None and record.cameras else None
        render = render or record is not None  # a recording's replay may render a video
        key = (task, robot, uid, size, render)
        if key not in self._envs:
            check_task_robot(task, robot)
            if missing := agents.missing_asset(robot):
                raise ConfigError(missing)
            extra: dict[str, Any] = (
                {"sensor_configs": {"width": size, "height": size}} if size else {}
            )
            try:
                env = self._gym.make(
                    task,
                    obs_mode="none",  # poses come from the actors; cameras render on demand
                    reward_mode="none",  # verdicts come from evaluate(); a dense reward per step cost ~15%
                    control_mode="pd_joint_pos",
                    robot_uids=uid,
                    render_mode=None,
                    render_backend=_render_backend() if render else "none",
                    max_episode_steps=MAX_EPISODE_STEPS,
                    **extra,
                )
            except RuntimeError as exc:
                if "vk::" in str(exc) or "Vulkan" in str(exc):
                    raise CameraError(
                        f"camera could not render: no Vulkan device ({exc}); install the CPU "
                        "driver with scripts/install_vulkan.sh or set VK_ICD_FILENAMES"
                    ) from None
                raise
            self._envs[key] = (env, None)
        return key

    def _planner(self, key):
        env, planner = self._envs[key]
        if planner is None:
            import mplib

            agent = env.unwrapped.agent
            robot = agent.robot
            planner = mplib.Planner(
                urdf=agent.urdf_path,
                srdf=agent.urdf_path.replace(".urdf", ".srdf"),
                user_link_names=[link.get_name() for link in robot.get_links()],
                user_joint_names=[j.get_name() for j in robot.get_active_joints()],
                move_group=get_robot(key[1]).move_group,
            )
            self._envs[key] = (env, planner)
            _return_freed_heap()  # building the env and its planner leaves ~14 MB of it free
            _freeze_long_lived()
        return planner

    def reset(
        self,
        task: str,
        robot: str,
        seed: int,
        record: RecordSpec | None = None,
        render: bool = False,
    ) -> SceneState:
        key = self._env(task, robot, record, render)
        env, _ = self._envs[key]
        planner = self._planner(key)
        # The rollout resets a seed for its scene, then again before executing the plan; when
        # nothing stepped the env in between, it is still in that seed's initial state
        if not (self._current == key and self._seed == int(seed) and self._steps == 0):
            if self.config.fresh_physics:  # the episode: a function of its row alone
                fresh_physics(env)
                seed_planner(int(seed))
            env.reset(seed=int(seed))
            base = env.unwrapped.agent.robot.pose
            planner.set_base_pose(np.hstack([base.p[0].numpy(), base.q[0].numpy()]))
        self._current = key
        self._task = get_task(task)
        self._robot: Robot = get_robot(robot)
        self._gripper = self._robot.gripper_open
        self._arm_target = None
        self._steps = 0
        self._seed = int(seed)
        self._recorder = None
        if record is not None:
            self._recorder = EpisodeRecorder(
                env, record, camera_sensors(env, record), len(planner.joint_vel_limits)
            )  # its first state is taken when execute starts: a scene-only reset renders nothing
        return self.scene_state(task, robot, seed)

    def close(self) -> None:
        for env, _ in self._envs.values():
            env.close()
        self._envs.clear()

    # perception -----------------------------------------------------------------------------
    def perceive(
        self, segmenter: str = "blocks", size: int | None = None, drop: tuple[str, ...] = ()
    ):
        """The current scene as three calibrated RGB-D cameras see it (``manip.perception``);
        the truth stays with the simulator. Returns (perceived scene, report)."""
        from manip.perception.pipeline import perceive
        from manip.perception.segmenters import make_segmenter
        from manip.sim.perception_rig import capture, expected_objects, given_objects

        if self._current is None:
            raise ConfigError("perceive needs a reset scene first")
        if not self._current[-1]:  # built without a renderer: the same seed in one that has one
            if self._steps:
                raise ConfigError("perceive needs the scene as reset, before any step")
            self.reset(self._current[0], self._current[1], self._seed, render=True)
        env, _ = self._envs[self._current]
        size = size or self.config.perception_image_size
        seg = make_segmenter(segmenter)
        assert self._task is not None
        frames, render_s = capture(env, self._task, size, drop)
        expected, _ = expected_objects(env, self._task)
        given = tuple(given_objects(env, self._task))
        result = perceive(frames, expected, seg)
        truth = self.scene_state(self._current[0], self._current[1], self._seed)
        report = {
            "segmenter": seg.name,
            "views": [f.name for f in frames],
            "table_z": result.table_z,
            "objects": {n: o.to_json() for n, o in result.objects.items()},
            "missing": result.missing,
            "given": {o.name: {"position": list(o.position), "size": list(o.size)} for o in given},
            "symmetry": {e.name: e.symmetry_deg for e in expected},
            "timings": {"render_s": round(render_s, 4), **result.timings},
        }
        return result.scene(truth, expected, given), report

    # scene ----------------------------------------------------------------------------------
    def scene_state(self, task: str, robot: str, seed: int) -> SceneState:
        env, _ = self._envs[self._current]
        u = env.unwrapped
        tcp = u.agent.tcp.pose
        table = u.table_scene
        top = _table_top(u)
        tx, ty = float(table.table.pose.p[0, 0]), float(table.table.pose.p[0, 1])
        bx, by = (float(v) for v in u.agent.robot.pose.p[0, :2])
        reach = get_robot(robot).reach_m
        lo = (
            max(tx - table.table_length / 2, bx),
            max(ty - table.table_width / 2, by - reach),
            top,
        )
        hi = (
            min(tx + table.table_length / 2, bx + reach),
            min(ty + table.table_width / 2, by + reach),
            top + 0.6,
        )
        p = tcp.p[0].tolist()
        return SceneState(
            task=task,
            robot=robot,
            seed=int(seed),
            description=describe(task, u),
            objects=tuple(self._task.scene_objects(u)),
            ee_position=(round(p[0], 4), round(p[1], 4), round(p[2], 4)),
            ee_yaw_deg=round(yaw_of_quat(tcp.q[0].tolist()), 2),
            gripper_open=True,
            workspace_min=_point(lo, 3),
            workspace_max=_point(hi, 3),
            table_height=round(top, 4),
        )

    # execution ------------------------------------------------------------------------------
    def execute(self, steps: list[Step]) -> ExecutionResult:
        return self._episode(lambda: self._execute(steps))

    def run_policy(self, path: str) -> ExecutionResult:
        """Run a learned policy (``manip.policy``) closed loop from the reset scene: it looks
        at the state every ``act_horizon`` steps and acts, until the task's check passes
        (asked after each chunk) or its step limit."""
        return self._episode(lambda: self._drive(_load_policy(path)))

    def policy_observation(self) -> tuple[list[float], list[str]]:
        """The state a learned policy sees now (``manip.policy.features``), for a policy
        driven from outside (``robot_runtime``'s stand-in), and its actor names."""
        from manip.policy.features import env_observation

        env, _ = self._envs[self._current]
        obs, actors = env_observation(env)
        return obs.tolist(), actors

    def command(self, action: list[float]) -> dict[str, bool]:
        """One control step with a pd_joint_pos action (arm targets, then the gripper); the
        task's check after it."""
        self._gripper = float(action[-1])
        if not self._step(np.asarray(action, dtype=np.float32)):
            raise ConfigError(f"the episode's step limit ({MAX_EPISODE_STEPS}) is reached")
        return self._evaluate()

    def _episode(self, run: Callable[[], ExecutionResult]) -> ExecutionResult:
        try:
            result = run()
        except CameraError as exc:  # the run cannot be recorded as asked: say so, keep going
            self._recorder = None
            return ExecutionResult(
                success=False,
                failure_reason=FailureReason.SIM_ERROR,
                detail=str(exc),
                sim_steps=self._steps,
                record_error=str(exc),
            )
        if self._recorder is not None:
            result.trajectory, result.record_error = self._finish_recording(result)
        return result

    def _finish_recording(self, result: ExecutionResult) -> tuple[dict | None, str | None]:
        env, _ = self._envs[self._current]
        recorder, self._recorder = self._recorder, None
        meta = {
            "env_id": env.unwrapped.spec.id,
            "env_kwargs": dict(env.unwrapped.spec.kwargs),
            "max_episode_steps": MAX_EPISODE_STEPS,
            "control_mode": "pd_joint_pos",
            "control_freq": env.unwrapped.control_freq,
            "seed": self._seed,
            "robot": self._current[1],
            "robot_uid": self._current[2],
            "joint_names": [j.get_name() for j in env.unwrapped.agent.robot.get_active_joints()],
            "n_arm": recorder.n_arm,
            "success": result.success,
            "failure_reason": result.failure_reason.value if result.failure_reason else None,
        }
        try:
            path, steps = recorder.finish(meta)
        except OSError as exc:  # a full or unwritable spool: the verdict stands, the data not
            return None, f"could not write the episode file: {exc.strerror or exc}"
        return {"path": path, "steps": steps}, None

    def _execute(self, steps: list[Step]) -> ExecutionResult:
        result = ExecutionResult(success=False)
        if self._recorder is not None:
            self._recorder.observe(self._gripper)  # the reset state, step 0
        for step in steps:
            outcome = self._do(step)
            result.steps.append(outcome)
            if not outcome.reached:
                reason = (
                    FailureReason.PLAN_UNREACHABLE
                    if "no motion plan" in outcome.detail
                    else FailureReason.MOTION_FAILED
                )
                result.failure_reason, result.detail = reason, f"line {step.line}: {outcome.detail}"
                result.sim_steps = self._steps
                result.checks = self._evaluate()
                result.final_positions = self._final_positions()
                return result
            if isinstance(step, TaskCompleted):
                break
        result.checks = self._settle()
        result.final_positions = self._final_positions()
        result.success = bool(result.checks.get("success", False))
        if not result.success:
            result.failure_reason = FailureReason.TASK_FAILED
            result.detail = f"task check failed{_false_checks(result.checks)}"
        result.sim_steps = self._steps
        return result

    def _drive(self, policy) -> ExecutionResult:
        import torch

        from manip.policy.features import env_observation

        c = policy.config
        task, robot = self._current[0], self._current[1]
        env, _ = self._envs[self._current]
        obs, actors = env_observation(env)
        wrong = policy.mismatch(task, robot, obs, actors)
        if wrong is not None:  # the actor cannot act here: its episode fails, saying why
            self._recorder = None  # nothing ran: nothing to record
            return ExecutionResult(False, FailureReason.TEACHER_ERROR, wrong)
        if self._recorder is not None:
            self._recorder.observe(self._gripper)
        history = deque([obs] * c.obs_horizon, maxlen=c.obs_horizon)
        noise = torch.Generator().manual_seed(int(self._seed))  # the same episode re-runs the same
        result, checks = ExecutionResult(success=False), dict[str, bool]()
        while self._steps < c.max_steps and not checks.get("success"):
            for action in policy.act(np.stack(history), noise):
                self._gripper = float(action[-1])
                if self._steps >= c.max_steps or not self._step(action):
                    break
                history.append(env_observation(env)[0])
            checks = self._evaluate()
        result.checks, result.sim_steps = checks, self._steps
        result.final_positions = self._final_positions()
        result.success = bool(checks.get("success", False))
        if not result.success:
            result.failure_reason = FailureReason.TASK_FAILED
            result.detail = f"not solved in {self._steps} steps{_false_checks(checks)}"
        return result

    def _do(self, step: Step) -> StepOutcome:
        before = self._steps
        if isinstance(step, Move):
            ok, detail = self._move(step)
        elif isinstance(step, OpenGripper):
            self._gripper = self._robot.gripper_open
            ok, detail = self._hold(GRIPPER_STEPS), "opened"
        elif isinstance(step, CloseGripper):
            self._gripper = self._robot.gripper_closed * float(step.strength)
            ok, detail = self._hold(GRIPPER_STEPS), "closed"
        else:
            ok, detail = True, "task completed"
        return StepOutcome(step.op, step.line, ok, detail, self._steps - before)

    def _move(self, step: Move) -> tuple[bool, str]:
        env, planner = self._envs[self._current]
        quat = gripper_quat(step.yaw_deg, step.tilt_deg)
        point = self._link_target(np.array(step.position), quat)
        if self._robot.tcp_in_plan_frame is not None:
            from transforms3d.quaternions import qmult

            quat = qmult(quat, self._robot.tcp_in_plan_frame)
        target = np.hstack([point, quat])
        qpos = env.unwrapped.agent.robot.get_qpos()[0].numpy()
        dt = env.unwrapped.control_timestep
        try:
            plan = planner.plan_screw(target, qpos, qpos_step=SCREW_QPOS_STEP, time_step=dt)
            if plan["status"] != "Success":
                plan = planner.plan_qpos_to_pose(
                    target, qpos, time_step=dt, planning_time=RRT_PLANNING_TIME_S, wrt_world=True
                )
        except RuntimeError as exc:  # e.g. toppra's "Fail to parameterize path": no usable plan
            plan = {"status": str(exc)}
        if plan["status"] != "Success":
            return False, f"no motion plan to {list(step.position)} ({plan['status']})"
        n_arm = len(planner.joint_vel_limits)
        path = plan["position"]
        for q in path:
            if not self._step(self._action(q[:n_arm])):
                return False, f"episode step limit {MAX_EPISODE_STEPS} reached"
        goal = point
        err = self._tcp_error(goal)
        self._arm_target = path[-1][:n_arm]
        for _ in range(CONVERGE_STEPS):  # the PD controller trails the path's last waypoint
            if err <= REACH_TOLERANCE_M / 4 or not self._step(self._action(path[-1][:n_arm])):
                break
            err = self._tcp_error(goal)
        if err > REACH_TOLERANCE_M:
            return False, f"stopped {err * 100:.1f} cm from the target (blocked?)"
        return True, f"reached in {len(plan['position'])} steps"

    def _link_target(self, point: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """Where the TCP link goes for the plan's ``point`` to lie between the pads (``quat``:
        the plan's pointing-down frame): ``pads_behind_tcp_m`` deeper along the approach for
        a robot whose TCP link is at its fingertips, but the tips stay FINGERTIP_CLEARANCE_M
        above the table (a 3.6 cm cube is then held by the pads' lower part, as a hand would)."""
        depth = self._robot.pads_behind_tcp_m
        if not depth:
            return point
        from transforms3d.quaternions import quat2mat

        target = point + quat2mat(quat)[:, 2] * depth
        top = _table_top(self._envs[self._current][0].unwrapped)
        target[2] = max(target[2], top + FINGERTIP_CLEARANCE_M)
        return target

    def _action(self, arm_qpos: np.ndarray) -> np.ndarray:
        """The pd_joint_pos action: arm joint targets, then the gripper command. The WidowX
        AI's arm controller also drives its finger carriage: it gets the gripper's target."""
        parts: list[Any] = [arm_qpos]
        if self._robot.carriage_m is not None:
            lo, hi = self._robot.carriage_m
            parts.append([lo + (self._gripper + 1.0) / 2.0 * (hi - lo)])
        return np.hstack([*parts, [self._gripper]])

    def _tcp_error(self, goal: np.ndarray) -> float:
        env, _ = self._envs[self._current]
        return float(np.linalg.norm(env.unwrapped.agent.tcp.pose.p[0].numpy() - goal))

    def _hold(self, n: int) -> bool:
        """Keep the arm where the last move sent it (before any, where it stands). Holding
        the measured joints instead lets a loaded arm creep: each hold's target is where
        gravity had already pulled it (a WidowX AI holding a cube drifted 4 cm in 40 steps)."""
        env, planner = self._envs[self._current]
        if self._arm_target is None:
            n_arm = len(planner.joint_vel_limits)
            self._arm_target = env.unwrapped.agent.robot.get_qpos()[0].numpy()[:n_arm]
        return all(self._step(self._action(self._arm_target)) for _ in range(n))

    def _step(self, action: np.ndarray) -> bool:
        if self._steps >= MAX_EPISODE_STEPS:
            return False
        env, _ = self._envs[self._current]
        if self._recorder is not None:  # a recording keeps each step's evaluation (its info)
            self._recorder.step(action, env.step(action)[-1], self._gripper)
        else:  # env.step less the evaluate() whose info nobody reads
            step_without_evaluate(env.unwrapped, action)
        self._steps += 1
        return True

    def _settle(self) -> dict[str, bool]:
        checks = self._evaluate()
        for _ in range(0, SETTLE_STEPS, SETTLE_CHECK_EVERY):
            if checks.get("success"):
                break
            if not self._hold(SETTLE_CHECK_EVERY):
                break
            checks = self._evaluate()
        return checks

    def _final_positions(self) -> dict[str, list[float]]:
        env, _ = self._envs[self._current]
        return {
            name: [round(float(v), 6) for v in actor.pose.p[0].tolist()]
            for name, actor in env.unwrapped.scene.actors.items()
            if actor.px_body_type == "dynamic"
        }

    def _evaluate(self) -> dict[str, bool]:
        env, _ = self._envs[self._current]
        return {
            k: bool(v[0]) if hasattr(v, "__len__") else bool(v)
            for k, v in env.unwrapped.evaluate().items()
        }
