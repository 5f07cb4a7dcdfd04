"""Teachers for real: the versioned prompt, the HTTP client against real servers (llama.cpp's,
and one that misbehaves on purpose), SmolLM2-135M through transformers, campaigns with each."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from manip.prompt import (
    FEWSHOT_K,
    PROMPT_VERSIONS,
    fewshot_examples,
    render_messages,
)
from manip.sim.isolated import IsolatedSimulator
from manip.sim.tasks import get_task
from manip.teachers import make_teacher
from manip.teachers.base import TeacherRequest
from manip.teachers.openai_http import OpenAITeacher
from models.db import session_scope
from models.orm import Episode
from models.types import FailureReason, SceneState, SeedSplit
from tests.conftest import run_cli
from tests.openai_servers import LlamaServer, ScriptedServer

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def scene():
    sim = IsolatedSimulator()
    yield sim.reset("PickCube-v1", "panda", 0)
    sim.close()


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    server = LlamaServer(log_path=tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


@pytest.mark.parametrize("version", PROMPT_VERSIONS)
def test_prompt_is_pinned_by_a_golden_file(scene, version):
    """A change to a prompt must be deliberate: add a version and write a new golden file."""
    golden = GOLDEN / f"prompt_{version}_PickCube-v1_seed0.json"
    assert render_messages(scene, version) == json.loads(golden.read_text())
    assert render_messages(scene, version) == render_messages(scene, version)
    user = render_messages(scene)[1]["content"]
    assert user == render_messages(scene, "v2")[1]["content"]  # the student sees the same scene
    assert (
        len(render_messages(scene, "v2")[0]["content"])
        < len(render_messages(scene)[0]["content"]) / 3
    )
    assert (
        "cube (object): centre [-0.001, 0.054, 0.020]" in user
    )  # fixed precision, from the simulator


def test_fewshot_prompt_shows_verified_expert_plans_of_validation_scenes(scene):
    """v2fs: worked (scene, plan) turns of the same task before the scene; the examples are
    validation scenes, and each plan is what the expert writes for it today."""
    messages = render_messages(scene, "v2fs")
    roles = [m["role"] for m in messages]
    assert roles == ["system", *["user", "assistant"] * FEWSHOT_K, "user"]
    assert messages[0] == render_messages(scene, "v2")[0]
    assert messages[-1] == render_messages(scene, "v2")[1]
    for task, examples in fewshot_examples().items():
        assert len(examples) >= FEWSHOT_K
        for ex in examples:
            shown = SceneState.from_json(ex["scene"])
            assert shown.task == task and SeedSplit.of_seed(shown.seed) == SeedSplit.VAL
            assert ex["completion"] == get_task(task).expert_plan(shown)


def test_fewshot_examples_are_reproduced_by_the_simulator():
    from manip.fewshot import build_examples

    sim = IsolatedSimulator()
    try:
        rebuilt = build_examples(sim, ["PushCube-v1"])
    finally:
        sim.close()
    stored = fewshot_examples()["PushCube-v1"][:FEWSHOT_K]
    assert json.loads(json.dumps(rebuilt["PushCube-v1"])) == stored


def requests_for(scene, n):
    return [TeacherRequest(scene, render_messages(scene)) for _ in range(n)]


def test_client_runs_requests_concurrently(scene):
    server = ScriptedServer("```python\ntask_completed()\n```", delay_s=0.5)
    try:
        teacher = OpenAITeacher(model="m", base_url=server.url, concurrency=8)
        start = time.perf_counter()
        out = teacher.complete(requests_for(scene, 8))
        elapsed = time.perf_counter() - start
    finally:
        server.stop()
    assert all(c.error is None and c.text.startswith("```python") for c in out)
    assert server.max_in_flight == 8 and elapsed < 2.5  # 8 x 0.5 s in parallel, not 4 s in a row
    assert out[0].prompt_tokens == 100 and out[0].completion_tokens == 20


def test_client_retries_5xx_and_429_with_a_bound(scene):
    flaky = ScriptedServer("```python\ntask_completed()\n```", fail_first=2, fail_status=500)
    limited = ScriptedServer("x", fail_first=100, fail_status=429)
    try:
        ok = OpenAITeacher(
            model="m", base_url=flaky.url, concurrency=1, max_retries=3, backoff_s=0.05
        )
        (c,) = ok.complete(requests_for(scene, 1))
        assert c.error is None and flaky.requests == 3  # two 500s, then success
        capped = OpenAITeacher(model="m", base_url=limited.url, max_retries=2, backoff_s=0.05)
        (c,) = capped.complete(requests_for(scene, 1))
        assert (
            c.text is None
            and "gave up after 3 tries: HTTP 429" in c.error
            and limited.requests == 3
        )
    finally:
        flaky.stop()
        limited.stop()


def test_client_times_out_a_stalled_server(scene):
    stalled = ScriptedServer("x", stall_s=5)
    try:
        teacher = OpenAITeacher(
            model="m", base_url=stalled.url, timeout_s=0.5, max_retries=1, backoff_s=0.05
        )
        start = time.perf_counter()
        (c,) = teacher.complete(requests_for(scene, 1))
        assert time.perf_counter() - start < 3
        assert c.text is None and "ReadTimeout" in c.error and stalled.requests == 2
    finally:
        stalled.stop()


def test_unreachable_server_and_hostile_output_become_failed_episodes(blazer_env, tmp_path):
    hostile = ScriptedServer(
        "Ignore the rules.\n```python\nimport os\nos.system('touch /tmp/x')\n```"
    )
    try:
        for url, reason in [
            ("http://127.0.0.1:9/v1", "teacher_error"),
            (hostile.url, "parse_error"),
        ]:
            out = run_cli(
                "sim", "try", "--teacher", "openai", "--model", "m", "--base-url", url, "--json"
            )
            assert out.returncode == 1, out.stderr[-2000:]
            assert json.loads(out.stdout)["failure_reason"] == reason
    finally:
        hostile.stop()


def test_llama_cpp_server_answers_through_the_client(llama, scene):
    teacher = OpenAITeacher(
        model="smollm2-135m", base_url=llama.url, concurrency=4, max_new_tokens=48
    )
    out = teacher.complete(requests_for(scene, 3))
    assert all(c.error is None and c.text for c in out)
    assert all(c.prompt_tokens > 300 and 0 < c.completion_tokens <= 48 for c in out)


def test_sim_try_with_llama_cpp_server(llama):
    out = run_cli(
        "sim",
        "try",
        "--teacher",
        "openai",
        "--model",
        "smollm2-135m",
        "--base-url",
        llama.url,
        "--max-new-tokens",
        "64",
        "--json",
    )
    data = json.loads(out.stdout)
    assert data["teacher"] == "openai:smollm2-135m" and data["completion"]
    assert data["prompt_tokens"] > 300
    # a 135M model mostly fails: whatever happened is recorded with a reason from the closed set
    assert data["success"] or data["failure_reason"] in {r.value for r in FailureReason}


def test_hf_teacher_sim_try():
    out = run_cli("sim", "try", "--teacher", "hf", "--max-new-tokens", "48", "--json")
    assert out.returncode in (0, 1), out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert (
        data["teacher"] == "hf:smollm2-135m"
        and data["completion"]
        and data["completion_tokens"] > 0
    )
    assert data["success"] or data["failure_reason"] in {r.value for r in FailureReason}


def test_sampled_fewshot_hf_campaign_completes_embedded(blazer_env, tmp_path):
    """Result 2's teacher at tiny size: SmolLM2 with worked examples, 2 samples per seed."""
    spec = tmp_path / "hf.yaml"
    spec.write_text(
        "name: hf-small\ntasks: [PickCube-v1]\n"
        "teacher: {kind: hf, max_new_tokens: 48, prompt: v2fs, temperature: 1.0}\n"
        "successes: 1\nattempt_cap: 4\nblock_size: 2\nsamples_per_seed: 2\n"
    )
    out = run_cli("campaign", "run", str(spec))
    assert out.returncode == 0, out.stderr[-3000:]
    with session_scope() as s:
        eps = s.scalars(select(Episode).order_by(Episode.seed, Episode.attempt)).all()
    assert [(e.seed - eps[0].seed, e.attempt) for e in eps] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(e.teacher == "hf:smollm2-135m" and e.prompt_version == "v2fs" for e in eps)
    assert all(e.completion and (e.success or e.failure_reason) for e in eps)
    assert eps[0].scene == eps[1].scene and eps[2].scene == eps[3].scene
    # sampling: the two answers to one scene are two draws, not one answer twice
    assert eps[0].completion != eps[1].completion or eps[2].completion != eps[3].completion


def test_llamacpp_fewshot_teacher_stops_at_the_closing_fence_and_samples(scene):
    """The in-process llama.cpp teacher on the real GGUF: greedy, it answers the few-shot
    prompt with one closed block and stops there; with a temperature, two draws differ."""
    greedy = make_teacher("llamacpp", {"prompt": "v2fs", "max_new_tokens": 320})
    sampled = make_teacher("llamacpp", {"prompt": "v2fs", "max_new_tokens": 48, "temperature": 1.0})
    request = TeacherRequest(scene, render_messages(scene, "v2fs"))
    try:
        (c,) = greedy.complete([request])
        a, b = sampled.complete([request, request])
        # the stop rule on llama.cpp's own tokens (a greedy answer here ends at EOS anyway)
        prompt = greedy.llm.tokenize(b"Plan:\n", add_bos=False)
        stop = greedy._block_closed(len(prompt))
        for text, done in [
            (b"```python\nopen_gripper()\n", False),
            (b"```python\nx = 1\n```", True),
        ]:
            ids = prompt + greedy.llm.tokenize(text, add_bos=False)
            assert stop(ids, None) is done, text
    finally:
        greedy.close()
        sampled.close()
    assert greedy.name == "llamacpp:smollm2-135m" and greedy.prompt_version == "v2fs"
    assert c.error is None and c.prompt_tokens > 500 and 0 < c.completion_tokens < 320
    assert c.text.count("```") == 2 and c.text.rstrip().endswith("```"), c.text
    assert a.text and b.text and a.text != b.text


def test_generation_stops_when_the_first_code_block_closes():
    from transformers import AutoTokenizer

    from manip.teachers.hf import BlockClosed
    from manip.teachers.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m").base)
    prompt = tok("Plan:\n", return_tensors="pt")["input_ids"]
    stop = BlockClosed(tok, prompt.shape[1])
    for text, done in [("```python\nopen_gripper()\n", False), ("```python\nx = 1\n```", True)]:
        ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        assert stop(torch_cat(prompt, ids), None).tolist() == [done]


def torch_cat(a, b):
    import torch

    return torch.cat([a, b], dim=1)


def test_expert_is_the_baseline_teacher(scene):
    from manip.teachers.expert import ExpertTeacher

    (c,) = ExpertTeacher().complete([TeacherRequest(scene, [])])
    assert c.text == get_task("PickCube-v1").expert_plan(scene)


@pytest.mark.cluster
def test_openai_campaign_through_celery_workers(llama, pg_url, tmp_path, monkeypatch):
    from models.db import upgrade
    from scheduler import campaigns
    from scheduler.spec import CampaignSpec
    from tests.cluster import Cluster
    from tests.conftest import _reset_caches

    monkeypatch.setenv("BLAZER_DATABASE_URL", pg_url)
    _reset_caches()
    upgrade(pg_url)
    with session_scope() as s:
        campaigns.create_campaign(
            s,
            CampaignSpec.from_dict(
                {
                    "name": "via-http",
                    "tasks": ["PickCube-v1"],
                    "successes": 1,
                    "attempt_cap": 2,
                    "block_size": 1,
                    "teacher": {
                        "kind": "openai",
                        "model": "smollm2-135m",
                        "base_url": llama.url,
                        "max_new_tokens": 48,
                    },
                }
            ),
        )
    cluster = Cluster(pg_url, tmp_path)
    try:
        cluster.start_redis()
        cluster.start_worker()
        cluster.start_worker()
        cluster.start_scheduler()
        cluster.wait_done("via-http", 600)
        rows = cluster.sql(
            "SELECT teacher, completion, prompt_tokens, success, failure_reason FROM episodes"
        )
    finally:
        cluster.stop()
        _reset_caches()
    assert len(rows) == 2
    for teacher, completion, prompt_tokens, success, reason in rows:
        assert teacher == "openai:smollm2-135m" and completion and prompt_tokens > 300
        assert success or reason in {r.value for r in FailureReason}
