"""``blazer sim try``: one episode, everything it went through, printed; ``blazer sim
replay-h5``: ManiSkill's replay tool with blazer's robots registered."""

from __future__ import annotations

import json

import typer

from blazer.commands.teacher_options import teacher_from_flags
from blazer.commands.text import printable
from manip.rollout import Block, run_block
from manip.sim import make_simulator
from manip.sim.tasks import check_task_robot
from models.errors import ConfigError

app = typer.Typer(no_args_is_help=True)


@app.command("try")
def try_episode(
    task: str = typer.Option("PickCube-v1", help="Task id."),
    seed: int = typer.Option(0, help="Scene seed."),
    robot: str = typer.Option("panda", help="Robot uid."),
    teacher: str = typer.Option("expert", help="Teacher kind: expert, hf, openai, vllm."),
    model: str = typer.Option(None, help="Model for hf/openai/vllm teachers."),
    base_url: str = typer.Option(None, help="OpenAI-compatible server URL (openai teacher)."),
    adapter: str = typer.Option(None, help="LoRA adapter folder (hf/vllm teachers)."),
    max_new_tokens: int = typer.Option(None, help="Token limit for LLM teachers."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Reset TASK with SEED, ask the teacher, carry out the plan, print the verdict."""
    check_task_robot(task, robot)
    teach = teacher_from_flags(teacher, model, base_url, adapter, max_new_tokens)
    sim = make_simulator("maniskill")
    try:
        (outcome,) = run_block(Block(0, task, robot, [seed]), sim, teach)
    finally:
        sim.close()
        teach.close()
    rec, exe = outcome.record, outcome.execution
    if as_json:
        data = rec.to_json()
        data["steps"] = [s.__dict__ for s in exe.steps] if exe else []
        data["checks"] = exe.checks if exe else {}
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(f"== scene ({task}, {robot}, seed {seed})")
        typer.echo(json.dumps(rec.scene, indent=1) if rec.scene else "(no scene)")
        typer.echo("== completion")
        typer.echo(printable(rec.completion) if rec.completion else "(none)")
        typer.echo("== plan")
        for step in rec.plan or []:
            typer.echo(f"  {step}")
        if exe:
            typer.echo("== steps")
            for s in exe.steps:
                typer.echo(
                    f"  line {s.line:>2} {s.op:<5} {'ok ' if s.reached else 'FAIL'} {s.detail}"
                )
            typer.echo(f"== checks {exe.checks}")
        verdict = (
            "SUCCESS"
            if rec.success
            else f"FAILED ({rec.failure_reason.value}): {rec.failure_detail}"
        )
        typer.echo(f"== verdict: {verdict}   timings {rec.timings}")
    raise typer.Exit(0 if rec.success else 1)


@app.command(
    "replay-h5", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def replay_h5(ctx: typer.Context, traj_path: str) -> None:
    """ManiSkill's own replay tool on an h5 export, with blazer's robots registered (the
    xArm-7 + Robotiq and the xArm-6 wrist camera). Extra flags go to the tool, e.g.
    ``--use-env-states``, ``--save-video``."""
    import subprocess
    import sys

    from manip.sim.isolated import REPO_ROOT, sim_environment

    code = (
        "import sys; from manip.sim.assets import setup_assets; setup_assets(); "
        "from manip.sim import agents; agents.register(); "
        "from mani_skill.trajectory import replay_trajectory as r; "
        "r.main(r.parse_args(sys.argv[1:]))"
    )
    from pathlib import Path

    path = Path(traj_path).resolve()
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise ConfigError(f"{traj_path}: no such trajectory file (or its .json beside it)")
    cmd = [sys.executable, "-c", code, "--traj-path", str(path), *ctx.args]
    raise typer.Exit(subprocess.call(cmd, env=sim_environment(), cwd=str(REPO_ROOT)))


@app.command("perceive")
def perceive(
    task: str = typer.Option("PutBlock-v1", help="Task id (tasks list)."),
    seed: int = typer.Option(0, help="Scene seed."),
    robot: str = typer.Option("panda", help="Robot uid."),
    segmenter: str = typer.Option(
        "blocks",
        help="blocks (no weights), sam (BLAZER_SAM_CHECKPOINT) or oracle (the simulator's masks: geometry alone).",
    ),
    size: int = typer.Option(
        None, help="Camera image side in pixels (default BLAZER_PERCEPTION_IMAGE_SIZE, 256)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Reset TASK with SEED, perceive it through three RGB-D cameras, print true vs perceived."""
    from manip.perception.report import compare
    from manip.perception.segmenters import SEGMENTERS

    check_task_robot(task, robot)
    if segmenter not in SEGMENTERS:
        raise ConfigError(f"unknown segmenter {segmenter!r}; known: {', '.join(SEGMENTERS)}")
    sim = make_simulator("maniskill")
    try:
        truth = sim.reset(task, robot, seed)
        perceived, report = sim.perceive(segmenter, size)
    finally:
        sim.close()
    rows = compare(truth, perceived, report)
    out = {
        "task": task,
        "seed": seed,
        "robot": robot,
        "segmenter": report["segmenter"],
        "views": report["views"],
        "table_z": report["table_z"],
        "objects": rows,
        "missing": report["missing"],
        "given": sorted(report.get("given", {})),
        "timings": report["timings"],
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(
        f"{task} seed {seed} ({robot}), segmenter {out['segmenter']}, views {', '.join(out['views'])}"
    )
    for r in rows:
        t = r["true"]
        typer.echo(
            f"  {r['name']:<16} true  {t['position']} yaw {t['yaw_deg']:7.2f} size {t['size']}"
        )
        if r["given"]:
            typer.echo(f"  {'':<16} given by the instruction (not perceived)")
            continue
        if r["perceived"] is None:
            typer.echo(f"  {'':<16} perceived: MISSING (no view saw it)")
            continue
        p, e = r["perceived"], r["error"]
        pos = [round(v, 4) for v in p["position"]]
        typer.echo(
            f"  {'':<16} seen  {pos} yaw {p['yaw_deg']:7.2f} size {[round(v, 3) for v in p['size']]}"
            f"  error {e['centre_cm']:.2f} cm, {e['yaw_deg']:.1f} deg, size {e['size_cm']:.2f} cm;"
            f" confidence {r['confidence']:.2f}"
        )
    typer.echo("timings: " + ", ".join(f"{k} {v:.3f}" for k, v in out["timings"].items()))
