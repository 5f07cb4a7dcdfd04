"""blazer's own tasks (issue 11): randomised scenes named by attribute, checks that fail when
the words are not followed, the train/unseen groups through snapshots, ``blazer eval`` and
``blazer tasks list``, and the new tasks in campaigns (embedded and through Celery)."""

from __future__ import annotations

import csv
import dataclasses
import json
import re

import pytest
from sqlalchemy import select

from manip.sim.isolated import IsolatedSimulator
from manip.sim.tasks import ENV_TASKS, GROUPS, TASKS, UNSEEN
from models.db import session_scope
from models.orm import DatasetMember, Episode
from models.types import FailureReason
from tests.conftest import embedded_blazer, expert, run_cli
from tests.test_reliability import assert_exact, cluster, create  # noqa: F401  (fixture)
from training.datasets import DatasetSpec, build_dataset
from training.evaluate import EvalTable


@pytest.fixture(scope="module")
def sim():
    simulator = IsolatedSimulator(episode_timeout_s=120)
    yield simulator
    simulator.close()


def test_scenes_are_randomised_and_name_the_target_by_attribute(sim):
    colours, counts, sides = set(), set(), set()
    for seed in range(8):
        scene = sim.reset("PutBlock-v1", "panda", seed)
        colour = re.search(r"Put the (\w+) block", scene.description).group(1)
        blocks = [o.name for o in scene.objects if o.name.startswith("block_")]
        assert f"block_{colour}" in blocks and len(set(blocks)) == len(blocks)
        colours.add(colour)
        counts.add(len(blocks))
        sides.add(
            re.search(r"(left|right)", sim.reset("BlockInBasket-v1", "panda", seed).description)[1]
        )
    assert len(colours) >= 3 and len(counts) >= 2 and sides == {"left", "right"}
    assert sim.reset("PutBlock-v1", "panda", 3) == sim.reset("PutBlock-v1", "panda", 3)


@pytest.mark.parametrize("task", ["StackBlocks-v1", "EmptyContainer-v1", "ClosestBasket-v1"])
def test_the_expert_solves_more_seeds(sim, task):
    for seed in (2_000_000_001, 2_000_000_002):
        result = sim.execute(expert(sim.reset(task, "panda", seed)))
        assert result.success, (task, seed, result.detail)


@pytest.mark.parametrize(
    ("task", "swap", "failed"),
    [
        ("PutBlock-v1", "colour", ["is_block_on_target", "are_others_in_place"]),
        ("BlockInBasket-v1", "side", ["is_block_in_basket"]),
        ("BlockOnColour-v1", "colour", ["is_block_on_plate"]),
    ],
)
def test_following_other_words_fails_the_named_check(sim, task, swap, failed):
    """The expert told the wrong colour or side does a clean job of the wrong thing; the
    task's own check says which part failed."""
    scene = sim.reset(task, "panda", 4)
    if swap == "side":
        side = re.search(r"(left|right)", scene.description)[1]
        words = scene.description.replace(side, {"left": "right", "right": "left"}[side])
    else:
        prefix = "plate_" if task == "BlockOnColour-v1" else "block_"
        said = re.search(r"the (\w+) (block|plate)", scene.description)[1]
        other = next(
            o.name[len(prefix) :]
            for o in scene.objects
            if o.name.startswith(prefix) and o.name != prefix + said
        )
        words = scene.description.replace(f"the {said} ", f"the {other} ")
    result = sim.execute(expert(dataclasses.replace(scene, description=words)))
    assert not result.success and result.failure_reason == FailureReason.TASK_FAILED
    assert result.detail == f"task check failed: {', '.join(failed)} false"
    assert sim.execute(expert(sim.reset(task, "panda", 4))).success  # the right words do it


def test_the_fruit_goes_to_the_closest_basket_only(sim):
    scene = sim.reset("ClosestBasket-v1", "panda", 5)
    fruit = scene.object("fruit")
    far = max(
        (o for o in scene.objects if o.name.startswith("basket_")),
        key=lambda b: sum(
            (p - q) ** 2 for p, q in zip(b.position[:2], fruit.position[:2], strict=True)
        ),
    )
    moved = dataclasses.replace(
        scene,
        objects=tuple(o for o in scene.objects if not o.name.startswith("basket_") or o is far),
    )  # the expert, shown only the farthest basket, takes the fruit there
    result = sim.execute(expert(moved))
    assert result.detail == "task check failed: is_fruit_in_closest_basket false"


def test_tasks_list_names_groups_and_robots():
    out = run_cli("tasks", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["id"] for r in rows] == list(TASKS)
    assert all(set(r) == {"id", "group", "robots", "description"} and r["robots"] for r in rows)
    assert {r["id"] for r in rows if r["group"] == "unseen"} == set(UNSEEN)
    assert len([t for t in ENV_TASKS if GROUPS[t] == "train"]) >= 5
    unseen = run_cli("tasks", "list", "--group", "unseen")
    assert unseen.returncode == 0 and "ClosestBasket-v1" in unseen.stdout
    assert "PickCube-v1" not in unseen.stdout
    bad = run_cli("tasks", "list", "--group", "val")
    assert bad.returncode == 2 and "unknown group 'val'" in bad.stderr


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """An embedded (SQLite, in-process) campaign over a seen and an unseen new task."""
    tmp = tmp_path_factory.mktemp("tasks")
    with embedded_blazer(tmp):
        out = run_cli(
            "campaign",
            "run",
            "--name",
            "mix",
            "--tasks",
            "InsertInPeg-v1,BlockOnColour-v1",
            "-n",
            "2",
            "--block-size",
            "2",
        )
        assert out.returncode == 0, out.stderr[-2000:]
        yield tmp


def test_new_tasks_run_in_an_embedded_campaign_and_snapshots_leave_unseen_out(mixed):
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert {r["task"]: r["successes"] for r in stats} == {
        "InsertInPeg-v1": 2,
        "BlockOnColour-v1": 2,
    }
    with session_scope() as s:
        plain = build_dataset(s, DatasetSpec("seen", ["mix"]))
        every = build_dataset(s, DatasetSpec("all", ["mix"], include_unseen=True))
        tasks = {
            ds.name: set(
                s.scalars(
                    select(Episode.task)
                    .join(DatasetMember)
                    .where(DatasetMember.dataset_id == ds.id)
                )
            )
            for ds in (plain, every)
        }
    assert tasks == {"seen": {"InsertInPeg-v1"}, "all": {"InsertInPeg-v1", "BlockOnColour-v1"}}
    out = run_cli("dataset", "build", "--name", "cli", "--from", "mix", "--include-unseen")
    assert out.returncode == 0 and "4 examples" in out.stdout, out.stderr


def test_eval_reports_seen_and_unseen_tasks_apart(mixed, tmp_path):
    out = run_cli(
        "eval",
        "--model",
        "expert",
        "--tasks",
        "PutBlock-v1,ClosestBasket-v1",
        "--episodes",
        "2",
        "--out",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "average (seen)" in out.stdout and "average (unseen)" in out.stdout
    with (tmp_path / "table.csv").open() as fh:
        rows = {r["task"]: r for r in csv.DictReader(fh)}
    assert rows["average (seen)"]["attempts"] == rows["PutBlock-v1"]["attempts"] == "2"
    assert rows["average (unseen)"]["successes"] == rows["ClosestBasket-v1"]["successes"]


def test_eval_table_averages_each_group_on_its_own():
    table = EvalTable(["PutBlock-v1", "StackBlocks-v1", "ClosestBasket-v1"], ["m"])
    table.successes["m"] = {"PutBlock-v1": 10, "StackBlocks-v1": 0, "ClosestBasket-v1": 3}
    table.attempts["m"] = {"PutBlock-v1": 10, "StackBlocks-v1": 10, "ClosestBasket-v1": 10}
    assert table.average("m", "average (seen)") == pytest.approx(0.5)
    assert table.average("m", "average (unseen)") == pytest.approx(0.3)
    assert table.average("m") == pytest.approx(13 / 30)
    assert [r[0] for r in table.rows()][-3:] == ["average", "average (seen)", "average (unseen)"]
    only_seen = EvalTable(["PutBlock-v1"], ["m"])
    assert list(only_seen.summaries()) == ["average"]


def test_new_tasks_through_celery(cluster):  # noqa: F811  (the fixture)
    tasks = ["StackBlocks-v1", "ClosestBasket-v1"]
    create("new-tasks", 2, tasks=tasks)
    cluster.start_worker()
    cluster.start_scheduler()
    cluster.wait_done("new-tasks", 400)
    assert_exact(cluster, "new-tasks", 2, tasks=tasks)
