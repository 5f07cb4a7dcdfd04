"""``blazer robot run``: deploy a model on the arm (or its simulated stand-in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from manip.teachers import make_teacher, teacher_for_model
from robot_runtime.base import SafetyEnvelope
from robot_runtime.runner import deploy_once, make_robot

app = typer.Typer(no_args_is_help=True)


@app.command("run")
def run(
    model: str = typer.Option(
        "expert",
        help="expert, a model version / folder for the hf teacher, or policy:<version>.",
    ),
    robot: str = typer.Option(
        "sim", help="sim (ManiSkill stand-in) or franka (panda-py, untested)."
    ),
    task: str = typer.Option("PickCube-v1", help="Task (sim robot)."),
    seed: int = typer.Option(0, help="Scene seed (sim robot)."),
    host: str = typer.Option(None, help="Franka controller address."),
    scene_file: Path = typer.Option(
        None, help="Scene state JSON (franka, without cameras).", resolve_path=True
    ),
    scene: str = typer.Option(
        "auto",
        help="sim: auto (perceived through three simulated RGB-D cameras where the task allows, else true), true, or perceived[:segmenter].",
    ),
    cameras: Path = typer.Option(
        None,
        help="franka: RealSense calibration JSON (robot_runtime/realsense.py; untested).",
        resolve_path=True,
    ),
    objects: Path = typer.Option(
        None, help="franka: the task's expected objects JSON (with --cameras).", resolve_path=True
    ),
    margin: float = typer.Option(0.02, help="Safety envelope margin inside the workspace (m)."),
    max_new_tokens: int = typer.Option(384, help="Token limit for LLM models."),
) -> None:
    """Observe, plan with the model, check the safety envelope, move. Exit 1 if refused or failed."""
    if robot == "franka":
        from robot_runtime.franka import SceneFile

        perception: Any  # a RealSensePerception or a SceneFile
        if cameras is not None:
            from robot_runtime.realsense import RealSensePerception

            perception = RealSensePerception(
                cameras, objects, scene_file
            )  # scene_file: the template
        else:
            perception = SceneFile(scene_file)
        arm = make_robot("franka", host=host, perception=perception)
    else:  # a learned policy reads the state, not a scene for a prompt: nothing to perceive
        scene = "true" if model.startswith("policy:") else scene
        arm = make_robot(robot, task=task, seed=seed, scene=scene)
    if model.startswith("policy:"):
        _run_policy(arm, model.partition(":")[2], seed)
    config = teacher_for_model(model, max_new_tokens)
    teacher = make_teacher(config.pop("kind"), config)
    result = deploy_once(arm, teacher, SafetyEnvelope(margin_m=margin))
    data = result.__dict__ | {
        "success": getattr(arm, "task_success", lambda: None)(),
        "scene": getattr(arm, "scene_source", "perception"),
    }
    typer.echo(json.dumps(data, indent=2))
    raise typer.Exit(0 if result.finished and data["success"] is not False else 1)


def _run_policy(arm: Any, name: str, seed: int) -> None:
    """A learned policy on the robot, closed loop (``robot_runtime.policy_runner``)."""
    from manip.policy.diffusion import DiffusionPolicy
    from manip.teachers.policy import policy_checkpoint
    from robot_runtime.policy_runner import deploy_policy

    result = deploy_policy(arm, DiffusionPolicy.load(policy_checkpoint(name)), seed=seed)
    typer.echo(json.dumps(result.__dict__, indent=2))
    raise typer.Exit(0 if result.success else 1)
