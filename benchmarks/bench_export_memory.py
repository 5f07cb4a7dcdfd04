"""Peak memory and time of the LeRobot and ManiSkill-h5 exports at several snapshot sizes:
an export must stream (memory independent of the snapshot's size).

    .venv/bin/python benchmarks/bench_export_memory.py [--record 12] [--sizes 200,2000]

Records ``--record`` PickCube episodes once (expert, trajectory + base and wrist cameras at
32², SQLite in a scratch folder), then copies their rows until the campaign holds the
largest size: each copy points at the same shard (read and checksummed like any episode)
and differs in its attempt number and a comment in its plan (snapshots drop duplicate
(scene, plan) pairs). Each export runs as its own ``blazer dataset export`` process; its
peak RSS comes from ``wait4``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402


def blazer(env: dict[str, str], *args: str) -> float:
    """Seconds of one ``blazer`` process (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "blazer.cli", *args], env=env, cwd=ROOT, capture_output=True
    )
    if done.returncode:
        raise SystemExit(f"blazer {' '.join(args)} failed:\n{done.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def run_measured(env: dict[str, str], cwd: Path, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one ``blazer`` process, reaped here so that ``wait4``
    reports that child's own peak."""
    start = time.perf_counter()
    os.chdir(cwd)  # python -m takes the packages from the working directory first
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "blazer.cli", *args],
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ],
    )
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"blazer {' '.join(args)} failed (exit {status})")
    return wall, usage.ru_maxrss / 1024


def copy_rows(db: Path, target: int) -> int:
    """Copy the campaign's episodes until it holds ``target``; returns the count."""
    conn = sqlite3.connect(db)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(episodes)") if r[1] != "id"]
    have = conn.execute("SELECT count(*) FROM episodes WHERE success").fetchone()[0]
    base = conn.execute("SELECT max(id) FROM episodes WHERE attempt < 1000").fetchone()[0]
    k = conn.execute("SELECT max(attempt) FROM episodes").fetchone()[0] // 1000 + 1
    while have < target:
        select = ", ".join(
            f"attempt + {1000 * k}"
            if c == "attempt"
            else f"completion || '\n# copy {k}'"
            if c == "completion"
            else c
            for c in cols
        )
        conn.execute(
            f"INSERT INTO episodes ({', '.join(cols)}) SELECT {select} FROM episodes "
            f"WHERE success AND id <= {base} LIMIT {target - have}"
        )
        conn.commit()
        have = conn.execute("SELECT count(*) FROM episodes WHERE success").fetchone()[0]
        k += 1
    conn.close()
    return have


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", type=int, default=12)
    ap.add_argument("--sizes", default="200,2000")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (e.g. `git worktree add /tmp/old <commit>`) whose exports run "
        "on the same snapshots, in the same run",
    )
    ap.add_argument(
        "--file-mb",
        type=float,
        help="also export LeRobot with new data and video files past this size (lerobot's "
        "rollover at a size these snapshots reach; its defaults are 100 and 200 MB)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from manip.sim.isolated import sim_environment

    with tempfile.TemporaryDirectory(prefix="blazer-export-mem-") as tmp:
        scratch = Path(tmp)
        db = scratch / "bench.db"
        env = {
            **os.environ,
            **sim_environment(),
            "BLAZER_DATABASE_URL": f"sqlite:///{db}",
            "BLAZER_DATA_DIR": str(scratch / "data"),
        }
        spec = scratch / "rec.yaml"
        spec.write_text(
            f"name: rec\ntasks: [PickCube-v1]\nteacher: expert\nsuccesses: {args.record}\n"
            "block_size: 4\nrecord: {cameras: [base, wrist], image_size: 32}\n"
        )
        blazer(env, "db", "upgrade")
        record_s = blazer(env, "campaign", "run", str(spec))
        print(f"recorded {args.record} episodes in {record_s:.0f} s", flush=True)
        rows = []
        for size in sizes:
            copy_rows(db, size)
            name = f"s{size}"
            blazer(
                env, "dataset", "build", "--name", name, "--from", "rec", "--per-task", str(size)
            )
            codes = [("this", ROOT, ())]
            if args.file_mb:
                mb = str(args.file_mb)
                flags = ("--data-file-mb", mb, "--video-file-mb", mb)
                codes.append((f"this, files <= {mb} MB", ROOT, flags))
            if args.baseline:
                codes.append(("baseline", args.baseline, ()))
            for fmt in ("lerobot", "maniskill-h5"):
                for code, cwd, extra in codes:
                    if extra and fmt != "lerobot":
                        continue
                    out = scratch / "out" / f"{name}-{fmt}-{len(rows)}"
                    wall, rss = run_measured(
                        env,
                        cwd,
                        "dataset",
                        "export",
                        name,
                        "--format",
                        fmt,
                        "--out",
                        str(out),
                        *extra,
                    )
                    files = [p for p in out.rglob("*") if p.is_file()]
                    mb = sum(p.stat().st_size for p in files) / 1e6
                    rows.append(
                        [fmt, code, size, f"{wall:.1f}", f"{rss:.0f}", f"{mb:.1f}", len(files)]
                    )
                    print(rows[-1], flush=True)
    print_table(
        "Exports: peak RSS of the export process by snapshot size (PickCube, trajectory + two "
        "32² cameras; copies of recorded episodes)",
        ["format", "code", "episodes", "wall s", "peak RSS MB", "output MB", "files"],
        rows,
    )


if __name__ == "__main__":
    main()
