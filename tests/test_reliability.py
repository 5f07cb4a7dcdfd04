"""The distributed platform under faults: real PostgreSQL, a real Redis, Celery worker and
scheduler processes. Each campaign must end with exactly N successes per task, no episode
key twice, and no job left open."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest

from models.db import session_scope, upgrade
from scheduler import campaigns
from scheduler.spec import CampaignSpec
from tests.cluster import Cluster
from tests.conftest import run_cli
from tests.private_postgres import PrivatePostgres

pytestmark = pytest.mark.cluster

TASKS = ["PickCube-v1", "PullCube-v1"]


@pytest.fixture
def cluster(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("BLAZER_DATABASE_URL", pg_url)
    from tests.conftest import _reset_caches

    _reset_caches()
    upgrade(pg_url)
    c = Cluster(pg_url, tmp_path)
    c.start_redis()
    yield c
    c.stop()
    _reset_caches()


def create(name: str, n: int, block: int = 2, tasks=TASKS) -> None:
    with session_scope() as s:
        campaigns.create_campaign(
            s,
            CampaignSpec.from_dict(
                {"name": name, "tasks": tasks, "successes": n, "block_size": block}
            ),
        )


def assert_exact(c: Cluster, name: str, n: int, tasks=TASKS) -> None:
    rows = c.sql(
        "SELECT e.task, count(*) FILTER (WHERE e.success), count(*), count(DISTINCT (e.seed, e.attempt)) "
        "FROM episodes e JOIN campaigns c ON c.id = e.campaign_id WHERE c.name = :n GROUP BY e.task",
        n=name,
    )
    by_task = {task: (succ, total, distinct) for task, succ, total, distinct in rows}
    assert set(by_task) == set(tasks), c.logs()
    for task, (succ, total, distinct) in by_task.items():
        assert succ == n, (task, succ, c.logs())
        assert total == distinct, f"{task}: an episode key was recorded twice"
    counters = c.sql(
        "SELECT t.task, t.successes, t.attempts - t.surplus_discarded FROM campaign_tasks t JOIN campaigns c ON c.id = t.campaign_id WHERE c.name = :n",
        n=name,
    )
    # every attempt that ran is counted; all but surplus successes are stored
    assert {t: (s, a) for t, s, a in counters} == {t: (v[0], v[1]) for t, v in by_task.items()}
    open_jobs = c.sql("SELECT count(*) FROM jobs WHERE state IN ('pending', 'queued', 'running')")[
        0
    ][0]
    assert open_jobs == 0


def assert_fast_finish(c: Cluster, name: str, limit_s: float = 30.0) -> None:
    """``done`` within ``limit_s`` of the last success it needed, dead workers or not."""
    (lag,) = c.sql(
        "SELECT extract(epoch FROM c.finished_at - max(e.created_at)) FROM campaigns c "
        "JOIN episodes e ON e.campaign_id = c.id AND e.success WHERE c.name = :n "
        "GROUP BY c.finished_at",
        n=name,
    )[0]
    print(f"{name}: done {float(lag):.1f} s after its last needed success")  # shown with -s
    assert float(lag) <= limit_s, (
        f"{name}: done {float(lag):.1f} s after its last success",
        c.logs(),
    )


def test_campaign_completes_with_two_workers(cluster):
    """One worker of each pool kind: prefork (jobs in a pool process) and solo (jobs in the
    worker's own process, whose only child is the simulator). The prefork parent is the lean
    process ``blazer worker`` becomes: the database stack is loaded only where jobs run."""
    import psutil

    create("plain", 4)
    prefork = cluster.start_worker()
    solo = cluster.start_worker("--pool", "solo")
    cluster.start_scheduler()
    cluster.wait_done("plain", 300)
    assert_exact(cluster, "plain", 4)
    assert_fast_finish(cluster, "plain")
    workers = {w for (w,) in cluster.sql("SELECT DISTINCT worker FROM episodes")}
    assert len(workers) == 2, "both workers should have taken jobs"
    solo_pid = cluster.procs[solo].pid
    assert any(w.startswith(f"blazer-{solo_pid}@") for w in workers), (workers, solo_pid)
    (child,) = psutil.Process(solo_pid).children()
    assert child.cmdline()[1:3] == ["-m", "manip.sim.server"]
    parent = psutil.Process(cluster.procs[prefork].pid)
    assert parent.cmdline()[1:3] == ["-m", "worker.celery_main"], parent.cmdline()
    (pool,) = (p for p in parent.children() if "manip.sim.server" not in p.cmdline())

    def database_libraries(p: psutil.Process) -> set[str]:
        return {m.path for m in p.memory_maps() if "sqlalchemy" in m.path or "psycopg" in m.path}

    assert not database_libraries(parent)
    assert database_libraries(pool)  # the pool process ran the jobs and recorded them
    assert cluster.sql("SELECT max(publishes), max(deliveries) FROM jobs WHERE state = 'done'")[
        0
    ] == (1, 1)


def test_kill_9_workers_mid_campaign(cluster):
    create("killed", 8)
    cluster.start_worker()
    cluster.start_worker()
    cluster.start_scheduler()
    killed_jobs = []
    for _ in range(2):  # kill -9 whichever worker holds a job, twice, and add a fresh worker

        def running_job():
            rows = cluster.sql("SELECT id, worker FROM jobs WHERE state = 'running'")
            return next(
                ((jid, cluster.owner_of(w)) for jid, w in rows if cluster.owner_of(w)), None
            )

        job_id, victim = cluster.wait(running_job, 120, "a worker to hold a job")
        cluster.kill(victim)
        killed_jobs.append(job_id)
        cluster.start_worker()
        time.sleep(2)
    cluster.wait_done("killed", 400)
    assert_exact(cluster, "killed", 8)
    assert_fast_finish(cluster, "killed")
    for job_id in killed_jobs:
        state, deliveries = cluster.sql(
            "SELECT state, deliveries FROM jobs WHERE id = :j", j=job_id
        )[0]
        # re-delivered to another worker and finished, or cancelled because its task filled up
        assert (state == "done" and deliveries >= 2) or state == "cancelled", (
            job_id,
            state,
            deliveries,
        )


def test_redis_restart_mid_campaign(cluster):
    create("redis", 6)
    cluster.start_worker()
    cluster.start_worker()
    cluster.start_scheduler()
    cluster.wait(
        lambda: cluster.sql("SELECT count(*) FROM episodes")[0][0] >= 2, 120, "the first episodes"
    )
    cluster.restart_redis()
    cluster.wait_done("redis", 400)
    assert_exact(cluster, "redis", 6)
    # the scheduler saw the broker come back empty and published the lost jobs again
    assert "broker restarted" in cluster.log_text("scheduler"), cluster.logs()


def test_database_connections_dropped_mid_campaign(cluster):
    """What workers and the scheduler see when PostgreSQL restarts: every connection cut."""
    create("pgdrop", 6)
    cluster.start_worker()
    cluster.start_worker()
    cluster.start_scheduler()
    dbname = cluster.db_url.rsplit("/", 1)[1]
    clients = "SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
    for _ in range(3):
        cluster.wait(
            lambda: cluster.sql("SELECT count(*) FROM episodes")[0][0] >= 1, 120, "episodes"
        )
        # the processes are connected again (a scheduler may be backing off after the last cut)
        cluster.wait(lambda: cluster.sql(clients, d=dbname)[0][0] >= 1, 60, "a client to reconnect")
        killed = cluster.sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :d AND pid <> pg_backend_pid()",
            d=dbname,
        )[0][0]
        assert killed >= 1
        time.sleep(3)
    cluster.wait_done("pgdrop", 400)
    assert_exact(cluster, "pgdrop", 6)


def rabbitmqctl(*args: str) -> str:
    out = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def rabbit_cluster(pg_url, tmp_path, monkeypatch):
    """The cluster with RabbitMQ as the broker (a virtual host of its own) instead of Redis."""
    from tests.conftest import _reset_caches

    vhost = f"blazer-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    monkeypatch.setenv("BLAZER_DATABASE_URL", pg_url)
    _reset_caches()
    upgrade(pg_url)
    c = Cluster(
        pg_url,
        tmp_path,
        BLAZER_BROKER_URL=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        BLAZER_QUEUED_CHECK_S="8",
    )
    c.vhost = vhost
    yield c
    c.stop()
    rabbitmqctl("delete_vhost", vhost)
    _reset_caches()


def test_rabbitmq_lost_messages_and_a_broker_restart(rabbit_cluster):
    """RabbitMQ as the broker: queued messages purged before any worker runs are noticed from
    the queue's own depth and published again (in seconds, not after queued_stale_s); then the
    broker application restarts mid-campaign and the campaign still ends exact."""
    cluster = rabbit_cluster
    create("rabbit", 6)
    cluster.start_scheduler()
    cluster.wait(
        lambda: cluster.sql("SELECT count(*) FROM jobs WHERE state = 'queued'")[0][0] >= 2,
        120,
        "jobs to be queued",
    )
    time.sleep(1)
    rabbitmqctl("purge_queue", "rollout", "-p", cluster.vhost)  # the messages are gone
    cluster.wait(  # no worker yet: only the queue's depth can tell the jobs are lost
        lambda: "message(s) in the queue; re-publishing" in cluster.log_text("scheduler"),
        90,
        "the scheduler to notice the lost messages",
    )
    cluster.start_worker()
    cluster.start_worker()
    cluster.wait(
        lambda: cluster.sql("SELECT count(*) FROM episodes")[0][0] >= 2, 180, "the first episodes"
    )
    rabbitmqctl("stop_app")
    time.sleep(3)
    rabbitmqctl("start_app")
    cluster.wait_done("rabbit", 400)
    assert_exact(cluster, "rabbit", 6)
    assert_fast_finish(cluster, "rabbit")


@pytest.fixture
def own_pg_cluster(tmp_path, monkeypatch):
    """A cluster on a PostgreSQL server of its own, which the test may stop and start."""
    from tests.conftest import _reset_caches

    pg = PrivatePostgres()
    pg.start()
    monkeypatch.setenv("BLAZER_DATABASE_URL", pg.url)
    _reset_caches()
    upgrade(pg.url)
    c = Cluster(pg.url, tmp_path)
    c.start_redis()
    yield c, pg
    c.stop()
    pg.remove()
    _reset_caches()


def test_postgres_stopped_and_started_under_campaign_run(own_pg_cluster):
    """The real thing: the server stops for 10 s mid-campaign. `blazer campaign run` (driving
    the scheduler) says it is waiting and goes on; the workers ride it out too."""
    cluster, pg = own_pg_cluster
    create("pgrestart", 6)
    cluster.start_worker()
    cluster.start_worker()
    runner = cluster.start(
        "run",
        "campaign",
        "run",
        "--name",
        "pgrestart",
        "--tasks",
        ",".join(TASKS),
        "-n",
        "6",
        "--block-size",
        "2",
    )
    cluster.wait(
        lambda: cluster.sql("SELECT count(*) FROM episodes")[0][0] >= 2, 180, "the first episodes"
    )
    cluster.engine.dispose()
    pg.stop()
    time.sleep(10)
    pg.start()
    proc = cluster.procs[runner]
    cluster.wait(lambda: proc.poll() is not None, 400, "campaign run to finish")
    assert proc.returncode == 0, cluster.logs()
    assert "waiting for the database or broker" in cluster.log_text("run"), cluster.logs()
    assert_exact(cluster, "pgrestart", 6)


def test_scheduler_killed_and_restarted_publishes_nothing_twice(cluster):
    create("sched", 6)
    cluster.start_worker()
    first = cluster.start_scheduler()
    second = cluster.start_scheduler()  # two at once: one holds the lease, the other stands by
    cluster.wait(
        lambda: cluster.sql("SELECT count(*) FROM episodes")[0][0] >= 2, 120, "the first episodes"
    )
    cluster.kill(first)
    cluster.kill(second)
    time.sleep(3)
    cluster.start_scheduler()
    cluster.wait_done("sched", 400)
    assert_exact(cluster, "sched", 6)
    assert cluster.sql("SELECT max(publishes), max(deliveries) FROM jobs")[0] == (1, 1)


def test_simulator_segfault_and_hang_cost_one_episode_each(cluster):
    create("faults", 3, block=3, tasks=["PickCube-v1"])
    faults = {
        "BLAZER_SIM_FAULTS": "crash:PickCube-v1:1,hang:PickCube-v1:2",
        "BLAZER_EPISODE_TIMEOUT_S": "8",
    }
    cluster.start_worker(env=faults)
    cluster.start_scheduler()
    cluster.wait_done("faults", 300)
    assert_exact(cluster, "faults", 3, tasks=["PickCube-v1"])
    reasons = dict(cluster.sql("SELECT seed, failure_reason FROM episodes WHERE seed IN (1, 2)"))
    assert reasons == {1: "sim_error", 2: "timeout"}
    detail = cluster.sql("SELECT failure_detail FROM episodes WHERE seed = 1")[0][0]
    assert "SIGSEGV" in detail


def test_a_failure_that_ends_after_the_task_filled_is_still_recorded(cluster):
    """One worker's simulator hangs on seed 0 while another worker fills the task: the
    hang's ``timeout`` episode is stored (it ran), not dropped as surplus."""
    create("late", 2, block=2, tasks=["PickCube-v1"])
    hang = {"BLAZER_SIM_FAULTS": "hang:PickCube-v1:0", "BLAZER_EPISODE_TIMEOUT_S": "40"}
    cluster.start_worker(env=hang)
    cluster.start_worker(env=hang)
    cluster.start_scheduler()
    cluster.wait_done("late", 300)
    assert_exact(cluster, "late", 2, tasks=["PickCube-v1"])
    assert cluster.sql("SELECT failure_reason FROM episodes WHERE seed = 0") == [("timeout",)]
    (late,) = cluster.sql(
        "SELECT (SELECT created_at FROM episodes WHERE seed = 0) > "
        "(SELECT max(created_at) FROM episodes WHERE success)"
    )[0]
    assert late, "the hang ended before the task filled: the surplus path was not exercised"
    (surplus,) = cluster.sql("SELECT surplus_discarded FROM campaign_tasks")[0]
    (attempts,) = cluster.sql("SELECT attempts FROM campaign_tasks")[0]
    (rows,) = cluster.sql("SELECT count(*) FROM episodes")[0]
    assert attempts == rows + surplus  # every attempt counted; every one but surplus stored


@pytest.mark.parametrize(
    ("why", "spec", "worker_env", "words"),
    [
        (
            "teacher config raises at construction",
            {"teacher": {"kind": "openai", "model": "m"}},
            {},
            "needs a base_url",
        ),
        ("simulator cannot start", {}, {"BLAZER_SIM_FAULTS": "nostart:*:0"}, "could not start"),
    ],
)
def test_jobs_that_raise_fail_and_the_campaign_ends_failed(cluster, why, spec, worker_env, words):
    """A job whose run raises is retried, then marked failed with the reason after
    BLAZER_JOB_MAX_DELIVERIES deliveries; a campaign whose jobs all fail ends failed."""
    with session_scope() as s:
        campaigns.create_campaign(
            s,
            CampaignSpec.from_dict(
                {
                    "name": "broken",
                    "tasks": ["PickCube-v1"],
                    "successes": 2,
                    "block_size": 2,
                    **spec,
                }
            ),
        )
    cluster.start_worker(env={"BLAZER_JOB_MAX_DELIVERIES": "2", **worker_env})
    cluster.start_scheduler()
    cluster.wait(lambda: cluster.campaign_state("broken") == "failed", 240, f"failure ({why})")
    jobs = cluster.sql("SELECT state, deliveries, error FROM jobs")
    assert jobs and all(state == "failed" for state, _, _ in jobs), jobs
    assert all(d == 2 and words in e and "after 2 deliveries" in e for _, d, e in jobs), jobs
    error = cluster.sql("SELECT error FROM campaigns WHERE name = 'broken'")[0][0]
    assert error.startswith("every job failed") and words in error
    shown = run_cli("campaign", "status", "broken", env=cluster.env)
    assert "failed job" in shown.stdout and words in shown.stdout, shown.stdout


def test_retrain_on_the_train_queue_resumes_after_its_worker_is_killed(cluster):
    """retrain: on the distributed path. K new successes make the scheduler enqueue a training
    run on the ``train`` queue; a train worker runs it; killed mid-run, the run goes back to
    the queue when its lease runs out and the next worker resumes from the checkpoint: one
    SFT run, one model version, steps not repeated from the start."""
    cluster.env["BLAZER_TRAIN_LEASE_S"] = "60"  # longer than one step on a loaded 2-core machine
    retrain = {
        "every": 2,
        "lineage": "pull",
        "eval_episodes": 1,
        "max_new_tokens": 16,
        "train": {
            "epochs": 8,
            "max_steps": 8,
            "effective_batch": 2,
            "micro_batch": 2,
            "ckpt_every": 1,
        },
    }
    with session_scope() as s:
        campaigns.create_campaign(
            s,
            CampaignSpec.from_dict(
                {
                    "name": "loop",
                    "tasks": ["PullCube-v1"],
                    "successes": 2,
                    "block_size": 2,
                    "retrain": retrain,
                }
            ),
        )
    cluster.start_worker()
    cluster.start_scheduler()
    trainer = cluster.start("trainer", "worker", "--queues", "train", "--loglevel", "INFO")
    ckpts = cluster.tmp / "data" / "runs" / "sft-pull-v1" / "checkpoints"

    def checkpointed() -> bool:  # step 2 or later saved (older ones are pruned)
        return any(p.name[5:].isdigit() and int(p.name[5:]) >= 2 for p in ckpts.glob("step-*"))

    cluster.wait(checkpointed, 400, "the first train worker's checkpoint")
    cluster.kill(trainer)
    cluster.start("trainer", "worker", "--queues", "train", "--loglevel", "INFO")
    trigger = (
        "SELECT state, worker, hyperparameters FROM training_runs WHERE campaign_id IS NOT NULL"
    )
    cluster.wait(
        lambda: cluster.sql(trigger)[0][0] in ("done", "failed"), 600, "the retrain to end"
    )
    ((state, _, _),) = cluster.sql(trigger)
    assert state == "done", cluster.logs()
    assert cluster.sql("SELECT count(*) FROM model_versions WHERE lineage = 'pull'") == [(1,)]
    assert cluster.sql(
        "SELECT count(*) FROM training_runs WHERE output_dir LIKE '%sft-pull-v1'"
    ) == [(1,)]
    steps = [
        json.loads(x)["step"] for x in (ckpts.parent / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps[0] == 1 and steps[-1] == 8 and steps.count(1) == 1, steps  # resumed, not restarted
    assert "resumed from step-" in cluster.log_text("trainer")
    assert cluster.campaign_state("loop") == "done"
