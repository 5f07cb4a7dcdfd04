"""Bootstrapping: the spec's bootstrap block, the promotion test, the sampling rule, the
lineage's teacher looked up per job, a student served by llama.cpp through its GGUF adapter,
the provenance of every round's data, and one tiny round on the distributed path (real
PostgreSQL, Redis, rollout and train workers, a scheduler, the real SmolLM2) whose train
worker is killed mid-round and resumed."""

from __future__ import annotations

import json

import pytest

from models.campaign_spec import BootstrapPolicy
from models.db import session_scope
from models.errors import ConfigError
from models.orm import Campaign, ModelVersion, TrainingRun
from models.registry import promote
from scheduler import campaigns
from scheduler.spec import CampaignSpec
from tests.conftest import _reset_caches, run_cli
from tests.test_reliability import cluster  # noqa: F401  (the fixture)
from training.bootstrap import (
    check_provenance,
    focus_overrides,
    next_round_spec,
    sign_test_p,
)
from worker.job_runner import resolve_lineage

SIX = ["PickCube-v1", "PushCube-v1", "PullCube-v1", "StackCube-v1", "PlaceSphere-v1"]
FEWSHOT = {"kind": "llamacpp", "model": "smollm2-135m", "prompt": "v2fs", "temperature": 0.5}


def spec(**bootstrap) -> CampaignSpec:
    return CampaignSpec.from_dict(
        {
            "name": "b-r0",
            "tasks": SIX,
            "teacher": {**FEWSHOT, "threads": 1},
            "bootstrap": {"lineage": "b", **bootstrap},
        }
    )


def test_round_zero_samples_every_scene_and_keeps_every_verified_plan():
    s = spec(scenes=7, samples=3)
    assert (s.samples_per_seed, s.successes, s.attempt_cap) == (3, 21, 21)
    assert s.bootstrap_policy.round == 0 and s.bootstrap_policy.rounds == 4


@pytest.mark.parametrize(
    ("bootstrap", "words"),
    [
        ({"rounds": 0}, "bootstrap.rounds"),
        ({"alpha": 1.5}, "bootstrap.alpha"),
        ({"lineage": ""}, "bootstrap.lineage"),
        ({"typo": 1}, "unknown bootstrap field(s) typo"),
    ],
)
def test_a_bad_bootstrap_block_is_one_line(bootstrap, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        spec(**bootstrap)


def test_the_sign_test():
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(5, 0) == pytest.approx(1 / 32)
    assert sign_test_p(3, 1) == pytest.approx(5 / 16)  # P(X >= 3), X ~ Bin(4, 1/2)
    assert sign_test_p(1, 3) > 0.9


def test_the_sampling_rule_moves_samples_to_failing_tasks_within_the_same_budget():
    policy = BootstrapPolicy(lineage="b", samples=2, scenes=10)
    rates = {"PickCube-v1": 1.0, "PushCube-v1": 0.9, "LiftPegUpright-v1": 0.0}
    focused = focus_overrides(policy, rates)
    flat = focus_overrides(BootstrapPolicy(lineage="b", samples=2, scenes=10, focus=False), rates)
    assert {t: o["samples_per_seed"] for t, o in flat.items()} == dict.fromkeys(rates, 2)
    k = {t: o["samples_per_seed"] for t, o in focused.items()}
    assert k["LiftPegUpright-v1"] > k["PushCube-v1"] >= k["PickCube-v1"] >= 1
    assert abs(sum(k.values()) - sum(o["samples_per_seed"] for o in flat.values())) <= 1
    assert focused["LiftPegUpright-v1"]["temperature"] == 0.8
    assert focused["LiftPegUpright-v1"]["attempt_cap"] == 10 * k["LiftPegUpright-v1"]


def test_the_next_round_is_taught_by_the_lineage_on_fresh_seeds():
    s = spec(scenes=4)
    policy = s.bootstrap_policy
    nxt = next_round_spec(s, policy, dict.fromkeys(SIX, 0.5))
    assert nxt.name == "b-r1" and nxt.bootstrap["round"] == 1
    assert nxt.teacher["model"] == "b" and "prompt" not in nxt.teacher  # its training prompt
    assert nxt.teacher["threads"] == 1  # round 0's serving settings carry over
    assert nxt.seed_start > s.attempt_cap and nxt.seed_split == "train"
    assert set(nxt.task_overrides) == set(SIX)


def test_a_lineage_names_its_promoted_version_when_a_job_runs(blazer_env):
    config = {"model": "b", "temperature": 0.5}
    with session_scope() as s:
        assert resolve_lineage(s, config) == config  # nothing promoted yet
        s.add(ModelVersion(name="b-v1", base_model="smollm2-135m", lineage="b"))
        s.add(ModelVersion(name="b-v2", base_model="smollm2-135m", lineage="b"))
        s.flush()
        promote(s, "b-v1")
        assert resolve_lineage(s, config)["model"] == "b-v1"
        promote(s, "b-v2")
        assert resolve_lineage(s, config) == {"model": "b-v2", "temperature": 0.5}


def test_no_expert_text_enters_a_round(blazer_env):
    with session_scope() as s:
        campaigns.create_campaign(s, CampaignSpec.from_dict({"name": "x", "tasks": SIX}))
        with pytest.raises(ConfigError, match="taught by expert"):
            check_provenance(s, ["x"])
        campaigns.create_campaign(s, spec())
        check_provenance(s, ["b-r0"])  # an LLM teacher's campaign passes


def test_a_student_samples_through_llama_cpp_as_it_does_through_transformers(tmp_path):
    """The GGUF adapter on the Q4_1 base gives llama.cpp the logits transformers computes
    for base + peft adapter (a random adapter that moves them far): the same argmax nearly
    everywhere and a small logit gap, against a large one without the adapter."""
    import numpy as np
    import torch
    from llama_cpp import Llama
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from manip.teachers.gguf_adapter import export_gguf_adapter
    from manip.teachers.models import smollm2_folder, smollm2_gguf

    folder = smollm2_folder()
    tok = AutoTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(folder),
        LoraConfig(r=8, lora_alpha=16, target_modules=modules, lora_dropout=0.0),
    )
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.3)
    peft.save_pretrained(tmp_path / "adapter")
    gguf = export_gguf_adapter(
        tmp_path / "adapter", json.loads((folder / "config.json").read_text())
    )
    ids = tok("Move the gripper to the cube, then close it.\n```python\nmove_gripper(")["input_ids"]
    with torch.no_grad():
        hf = peft(torch.tensor([ids])).logits[0].numpy()

    def llama(lora: str | None) -> np.ndarray:
        llm = Llama(model_path=str(smollm2_gguf()), lora_path=lora, logits_all=True, verbose=False)
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)])

    with_adapter, without = llama(str(gguf)), llama(None)
    gap = float(np.abs(hf - with_adapter).mean())
    assert (hf.argmax(-1) == with_adapter.argmax(-1)).mean() >= 0.85
    assert gap < 0.25 * float(np.abs(hf - without).mean()), gap


@pytest.mark.cluster
def test_a_round_on_the_platform_survives_its_train_worker_being_killed(cluster):  # noqa: F811
    """Round 0 of a tiny lineage through the scheduler, a rollout worker and a train worker:
    the round's campaign ends, the scheduler hands a bootstrap run to the train queue, the
    train worker is killed mid-SFT and a second one resumes it: one version, trained from
    checkpoint on the round's LLM-verified plans only, validated against the few-shot base
    with the sign test, its decision and both held-out scores recorded."""
    cluster.env["BLAZER_TRAIN_LEASE_S"] = "60"
    bootstrap = {
        "lineage": "t",
        "rounds": 2,
        "scenes": 4,
        "samples": 2,
        "val_seeds": 2,
        "heldout_seeds": 1,
        "max_new_tokens": 200,
        "train": {"max_steps": 6, "effective_batch": 2, "micro_batch": 2, "ckpt_every": 1},
    }
    with session_scope() as s:
        campaigns.create_campaign(
            s,
            CampaignSpec.from_dict(
                {
                    "name": "t-r0",
                    "tasks": ["PushCube-v1"],
                    "teacher": {**FEWSHOT, "max_new_tokens": 200},
                    "block_size": 4,
                    "bootstrap": bootstrap,
                }
            ),
        )
    cluster.start_worker()
    cluster.start_scheduler()
    trainer = cluster.start("trainer", "worker", "--queues", "train", "--loglevel", "INFO")
    ckpts = cluster.tmp / "data" / "runs" / "sft-t-v1" / "checkpoints"

    def checkpointed() -> bool:
        return any(p.name[5:].isdigit() and int(p.name[5:]) >= 2 for p in ckpts.glob("step-*"))

    cluster.wait(checkpointed, 600, "the round's first checkpoint")
    cluster.kill(trainer)
    cluster.start("trainer", "worker", "--queues", "train", "--loglevel", "INFO")
    run = "SELECT state, metrics, error FROM training_runs WHERE kind = 'bootstrap'"
    cluster.wait(lambda: cluster.sql(run)[0][0] in ("done", "failed"), 900, "the round to end")
    ((state, metrics, error),) = cluster.sql(run)
    assert state == "done", (error, cluster.logs())
    metrics = metrics if isinstance(metrics, dict) else json.loads(metrics)
    assert metrics["version"] == "t-v1" and metrics["sources"] == ["t-r0"]
    assert cluster.sql("SELECT count(*) FROM model_versions WHERE lineage = 't'") == [(1,)]
    # the snapshot holds the round's verified plans only, all written by the LLM teacher
    teachers = cluster.sql(
        "SELECT DISTINCT e.teacher, e.success FROM dataset_members m "
        "JOIN episodes e ON e.id = m.episode_id JOIN datasets d ON d.id = m.dataset_id "
        "WHERE d.name = 't-v1-data'"
    )
    assert teachers and all(t.startswith("llamacpp:") and ok for t, ok in teachers), teachers
    steps = [
        json.loads(x)["step"] for x in (ckpts.parent / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps.count(1) == 1 and steps[-1] == 6, steps  # resumed, not restarted
    sign = metrics["sign_test"]
    assert metrics["promoted"] == (sign["wins"] > sign["losses"] and sign["p"] <= 0.1)
    assert set(metrics["heldout"]) == {"smollm2-135m-fewshot", "t-v1"}
    assert metrics["validation"]["t-v1"]["PushCube-v1"][1] == 2
    promoted = cluster.sql("SELECT promoted FROM model_versions WHERE name = 't-v1'")[0][0]
    assert promoted == metrics["promoted"]
    nxt = cluster.sql("SELECT name FROM campaigns WHERE name = 't-r1'")
    assert (nxt == [("t-r1",)]) == metrics["promoted"]
    with session_scope() as s:
        assert s.query(Campaign).filter_by(name="t-r0").one().state == "done"
    # the curve: one row per model, held-out success with intervals, and its picture
    shown = run_cli("models", "lineage", "t", "--out", str(cluster.tmp / "curve"), env=cluster.env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "t-v1" in shown.stdout and "smollm2-135m-fewshot" in shown.stdout
    assert (cluster.tmp / "curve" / "lineage.png").stat().st_size > 0


def test_an_sft_dpo_round_trains_its_candidate_from_the_sft_model_on_same_scene_pairs(
    tmp_path, monkeypatch
):
    """The loop's ablation, embedded: with dpo_minutes the round's SFT model is <v>-sft and
    its candidate <v> is DPO'd from that adapter on pairs of the round's own samples (a
    failure against a success of the same scene), then validated and decided as any round."""
    import yaml

    from models.db import upgrade

    env = {
        "BLAZER_DATABASE_URL": f"sqlite:///{tmp_path / 'blazer.db'}",
        "BLAZER_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("BLAZER_BROKER_URL", raising=False)
    _reset_caches()
    upgrade(env["BLAZER_DATABASE_URL"])
    tiny = {"max_steps": 2, "effective_batch": 2, "micro_batch": 2}
    path = tmp_path / "d.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "d-r0",
                "tasks": ["PushCube-v1"],
                "teacher": {**FEWSHOT, "max_new_tokens": 200},
                "block_size": 6,
                "bootstrap": {
                    "lineage": "d",
                    "rounds": 1,
                    "scenes": 6,
                    "samples": 2,
                    "val_seeds": 1,
                    "heldout_seeds": 1,
                    "heldout_base": False,
                    "max_new_tokens": 200,
                    "dpo_minutes": 1,
                    "train": tiny,
                },
            }
        )
    )
    done = run_cli("campaign", "run", str(path), env=env, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    with session_scope() as s:
        versions = {v.name: v for v in s.query(ModelVersion).filter_by(lineage="d")}
        assert set(versions) == {"d-v1-sft", "d-v1"}
        assert versions["d-v1"].parent_id == versions["d-v1-sft"].id
        runs = {
            r.kind: r
            for r in s.query(TrainingRun).filter(TrainingRun.kind.in_(["dpo", "bootstrap"]))
        }
        metrics = runs["bootstrap"].metrics
    assert runs["dpo"].state == "done"
    assert metrics["version"] == "d-v1" and metrics["dpo"]["pairs"] > 0
    assert set(metrics["heldout"]) == {"d-v1"}  # the base's held-out run was not asked for
    assert metrics["validation"]["d-v1"]["PushCube-v1"][1] == 1
    _reset_caches()
