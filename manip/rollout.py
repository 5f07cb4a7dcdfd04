"""The rollout pipeline for a block of seeds: reset -> scene -> prompt -> teacher -> plan ->
motion -> verdict. Every seed ends as one EpisodeRecord, success or failure with a reason.

A batched teacher (an LLM) is called once for the whole block, so a server or an in-process
model sees many prompts at once; an unbatched one (the expert) is asked seed by seed, so the
env still holds the scene it planned on and the episode needs one reset, not two.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from manip.plan_language import PlanError, check_plan, parse_plan, step_to_json
from manip.prompt import render_messages
from manip.sim.base import ExecutionResult, Simulator, SimulatorError, SimulatorStartError
from manip.teachers.base import Completion, Teacher, TeacherRequest
from models.errors import ConfigError
from models.types import EpisodeRecord, FailureReason, RecordSpec, SceneState

log = logging.getLogger(__name__)


@dataclass
class Block:
    campaign_id: int
    task: str
    robot: str
    seeds: list[int]
    job_id: int | None = None
    samples: int = 1  # teacher samples per seed: episodes with attempt 0..samples-1
    record: RecordSpec | None = None  # record each verified run (trajectory, cameras)
    scene: str = "true"  # the prompt's scene: "true" (the simulator's) or "perceived:<segmenter>"


@dataclass
class EpisodeOutcome:
    record: EpisodeRecord
    execution: ExecutionResult | None = None
    messages: list[dict[str, str]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Ran to a verdict (a success, or a failure with its reason)."""
        return self.record.success or self.record.failure_reason is not None


def _perceived(simulator: Simulator, truth: SceneState, mode: str) -> tuple[SceneState, str | None]:
    """The scene as the cameras see it, or the truth and why perception could not stand in
    for it (an error, or an object no view saw: the prompt would lack it)."""
    segmenter = mode.partition(":")[2] or "blocks"
    try:
        scene, report = simulator.perceive(segmenter)
    except (SimulatorError, ConfigError) as exc:
        return truth, f"perception: {exc}"
    if report.get("missing"):
        return scene, f"perception: no camera saw {', '.join(report['missing'])}"
    return scene, None


def run_block(
    block: Block,
    simulator: Simulator,
    teacher: Teacher,
    *,
    worker_name: str | None = None,
    keep_going: Callable[[int], bool] = lambda successes: True,
    outcomes: list[EpisodeOutcome] | None = None,
) -> list[EpisodeOutcome]:
    """Run every seed of the block (``block.samples`` episodes each, one scene per seed).

    ``keep_going(successes so far in this block)`` is asked before each verification: the
    job's heartbeat, and the place to stop once the task has its N successes. ``outcomes``
    is filled as the block goes, so a caller whose block raised still has the episodes that
    finished (``EpisodeOutcome.finished``).
    """
    outcomes = [] if outcomes is None else outcomes
    policy: str | None = getattr(teacher, "policy_path", None)  # a learned policy acts itself
    chunk = len(block.seeds) if teacher.batched else 1
    successes = 0
    for i in range(0, len(block.seeds), chunk):
        if i and not keep_going(successes):
            break  # the seeds left are not run (task full, cancelled)
        pending = _scenes(
            block, block.seeds[i : i + chunk], simulator, teacher, worker_name, outcomes, not policy
        )
        # a learned policy acts in the simulator itself: it is asked for no plan
        plans = (
            None
            if policy
            else _ask_teacher(teacher, [TeacherRequest(s, o.messages) for o, s in pending])
        )
        for j, (outcome, scene) in enumerate(pending):
            if not keep_going(successes):
                outcomes.remove(outcome)  # not run: the job stopped (task full, cancelled)
                continue
            if plans is None:
                run = functools.partial(simulator.run_policy, policy)
                _carry_out(outcome, scene, simulator, block.record, run)
            else:
                _verify(outcome, scene, plans[j], simulator, block.record)
            successes += outcome.record.success
    return outcomes


def _scenes(
    block: Block,
    seeds: list[int],
    simulator: Simulator,
    teacher: Teacher,
    worker_name: str | None,
    outcomes: list[EpisodeOutcome],
    prompted: bool = True,  # False: a learned policy, which reads no prompt
) -> list[tuple[EpisodeOutcome, SceneState]]:
    """Reset each seed for its scene and prompt: its episodes (appended to ``outcomes``)
    that still need the teacher, with the scene they are asked about."""
    pending: list[tuple[EpisodeOutcome, SceneState]] = []
    for seed in seeds:
        seed_outcomes = [
            EpisodeOutcome(
                EpisodeRecord(
                    campaign_id=block.campaign_id,
                    task=block.task,
                    robot=block.robot,
                    seed=seed,
                    attempt=attempt,
                    teacher=teacher.name,
                    success=False,
                    prompt_version=teacher.prompt_version,
                    worker=worker_name,
                    job_id=block.job_id,
                )
            )
            for attempt in range(block.samples)
        ]
        outcomes.extend(seed_outcomes)
        start = time.perf_counter()
        try:
            scene = simulator.reset(block.task, block.robot, seed, block.record)
        except SimulatorStartError:
            raise  # nothing can run: the job fails, not this episode
        except SimulatorError as exc:
            for outcome in seed_outcomes:
                _fail(outcome.record, exc.reason, str(exc))
            continue
        finally:
            for outcome in seed_outcomes:
                outcome.record.timings["reset_s"] = round(time.perf_counter() - start, 4)
        if block.scene != "true":
            scene, why = _perceived(simulator, scene, block.scene)
            if why is not None:
                for outcome in seed_outcomes:
                    outcome.record.scene = scene.to_json()
                    _fail(outcome.record, FailureReason.PERCEPTION_FAILED, why)
                continue
        messages = render_messages(scene, teacher.prompt_version) if prompted else []
        for outcome in seed_outcomes:
            outcome.record.scene = scene.to_json()
            outcome.messages = messages
            pending.append((outcome, scene))
    return pending


def _ask_teacher(teacher: Teacher, requests: list[TeacherRequest]) -> list[Completion]:
    if not requests:
        return []
    try:
        completions = teacher.complete(requests)
        if len(completions) != len(requests):
            raise RuntimeError(
                f"teacher returned {len(completions)} completions for {len(requests)} prompts"
            )
        return completions
    except Exception as exc:  # one broken teacher call fails its episodes, not the worker
        log.exception("teacher %s failed", teacher.name)
        return [Completion(None, error=f"{exc.__class__.__name__}: {exc}") for _ in requests]


def _verify(
    outcome: EpisodeOutcome,
    scene: SceneState,
    completion: Completion,
    simulator: Simulator,
    record: RecordSpec | None = None,
) -> None:
    rec = outcome.record
    rec.completion = completion.text
    rec.prompt_tokens, rec.completion_tokens = (
        completion.prompt_tokens,
        completion.completion_tokens,
    )
    rec.timings["teacher_s"] = round(completion.latency_s, 4)
    if completion.error is not None or completion.text is None:
        _fail(rec, FailureReason.TEACHER_ERROR, completion.error or "teacher returned no text")
        return
    start = time.perf_counter()
    try:
        steps = parse_plan(completion.text)
        check_plan(steps, scene)
    except PlanError as exc:
        _fail(rec, exc.reason, exc.message)
        return
    finally:
        rec.timings["parse_s"] = round(time.perf_counter() - start, 5)
    rec.plan = [step_to_json(s) for s in steps]
    _carry_out(outcome, scene, simulator, record, lambda: simulator.execute(steps))


def _carry_out(
    outcome: EpisodeOutcome,
    scene: SceneState,
    simulator: Simulator,
    record: RecordSpec | None,
    act: Callable[[], ExecutionResult],
) -> None:
    """Reset the scene again (deterministic: the same env as the first reset), ``act`` in
    it (carry out a plan, or let a learned policy run closed loop), keep the verdict."""
    rec = outcome.record
    start = time.perf_counter()
    try:
        simulator.reset(scene.task, scene.robot, scene.seed, record)
        result = act()
    except SimulatorError as exc:
        _fail(rec, exc.reason, str(exc))
        return
    finally:
        rec.timings["motion_s"] = round(time.perf_counter() - start, 4)
    outcome.execution = result
    rec.checks = result.checks
    rec.final_positions = result.final_positions or None
    rec.success = result.success
    if result.record_error:
        rec.traj_error = result.record_error
    if not result.success:
        _fail(rec, result.failure_reason or FailureReason.TASK_FAILED, result.detail)


def _fail(rec: EpisodeRecord, reason: FailureReason, detail: str) -> None:
    rec.success = False
    rec.failure_reason = reason
    rec.failure_detail = detail[:2000]
