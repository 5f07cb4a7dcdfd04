"""The BLAZER loop for real on a tiny scale: snapshots, LoRA SFT of SmolLM2-135M (loss falls,
the adapter changes the output, a killed run resumes), DPO, evaluation, registry, retraining."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from manip.prompt import SYSTEMS
from models.db import session_scope
from models.errors import ConfigError
from models.orm import DatasetMember, Episode, ModelVersion, TrainingRun
from models.types import SeedSplit
from tests.conftest import REPO, embedded_blazer, run_cli
from training.datasets import DatasetSpec, build_dataset, export_dataset

FAST_SFT = [
    "--max-steps",
    "4",
    "--effective-batch",
    "2",
    "--micro-batch",
    "2",
    "--lr",
    "2e-3",
    "--max-len",
    "1024",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One SQLite database for the module with expert and failing campaigns on shared seeds."""
    tmp = tmp_path_factory.mktemp("training")
    with embedded_blazer(tmp):
        for args in (
            ["--name", "gen", "--tasks", "PickCube-v1,PullCube-v1", "-n", "3", "--block-size", "3"],
            [
                "--name",
                "bad",
                "--tasks",
                "PickCube-v1",
                "--teacher",
                "noop",
                "-n",
                "1",
                "--block-size",
                "3",
            ],
            ["--name", "held", "--tasks", "PickCube-v1", "-n", "2", "--block-size", "2"],
        ):
            spec = None
            if args[1] == "bad":  # a teacher that writes no useful plan: real failures, same seeds
                spec = tmp / "bad.yaml"
                spec.write_text(
                    "name: bad\ntasks: [PickCube-v1]\nteacher: noop\nsuccesses: 1\nattempt_cap: 3\nblock_size: 3\n"
                )
            if args[1] == "held":  # the same task on the evaluation split
                spec = tmp / "held.yaml"
                spec.write_text(
                    "name: held\ntasks: [PickCube-v1]\nsuccesses: 2\nseed_split: eval\nblock_size: 2\n"
                )
            out = run_cli("campaign", "run", *([str(spec)] if spec else args))
            assert out.returncode == 0, out.stderr[-2000:]
        yield tmp


def test_snapshot_balance_dedup_and_split(env):
    with session_scope() as s:
        ds = build_dataset(s, DatasetSpec("eq", ["gen", "held"], balance="equal"))
        members = s.execute(
            select(Episode.task, Episode.seed, DatasetMember.weight)
            .join(DatasetMember, DatasetMember.episode_id == Episode.id)
            .where(DatasetMember.dataset_id == ds.id)
        ).all()
    assert ds.size == 6 and all(
        SeedSplit.of_seed(seed) == SeedSplit.TRAIN for _, seed, _ in members
    )
    by_task = {}
    for task, _, w in members:
        by_task[task] = by_task.get(task, 0) + w
    assert by_task == pytest.approx({"PickCube-v1": 0.5, "PullCube-v1": 0.5})  # p(x) = 1/(C |D_i|)
    with session_scope() as s, pytest.raises(ConfigError, match="immutable"):
        build_dataset(s, DatasetSpec("eq", ["gen"]))
    with session_scope() as s:
        evalset = build_dataset(s, DatasetSpec("ev", ["gen", "held"], split="eval"))
        assert evalset.size == 2  # only the held-out campaign's eval seeds
        again = build_dataset(s, DatasetSpec("eq2", ["gen", "gen"], per_task=2))
        assert again.size == 4  # the same campaign twice adds nothing (deduplicated); 2 per task


def test_exports(env, tmp_path):
    with session_scope() as s:
        jsonl = export_dataset(s, "eq", "jsonl", tmp_path / "eq.jsonl")
        rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
        assert len(rows) == 6 and rows[0]["messages"][0]["role"] == "system"
        assert rows[0]["completion"].startswith("```python") and rows[0]["prompt_version"] == "v2"
        # rendered for the student (v2) from the stored scene; the expert's campaign was v1
        assert rows[0]["teacher_prompt_version"] == "v1"
        assert rows[0]["messages"][0]["content"] == SYSTEMS["v2"]
        export_dataset(s, "eq", "hf", tmp_path / "hf")
        with pytest.raises(ConfigError, match="trajectories"):
            export_dataset(s, "eq", "lerobot", tmp_path / "lr")
    from datasets import load_from_disk

    assert len(load_from_disk(str(tmp_path / "hf"))) == 6


def test_sft_loss_falls_adapter_changes_output_and_registers(env):
    out = run_cli("train", "sft", "--dataset", "eq", "--name", "student-a", *FAST_SFT)
    assert out.returncode == 0, out.stderr[-3000:]
    with session_scope() as s:
        v = s.scalars(select(ModelVersion).where(ModelVersion.name == "student-a")).one()
        run = s.get(TrainingRun, v.training_run_id)
    assert v.base_model == "smollm2-135m" and v.dataset_id is not None and run.state == "done"
    # the CPU recipe by default here (no CUDA), trained on the student prompt
    assert v.hyperparameters["extra"]["recipe"] == "cpu" and v.prompt_version == "v2"
    assert v.hyperparameters["lora"]["r"] == 64 and v.hyperparameters["lora"]["alpha"] == 64
    assert v.metrics["final_loss"] < v.metrics["first_loss"] * 0.9, v.metrics
    # the adapter loads and changes what the model writes for the same prompt
    from manip.teachers.base import TeacherRequest
    from manip.teachers.hf import HFTeacher

    with session_scope() as s:
        ep = s.scalars(select(Episode).where(Episode.success.is_(True))).first()
    from manip.prompt import render_messages
    from models.types import SceneState

    req = [TeacherRequest(None, render_messages(SceneState.from_json(ep.scene)))]
    base = HFTeacher("smollm2-135m", max_new_tokens=24).complete(req)[0].text
    tuned = HFTeacher("student-a", max_new_tokens=24).complete(req)[0].text
    assert tuned != base


def test_killed_sft_resumes_from_its_checkpoint(env):
    args = [
        sys.executable,
        "-m",
        "blazer.cli",
        "train",
        "sft",
        "--dataset",
        "eq",
        "--name",
        "student-r",
        "--ckpt-every",
        "1",
        *FAST_SFT,
    ]
    proc = subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    ckpt = env / "data" / "runs" / "sft-student-r" / "checkpoints"
    deadline = time.monotonic() + 300
    while not list(ckpt.glob("step-000001")) and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(ckpt.glob("step-000001")), "no checkpoint was written"
    out = run_cli(
        "train", "sft", "--dataset", "eq", "--name", "student-r", "--ckpt-every", "1", *FAST_SFT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resumed from step-" in out.stderr
    steps = [
        json.loads(line)["step"]
        for line in (ckpt.parent / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps[-1] == 4 and 1 in steps  # the first run's step survived in the log
    with session_scope() as s:
        runs = s.scalars(
            select(TrainingRun).where(TrainingRun.output_dir.like("%sft-student-r"))
        ).all()
        assert len(runs) == 1 and runs[0].state == "done"


def test_dpo_on_pairs_from_the_same_scenes(env):
    assert (
        run_cli(
            "dataset",
            "build",
            "--name",
            "pairs",
            "--from",
            "gen",
            "--from",
            "bad",
            "--all-outcomes",
        ).returncode
        == 0
    )
    out = run_cli(
        "train",
        "dpo",
        "--dataset",
        "pairs",
        "--name",
        "student-dpo",
        "--max-steps",
        "2",
        "--effective-batch",
        "2",
        "--micro-batch",
        "1",
        "--lr",
        "1e-4",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    with session_scope() as s:
        v = s.scalars(select(ModelVersion).where(ModelVersion.name == "student-dpo")).one()
    assert v.metrics["pairs"] >= 1 and v.metrics["steps"] == 2 and v.metrics["final_loss"] > 0
    out = run_cli("train", "dpo", "--dataset", "eq", "--name", "x", "--max-steps", "1")
    assert out.returncode == 2 and "no scene with both a success and a failure" in out.stderr


def test_eval_table_and_registry(env, tmp_path):
    out = run_cli(
        "eval",
        "--model",
        "student-a",
        "--model",
        "expert",
        "--tasks",
        "PullCube-v1",
        "--episodes",
        "2",
        "--max-new-tokens",
        "32",
        "--out",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    cell = {(r["task"], r["model"]): r for r in rows}
    expert = cell[("PullCube-v1", "expert")]
    assert (expert["successes"], expert["attempts"], float(expert["rate"])) == ("2", "2", 1.0)
    assert float(expert["ci_low"]) == pytest.approx(0.342, abs=1e-3)  # Wilson, 2 of 2
    assert "PullCube-v1" in out.stdout and "[" in out.stdout  # Table I with intervals
    assert (tmp_path / "table.png").stat().st_size > 5000
    shown = json.loads(run_cli("models", "show", "student-a").stdout)
    assert shown["metrics"]["eval"]["PullCube-v1"] == float(
        cell[("PullCube-v1", "student-a")]["rate"]
    )
    # the student was asked with the prompt it was trained on (v2, from the registry)
    with session_scope() as s:
        asked = s.scalars(
            select(Episode.prompt_version).where(Episode.teacher == "hf:student-a")
        ).all()
    assert asked and set(asked) == {"v2"}
    # the same version through llama.cpp (the Q4_1 base with its adapter as a GGUF LoRA)
    out = run_cli(
        "eval", "--model", "student-a", "--engine", "llamacpp", "--tasks", "PullCube-v1",
        "--episodes", "1", "--max-new-tokens", "32", "--out", str(tmp_path / "cpp"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    with session_scope() as s:
        engines = set(s.scalars(select(Episode.teacher).where(Episode.teacher.like("%student-a"))))
    assert engines == {"hf:student-a", "llamacpp:student-a"}
    out = run_cli("eval", "--model", "student-a", "--engine", "onnx", "--tasks", "PullCube-v1")
    assert out.returncode == 2 and "--engine must be one of hf, llamacpp" in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert run_cli("models", "promote", "student-a").returncode == 0
    assert "student-a" in run_cli("models", "list").stdout
    # eval campaigns used only evaluation seeds
    with session_scope() as s:
        seeds = s.scalars(
            select(Episode.seed).where(
                Episode.teacher == "expert",
                Episode.task == "PullCube-v1",
                Episode.seed >= SeedSplit.EVAL.offset,
            )
        ).all()
    assert len(seeds) == 2


def test_eval_seeds_are_chosen_and_checked(env, tmp_path):
    out = run_cli(
        "eval",
        "--model",
        "expert",
        "--tasks",
        "PickCube-v1",
        "--seeds",
        "2000000100-2000000102",
        "--out",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    with session_scope() as s:
        seeds = s.scalars(
            select(Episode.seed).where(Episode.teacher == "expert", Episode.seed >= 2_000_000_100)
        ).all()
    assert sorted(seeds) == [2_000_000_100, 2_000_000_101, 2_000_000_102]
    for bad in ("5-9", "2000000009-2000000001", "a-b", "2999999999-3000000000"):
        out = run_cli("eval", "--model", "expert", "--tasks", "PickCube-v1", "--seeds", bad)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--seeds" in out.stderr, (
            out.stderr
        )
    out = run_cli("experiment", "--eval-seeds", "0-49")
    assert out.returncode == 2 and "leaves the evaluation split" in out.stderr
    for args, message in [
        (("--teacher", "gpt9"), "--teacher must be one of expert, fewshot"),
        (("--samples", "3"), "--samples > 1 needs a sampling teacher"),
    ]:
        out = run_cli("experiment", *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, (
            out.stderr
        )


def test_retrain_when_new_successes_arrive(env):
    spec = env / "loop.yaml"
    spec.write_text(
        "name: loop\ntasks: [PullCube-v1]\nsuccesses: 2\nblock_size: 2\n"
        "retrain: {every: 2, lineage: pull, eval_episodes: 1, max_new_tokens: 24,\n"
        "          train: {max_steps: 1, effective_batch: 2, micro_batch: 2, lr: 0.002}}\n"
    )
    out = run_cli("campaign", "run", str(spec))
    assert out.returncode == 0, out.stderr[-3000:]
    with session_scope() as s:
        trigger = s.scalars(select(TrainingRun).where(TrainingRun.lineage == "pull")).one()
        v1 = s.scalars(select(ModelVersion).where(ModelVersion.name == "pull-v1")).one()
    assert trigger.state == "done" and trigger.source_successes == 2
    assert "eval" in v1.metrics and v1.metrics["steps"] == 1
    # promoted exactly when it beat the current version (the base model) on the eval split
    assert v1.promoted == (trigger.metrics["candidate"] > trigger.metrics["current_score"])
    assert trigger.metrics["current"] == "smollm2-135m"


def test_time_budget_fits_the_cosine_schedule(tmp_path):
    """--minutes: after a few timed steps the schedule is shortened to fit the budget, and the
    learning rate still decays to (near) zero at the end instead of being cut off mid-way."""
    import torch

    from training.loop import TrainConfig, train

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def save_pretrained(self, path: str) -> None:
            os.makedirs(path, exist_ok=True)
            torch.save(self.state_dict(), os.path.join(path, "w.pt"))

    model = Tiny()

    def loss_of(indices):
        time.sleep(0.05)  # a step of known cost
        return (model.w**2).sum()

    config = TrainConfig(
        lr=0.1,
        epochs=100,
        effective_batch=1,
        micro_batch=1,
        warmup_steps=1,
        max_minutes=0.01,
        ckpt_every=1000,
    )  # 0.6 s for 1,000 planned steps
    metrics = train(model, [1.0] * 10, loss_of, config, tmp_path)
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert 5 <= metrics["steps"] == metrics["total_steps"] <= 14, metrics
    assert log[-1]["lr"] < 0.1 * 0.05 and log[1]["lr"] > 0.09  # decayed over the fitted length
    assert log[-1]["elapsed_s"] < 0.6  # a time budget is a promise: the steps end inside it


def test_resume_takes_the_newest_complete_checkpoint_only(tmp_path):
    from training.loop import latest_checkpoint

    ckpts = tmp_path / "checkpoints"
    for name, complete in [
        ("step-000002", True),
        ("step-000010", True),
        ("step-000012.tmp", True),  # a save killed before its rename
        ("step-000014", False),  # no trainer state: not a checkpoint
    ]:
        (ckpts / name).mkdir(parents=True)
        if complete:
            (ckpts / name / "trainer_state.pt").write_bytes(b"x")
    assert latest_checkpoint(tmp_path) == ckpts / "step-000010"
    assert latest_checkpoint(tmp_path / "none") is None


class _Planted:
    """A pickle that would write a file when loaded by an unsafe torch.load."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_trainer_state_runs_no_code(tmp_path):
    import pickle

    import torch

    from training.loop import TrainConfig, train

    ckpt = tmp_path / "checkpoints" / "step-000004"
    ckpt.mkdir(parents=True)
    marker = tmp_path / "pwned"
    torch.save(
        {"step": 4, "history": [], "optimizer": _Planted(str(marker))}, ckpt / "trainer_state.pt"
    )
    model = torch.nn.Linear(2, 2)
    with pytest.raises(pickle.UnpicklingError):
        train(model, [1.0], lambda idx: model.weight.sum(), TrainConfig(epochs=1), tmp_path)
    assert not marker.exists()
