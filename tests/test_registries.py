"""One record per robot and per task: the rest of the tree reads the records, so adding a robot
touches one record and adding a task touches its env, its expert and one registry line. These
tests read the source (string constants through ``ast``) and the registries; they fail when a
robot or task is declared again somewhere else."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from manip.sim.robots import ROBOTS, agent_uids, get_robot, robot_of_uid
from manip.sim.tasks import BLM1_TASKS, ENV_TASKS, GROUPS, TASKS, UNSEEN, get_task

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "manip", "worker", "scheduler", "training", "robot_runtime", "blazer")
DEFAULT_ROBOT = "panda"  # the default of every command and spec: allowed as a default value


def string_constants() -> dict[str, set[str]]:
    """Every string constant in the packages' code -> the files it occurs in (docstrings too)."""
    where: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    where.setdefault(node.value, set()).add(str(path.relative_to(ROOT)))
    return where


def test_a_robot_is_named_only_in_its_record_and_its_maniskill_agent():
    where = string_constants()
    allowed = {"manip/sim/robots.py", "manip/sim/agents.py"}  # the record; the @register_agent
    for robot in ROBOTS.values():
        if robot.name == DEFAULT_ROBOT:
            continue
        for uid in robot.uids:
            assert where.get(uid, set()) <= allowed, (uid, where.get(uid))


def test_a_task_is_named_only_in_the_registry_and_its_env():
    where = string_constants()
    for task in TASKS.values():
        files = where.get(task.id, set())
        allowed = {"manip/sim/tasks/__init__.py", "manip/sim/robots.py"}  # robots: own_layout
        if task.env:
            allowed.add(f"manip/sim/envs/{task.env}.py")  # its @register_env
        # commands may show one task as an option's default
        stray = {f for f in files - allowed if not f.startswith(("blazer/", "robot_runtime/"))}
        assert not stray, (task.id, stray)


def test_registries_derive_from_the_records():
    assert set(agent_uids()) == {uid for r in ROBOTS.values() for uid in r.uids}
    assert robot_of_uid("widowxai_wristcam") is get_robot("widowxai")
    assert set(UNSEEN) == {t for t, g in GROUPS.items() if g == "unseen"}
    assert set(ENV_TASKS) == {t.id for t in TASKS.values() if t.env}
    assert len(BLM1_TASKS) == 6 and all(get_task(t).env is None for t in BLM1_TASKS)
    for task in ENV_TASKS:  # every env module the registry names exists
        assert (ROOT / "manip" / "sim" / "envs" / f"{get_task(task).env}.py").exists()


def test_a_new_robot_record_reaches_every_reader():
    """A record added at run time (as a new line would be) is what the readers use: the
    default workspace, the envs' accepted agents, the PickCube layout and the asset check."""
    code = """
import dataclasses
from manip.sim import robots
new = dataclasses.replace(robots.ROBOTS["widowxai"], name="widowxai_b",
                          wristcam="widowxai_b_wristcam", near_base=(-0.3, 0.0, 0.0),
                          pick_cube_layout="widowxai")
robots.ROBOTS[new.name] = new
from manip.sim.envs.block_world import BlockWorldEnv
from manip.sim.agents import missing_asset, register
register()
from mani_skill.envs.tasks.tabletop.pick_cube_cfgs import PICK_CUBE_CONFIGS
assert "widowxai_b" in BlockWorldEnv.SUPPORTED_ROBOTS
assert PICK_CUBE_CONFIGS["widowxai_b"] == PICK_CUBE_CONFIGS["widowxai"]
assert robots.default_workspace("widowxai_b") == robots.ROBOTS["widowxai"].workspace
assert (missing_asset("widowxai_b") is None) == (missing_asset("widowxai") is None)
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]
