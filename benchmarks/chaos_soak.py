"""A chaos soak: a recording campaign (trajectories + base and wrist cameras) on a private
PostgreSQL, a private Redis and two Celery workers, while a chaos loop every 20-60 s (at
random) kill -9s a worker, kills a simulator child, restarts Redis or PostgreSQL, or makes
the artifact root refuse shards for a moment. Then it checks what a data platform must:

    python -m benchmarks.chaos_soak --minutes 30            # the soak (benchmarks/README.md)
    python -m benchmarks.chaos_soak --minutes 3 --per-task 6  # what tests/test_chaos.py runs

attempts started, rows, surplus, duplicate keys (must be 0), orphan shards (listed, then
removed by ``blazer artifacts check --repair``), rows whose shard fails its checksum (0),
exact N per task, and that the LeRobot and ManiSkill-h5 exports load and replay (ManiSkill's
own replay_trajectory success count equals the database's). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from benchmarks.common import print_table  # noqa: E402
from tests.cluster import Cluster  # noqa: E402
from tests.private_postgres import PrivatePostgres  # noqa: E402

TASKS = ("PickCube-v1", "PullCube-v1")
FAULTS = ("kill_worker", "kill_simulator", "restart_redis", "restart_postgres", "artifacts_away")


def cli(c: Cluster, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "blazer.cli", *args],
        cwd=ROOT,
        env=c.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Chaos:
    def __init__(self, c: Cluster, pg: PrivatePostgres, rng: random.Random) -> None:
        self.c, self.pg, self.rng = c, pg, rng
        self.workers = [c.start_worker() for _ in range(2)]
        self.done: list[tuple[float, str]] = []

    def once(self, started: float) -> None:
        fault = self.rng.choice(FAULTS)
        getattr(self, fault)()
        self.done.append((round(time.monotonic() - started, 1), fault))
        print(f"[chaos] {self.done[-1][0]:7.1f} s  {fault}", flush=True)

    def kill_worker(self) -> None:
        name = self.workers.pop(self.rng.randrange(len(self.workers)))
        self.c.kill(name)
        self.workers.append(self.c.start_worker())

    def kill_simulator(self) -> None:
        """kill -9 one simulator child of this soak's workers (never another run's)."""
        import psutil

        sims = [
            child
            for name in self.workers
            if name in self.c.procs
            for child in psutil.Process(self.c.procs[name].pid).children(recursive=True)
            if "manip.sim.server" in " ".join(child.cmdline())
        ]
        if sims:
            self.rng.choice(sims).kill()

    def restart_redis(self) -> None:
        self.c.restart_redis()

    def restart_postgres(self) -> None:
        self.pg.stop()
        time.sleep(self.rng.uniform(2, 8))
        self.pg.start()

    def artifacts_away(self) -> None:
        """A file where the campaign's shard folder should be: every shard write fails (as on
        a full or missing disk) for a few seconds, then the root is whole again."""
        root = Path(self.c.env["BLAZER_DATA_DIR"]) / "artifacts"
        root.mkdir(parents=True, exist_ok=True)
        moved = root.with_name("artifacts.held")
        root.rename(moved)
        root.write_text("in the way")
        time.sleep(self.rng.uniform(3, 10))
        root.unlink()
        moved.rename(root)


def soak(minutes: float, per_task: int | None, seed: int, image_size: int, out: Path) -> dict:
    """Faults until the campaign ends. With ``per_task`` None the campaign is sized to last
    ``minutes``: it starts open-ended, and every minute until then each task's N is set from
    the slowest task's successes per minute so far (the planner reads N every tick; successes
    past it are counted as surplus, never stored); after that N stays."""
    sizing = per_task is None
    per_task = per_task or 10**6
    rng = random.Random(seed)
    pg = PrivatePostgres()
    pg.start()
    tmp = Path(tempfile.mkdtemp(prefix="blazer-chaos-"))
    c = Cluster(pg.url, tmp, BLAZER_JOB_LEASE_S="20", BLAZER_EPISODE_TIMEOUT_S="60")
    try:
        c.start_redis()
        assert cli(c, "db", "upgrade").returncode == 0
        spec = tmp / "soak.yaml"
        spec.write_text(
            f"name: soak\ntasks: [{', '.join(TASKS)}]\nteacher: {{kind: expert}}\n"
            f"successes: {per_task}\nblock_size: 2\n"
            f"record: {{cameras: [base, wrist], image_size: {image_size}}}\n"
        )
        assert cli(c, "campaign", "create", str(spec)).returncode == 0
        chaos = Chaos(c, pg, rng)
        c.start_scheduler()
        started, sized_at = time.monotonic(), 0.0
        next_fault = started + rng.uniform(5, 15)  # the first one early: every run meets one
        while True:
            now = time.monotonic()
            try:
                state = c.sql("SELECT state FROM campaigns WHERE name = 'soak'")[0][0]
                if sizing and now - started >= sized_at + 60:
                    sized_at = now - started
                    per_task = size_for(c, minutes, sized_at) or per_task
                    sizing = sized_at < 60 * minutes
            except Exception:  # the database is restarting
                state = "active"
            if state != "active":
                break
            if now >= next_fault:
                chaos.once(started)
                next_fault = time.monotonic() + rng.uniform(20, 60)
            time.sleep(1.0)
        wall_s = time.monotonic() - started
        return check(c, chaos, per_task, wall_s, out)
    finally:
        c.stop()
        pg.remove()


MARGIN = 1.1  # aim past --minutes: a rate measured under faults runs a little fast


def size_for(c: Cluster, minutes: float, elapsed_s: float) -> int | None:
    """N per task so that the campaign ends ``minutes`` (and a margin) after it started, at the slowest
    task's success rate so far, written to every task line; None before every task has one."""
    done = [n for (n,) in c.sql("SELECT successes FROM campaign_tasks")]
    if not done or min(done) == 0:
        return None
    rate = min(done) / elapsed_s  # successes per second of the slowest task
    left_s = max(0.0, 60 * minutes * MARGIN - elapsed_s)
    n = max(max(done) + 1, min(done) + round(rate * left_s))
    with c.engine.begin() as conn:
        conn.execute(text("UPDATE campaign_tasks SET target_successes = :n"), {"n": n})
    print(f"[chaos] N = {n} per task ({60 * rate:.1f} successes/min)", flush=True)
    return n


def check(c: Cluster, chaos: Chaos, per_task: int, wall_s: float, out: Path) -> dict:
    state = c.sql("SELECT state FROM campaigns WHERE name = 'soak'")[0][0]
    lines = c.sql(
        "SELECT task, successes, attempts, surplus_discarded FROM campaign_tasks ORDER BY task"
    )
    rows = c.sql("SELECT count(*) FROM episodes")[0][0]
    dups = c.sql(
        "SELECT count(*) FROM (SELECT 1 FROM episodes GROUP BY campaign_id, task, robot, seed, "
        "attempt HAVING count(*) > 1) d"
    )[0][0]
    stored = dict(c.sql("SELECT task, count(*) FROM episodes WHERE success GROUP BY task"))
    report = {"wall_s": round(wall_s, 1), "state": state, "per_task": per_task}
    report["faults"] = chaos.done
    report["attempts"] = sum(a for _, _, a, _ in lines)
    report["surplus"] = sum(s for _, _, _, s in lines)
    report["rows"] = rows
    report["duplicates"] = dups
    report["exact_n"] = all(stored.get(t) == per_task for t in TASKS)
    report["traj_errors"] = c.sql("SELECT count(*) FROM episodes WHERE traj_error IS NOT NULL")[0][
        0
    ]
    first = cli(c, "artifacts", "check", "--json")
    before = json.loads(first.stdout) if first.stdout.strip().startswith("{") else {}
    report["orphans_found"] = len(before.get("orphans", [])) + len(before.get("recent", []))
    report["corrupt"] = len(before.get("corrupt", []))
    report["missing"] = len(before.get("missing", []))
    # the orphans a killed worker left: old enough to remove once nothing is in flight
    for path in Path(c.env["BLAZER_DATA_DIR"], "artifacts").rglob("*.h5"):
        t = time.time() - 7200
        os.utime(path, (t, t))
    repaired = cli(c, "artifacts", "check", "--repair", "--json")
    after = json.loads(repaired.stdout) if repaired.stdout.strip().startswith("{") else {}
    report["orphans_removed"] = len(after.get("removed", []))
    report["check_after_repair"] = cli(c, "artifacts", "check").returncode == 0
    report.update(exports(c, out))
    return report


def exports(c: Cluster, out: Path) -> dict:
    got: dict = {}
    built = cli(c, "dataset", "build", "--name", "soak", "--from", "soak", "--all-outcomes")
    if built.returncode != 0:
        return {"export_error": built.stderr[-500:]}
    h5 = out / "h5"
    cli(c, "dataset", "export", "soak", "--format", "maniskill-h5", "--out", str(h5))
    replayed, expected = 0, 0
    for task in TASKS:
        path = h5 / f"{task}_panda.h5"
        meta = json.loads(path.with_suffix(".json").read_text())
        expected += sum(e["success"] for e in meta["episodes"])
        run = cli(c, "sim", "replay-h5", str(path), timeout=3600)
        found = re.search(r"Replayed (\d+) episodes, (\d+)/", run.stdout)
        replayed += int(found[2]) if found else -(10**9)
    db_successes = c.sql("SELECT count(*) FROM episodes WHERE success AND traj_uri IS NOT NULL")[0][
        0
    ]
    got["h5_replay_successes"] = replayed
    got["h5_db_successes"] = db_successes
    got["h5_export_successes"] = expected
    lerobot = out / "lerobot"
    done = cli(c, "dataset", "export", "soak", "--format", "lerobot", "--out", str(lerobot))
    if done.returncode == 0:
        info = json.loads((lerobot / "panda" / "meta" / "info.json").read_text())
        steps = c.sql(  # the snapshot's episodes with a trajectory: what the export holds
            "SELECT coalesce(sum(e.traj_steps), 0), count(*) FROM episodes e "
            "JOIN dataset_members m ON m.episode_id = e.id JOIN datasets d ON d.id = m.dataset_id "
            "WHERE d.name = 'soak' AND e.traj_uri IS NOT NULL"
        )
        got["lerobot_frames"] = info["total_frames"]
        got["lerobot_episodes"] = info["total_episodes"]
        got["db_frames"], got["db_episodes"] = int(steps[0][0]), int(steps[0][1])
    else:
        got["lerobot_error"] = done.stderr[-500:]
    return got


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument(
        "--per-task",
        type=int,
        default=None,
        help="successes per task (default: sized to --minutes)",
    )
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "chaos")
    args = ap.parse_args()
    if args.minutes <= 0 or (args.per_task is not None and args.per_task <= 0):
        sys.exit("chaos_soak: --minutes and --per-task must be positive")
    args.out.mkdir(parents=True, exist_ok=True)
    report = soak(args.minutes, args.per_task, args.seed, args.image_size, args.out)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    faults = [f for _, f in report.pop("faults")]
    rows = [[k, str(v)] for k, v in report.items()]
    rows.append(["faults", ", ".join(f"{f} x{faults.count(f)}" for f in sorted(set(faults)))])
    print_table(f"chaos soak, {args.minutes:g} min", ["measure", "value"], rows)


if __name__ == "__main__":
    main()
