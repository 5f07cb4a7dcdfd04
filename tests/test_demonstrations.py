"""Demonstrations for real: a campaign with ``record:`` on the embedded default and through
Celery, its shards, the LeRobot v3.0 export checked by lerobot's own dataset code, the
ManiSkill h5 export replayed by ManiSkill's own tool, ``episodes replay``, and the
failure arms (no render device, an unwritable or full artifact root, a redelivered job).

Images are 32x32 here to keep CI short; the sizes do not change any code path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from manip.sim.isolated import sim_environment
from models.artifacts import ArtifactStore, read_episode
from models.db import get_engine, session_scope, upgrade
from models.errors import ConfigError
from models.orm import Campaign, CampaignTask, Episode, Job
from models.types import FailureReason, RecordSpec
from tests.conftest import REPO, _reset_caches, run_cli

LEROBOT_SRC = REPO / ".cache" / "lerobot-0.4.4"
SPEC = """name: {name}
tasks: [PickCube-v1]
robots: [{robots}]
teacher: {{kind: {teacher}}}
successes: 1
attempt_cap: {cap}
block_size: 1
record: {{image_size: 32, fps: 20}}
"""


def write_spec(tmp: Path, name: str, robots: str = "panda", teacher: str = "expert", cap=2):
    path = tmp / f"{name}.yaml"
    path.write_text(SPEC.format(name=name, robots=robots, teacher=teacher, cap=cap))
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One embedded (SQLite) campaign: the expert on Panda and the xArm-7 (successes) and
    the noop teacher on Panda (failures), all recorded; one snapshot with both outcomes."""
    tmp = tmp_path_factory.mktemp("demos")
    env = {
        "BLAZER_DATABASE_URL": f"sqlite:///{tmp / 'blazer.db'}",
        "BLAZER_DATA_DIR": str(tmp / "data"),
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    mp.delenv("BLAZER_BROKER_URL", raising=False)
    _reset_caches()
    upgrade(env["BLAZER_DATABASE_URL"])
    ok = run_cli("campaign", "run", str(write_spec(tmp, "rec", "panda, xarm7_robotiq")), env=env)
    assert ok.returncode == 0, ok.stderr[-3000:]
    bad = run_cli("campaign", "run", str(write_spec(tmp, "recfail", teacher="noop")), env=env)
    assert bad.returncode == 0, bad.stderr[-3000:]
    built = run_cli(
        "dataset",
        "build",
        "--name",
        "demos",
        "--from",
        "rec",
        "--from",
        "recfail",
        "--all-outcomes",
        env=env,
    )
    assert built.returncode == 0, built.stdout + built.stderr[-2000:]
    yield tmp, env
    get_engine(env["BLAZER_DATABASE_URL"]).dispose()
    mp.undo()
    _reset_caches()


def episodes() -> list:
    with session_scope() as s:
        return list(s.scalars(select(Episode).order_by(Episode.id)))


def test_record_spec_defaults_and_bad_fields():
    spec = RecordSpec.from_spec({})
    assert spec == RecordSpec(True, ("base", "wrist"), 128, 20, False)
    assert RecordSpec.from_spec(None) is None
    for bad, message in [
        ({"cameras": ["top"]}, "record.cameras"),
        ({"image_size": 4}, "record.image_size"),
        ({"fps": "20"}, "record.fps"),
        ({"videos": True}, "unknown record field"),
        ({"trajectory": False, "cameras": []}, "records nothing"),
        ([1], "must be a mapping"),
    ]:
        with pytest.raises(ConfigError, match=message):
            RecordSpec.from_spec(bad)


def test_every_attempt_is_recorded_and_checksummed(recorded):
    tmp, _ = recorded
    rows = episodes()
    assert {r.robot for r in rows if r.success} == {"panda", "xarm7_robotiq"}
    failures = [r for r in rows if not r.success]
    assert failures and all(r.failure_reason == FailureReason.TASK_FAILED for r in failures)
    for row in rows:  # successes and failures alike
        assert row.traj_uri and row.traj_error is None, row.traj_error
        assert Path(row.traj_uri).is_file() and Path(row.traj_uri).parent.parent.parent.parent == (
            tmp / "data" / "artifacts"
        )
        ep = read_episode(row.traj_uri, row.traj_key, row.traj_sha256)
        t = ep.steps
        assert t == row.traj_steps > 0 and row.traj_bytes > 1000
        assert ep.arrays["actions"].shape[0] == t
        assert ep.arrays["obs/qpos"].shape[0] == ep.arrays["obs/tcp_pose"].shape[0] == t + 1
        assert all(v.shape[0] == t + 1 for v in ep.group("env_states").values())
        assert ep.meta["control_mode"] == "pd_joint_pos" and ep.meta["seed"] == row.seed
        for cam in ("base", "wrist"):  # fps = control rate: one frame per state
            assert ep.frames(cam).shape == (t + 1, 32, 32, 3)
        assert bool(ep.arrays["success"][-1]) == row.success
    # the wrist view moves with the hand: its first and last frames differ a lot
    ep = read_episode(rows[0].traj_uri, rows[0].traj_key, rows[0].traj_sha256)
    wrist = ep.frames("wrist").astype(float)
    assert np.abs(wrist[0] - wrist[-1]).mean() > 5
    assert not list((tmp / "data" / "artifacts").rglob("*.tmp"))  # nothing half-written


def test_a_checksum_mismatch_is_refused(recorded):
    row = episodes()[0]
    with pytest.raises(Exception, match="checksum"):
        read_episode(row.traj_uri, row.traj_key, "0" * 64)


def export(recorded, fmt: str, *flags: str, name: str | None = None) -> Path:
    tmp, env = recorded
    out = tmp / (name or fmt)
    done = run_cli(
        "dataset", "export", "demos", "--format", fmt, "--out", str(out), *flags, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"exported 'demos' as {fmt}" in done.stdout
    return out


def test_maniskill_h5_export_replays_in_maniskills_own_tool(recorded):
    _, env = recorded
    out = export(recorded, "maniskill-h5")
    meta = json.loads((out / "PickCube-v1_panda.json").read_text())
    assert meta["env_info"]["env_id"] == "PickCube-v1"
    ours = [e["success"] for e in meta["episodes"]]
    assert True in ours and False in ours  # the snapshot holds both outcomes
    for extra in ([], ["--use-env-states"]):
        replay = subprocess.run(
            [
                sys.executable,
                "-m",
                "mani_skill.trajectory.replay_trajectory",
                "--traj-path",
                str(out / "PickCube-v1_panda.h5"),
                *extra,
            ],
            capture_output=True,
            text=True,
            env=sim_environment(),
            timeout=600,
        )
        found = re.search(r"Replayed (\d+) episodes, (\d+)/", replay.stdout)
        assert found, replay.stdout[-2000:] + replay.stderr[-2000:]
        assert (int(found[1]), int(found[2])) == (len(ours), sum(ours)), (extra, replay.stdout)
    assert "blazer_note" not in json.loads((out / "PickCube-v1_panda.json").read_text())
    # blazer's own robots: the JSON and the export's output say why the plain tool cannot
    # reset them without states; the same tool with them registered can
    note = json.loads((out / "PickCube-v1_xarm7_robotiq.json").read_text())["blazer_note"]
    assert "places xarm7_robotiq" in note and "blazer sim replay-h5" in note
    xarm = run_cli("sim", "replay-h5", str(out / "PickCube-v1_xarm7_robotiq.h5"), env=env)
    assert "Replayed 1 episodes, 1/1" in xarm.stdout, xarm.stdout[-2000:] + xarm.stderr[-2000:]


def test_the_h5_export_names_what_the_plain_replay_tool_cannot_reset(recorded):
    tmp, env = recorded
    done = run_cli(
        "dataset", "export", "demos", "--format", "maniskill-h5", "--out", str(tmp / "h5n"), env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if "replay-h5" in line]
    assert len(lines) == 1 and "PickCube-v1_xarm7_robotiq.h5" in lines[0], done.stdout


WIDOWX_PUSH = """name: wxpush
tasks: [PushCube-v1]
robots: [widowxai]
teacher: {kind: expert}
successes: 2
attempt_cap: 8
block_size: 1
record: {image_size: 32, fps: 20}
"""


def plain_replay(h5: Path, *flags: str, assets: str) -> tuple[int, int]:
    """(replayed, succeeded) by ManiSkill's own ``replay_trajectory``, no blazer code."""
    replay = subprocess.run(
        [sys.executable, "-m", "mani_skill.trajectory.replay_trajectory", "--traj-path", str(h5)]
        + list(flags),
        capture_output=True,
        text=True,
        env={**sim_environment(), "MS_ASSET_DIR": assets},
        timeout=600,
    )
    found = re.search(r"Replayed (\d+) episodes, (\d+)/", replay.stdout)
    assert found, replay.stdout[-2000:] + replay.stderr[-2000:]
    return int(found[1]), int(found[2])


def test_a_widowx_ai_push_export_replays_in_the_plain_tool_only_from_its_states(
    tmp_path, monkeypatch
):
    """ManiSkill's PushCube has no WidowX AI layout and blazer places its base nearer the
    cube, so the plain tool, resetting from the seed alone, does not reproduce the episodes;
    from the first recorded state it does. The export's note says exactly that."""
    env = {
        "BLAZER_DATABASE_URL": f"sqlite:///{tmp_path / 'blazer.db'}",
        "BLAZER_DATA_DIR": str(tmp_path / "data"),
    }
    monkeypatch.delenv("BLAZER_BROKER_URL", raising=False)
    assert run_cli("db", "upgrade", env=env).returncode == 0
    (tmp_path / "wx.yaml").write_text(WIDOWX_PUSH)
    for args in (
        ("campaign", "run", str(tmp_path / "wx.yaml")),
        ("dataset", "build", "--name", "wx", "--from", "wxpush"),
    ):
        done = run_cli(*args, env=env)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    out = tmp_path / "h5"
    done = run_cli(
        "dataset", "export", "wx", "--format", "maniskill-h5", "--out", str(out), env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PushCube-v1_widowxai.h5: " in done.stdout and "replay-h5" in done.stdout, done.stdout
    from manip.sim.assets import setup_assets

    monkeypatch.delenv("MS_ASSET_DIR", raising=False)  # restored after: setup_assets sets it
    setup_assets()  # the copy the campaign's simulator made: ManiSkill cannot download these
    h5, assets = out / "PushCube-v1_widowxai.h5", os.environ["MS_ASSET_DIR"]
    with_states = plain_replay(h5, "--use-first-env-state", assets=assets)
    assert with_states == (2, 2)
    without = plain_replay(h5, assets=assets)
    assert without[0] == 2 and without[1] < 2, without


@pytest.mark.parametrize(
    "uid, env_id, why",
    [
        ("panda", "PickCube-v1", None),
        ("panda_wristcam", "StackCube-v1", None),
        ("xarm6_robotiq", "PushCube-v1", None),  # ManiSkill's table scene places it
        ("xarm6_robotiq_wristcam", "PushCube-v1", "places xarm6_robotiq_wristcam"),
        ("xarm7_robotiq", "PickCube-v1", "places xarm7_robotiq"),
        ("widowxai", "PickCube-v1", None),  # ManiSkill lays PickCube out for it
        ("widowxai", "PushCube-v1", "base nearer PushCube-v1"),
        ("panda", "PutBlock-v1", "blazer's own task"),
    ],
)
def test_which_exports_the_plain_tool_replays_without_states(uid, env_id, why):
    """Measured with ManiSkill's own tool (2 episodes each, no blazer code loaded): xArm-6
    PickCube/PushCube 2/2 without states, WidowX AI PushCube 0/2 without, 2/2 with
    --use-first-env-state. The note names exactly the cases that need states."""
    from manip.sim.agents import plain_replay_note

    note = plain_replay_note(uid, env_id)
    assert (note is None) if why is None else (why in note), note


def lerobot_probe(root: Path) -> dict:
    """What lerobot 0.4.4's own dataset code reads from ``root`` (tests/lerobot_probe.py)."""
    if not (LEROBOT_SRC / "lerobot").is_dir():
        subprocess.run(["bash", str(REPO / "scripts" / "fetch_lerobot_source.sh")], check=True)
    out = subprocess.run(
        [sys.executable, "-m", "tests.lerobot_probe", str(LEROBOT_SRC), str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_lerobot_export_loads_in_lerobots_own_dataset_class(recorded):
    root = export(recorded, "lerobot") / "panda"
    seen = lerobot_probe(root)
    info = seen["info"]
    assert sorted(info) == seen["template_keys"] and info["codebase_version"] == "v3.0"
    assert info["data_path"] == seen["data_path"] and info["video_path"] == seen["video_path"]
    for key, dtype in seen["default_features"].items():
        assert info["features"][key]["dtype"] == dtype
    assert info["features"]["action"]["names"][-1] == "gripper"
    assert info["features"]["observation.state"]["names"][0] == "panda_joint1"
    rows = [e for e in episodes() if e.robot == "panda"]
    assert seen["num_episodes"] == len(rows) and seen["fps"] == 20
    assert seen["len"] == sum(e.traj_steps for e in rows) == info["total_frames"]
    assert len(seen["tasks"]) == 1 and seen["tasks"][0][1] == 0
    assert seen["item3"]["frame_index"] == 3 and abs(seen["item3"]["timestamp"] - 3 / 20) < 1e-6
    assert seen["stat_shapes"]["action"] == [8]
    assert seen["stat_shapes"]["observation.images.base"] == [3, 1, 1]
    assert all(f["data"] == "data/chunk-000/file-000.parquet" for f in seen["files"])
    check_videos(seen, info, rows)


def check_videos(seen: dict, info: dict, rows: list) -> None:
    """lerobot's own probe reads each video file as info.json describes it, and every
    episode's span [from, to) of the file lerobot's metadata names holds exactly its frames,
    matching the recorded camera frames."""
    from models.artifacts import decode_video

    assert set(seen["videos"]) == {"observation.images.base", "observation.images.wrist"}
    for key, files in seen["videos"].items():
        decoded = {}
        for video in files:
            for field in (
                "video.height",
                "video.width",
                "video.codec",
                "video.pix_fmt",
                "video.fps",
            ):
                assert video["probe"][field] == info["features"][key]["info"][field], field
            decoded[video["path"]] = decode_video(Path(video["path"]).read_bytes())
        assert sum(len(f) for f in decoded.values()) == info["total_frames"]
        for ep_meta, files, row in zip(seen["episodes"], seen["files"], rows, strict=True):
            frames = decoded[str(Path(seen["root"]) / files[key])]
            start = round(ep_meta[f"videos/{key}/from_timestamp"] * 20)
            end = round(ep_meta[f"videos/{key}/to_timestamp"] * 20)
            assert end - start == ep_meta["length"] == row.traj_steps
            cam = key.rsplit(".", 1)[1]
            original = read_episode(row.traj_uri, row.traj_key, row.traj_sha256).frames(cam)[
                : end - start
            ]
            diff = np.abs(frames[start:end].astype(float) - original.astype(float)).mean()
            assert diff < 8, (cam, diff)  # the same pictures, re-encoded once


def test_lerobot_export_starts_new_files_past_the_size_limits(recorded):
    """With limits below one episode's size, every episode gets its own data, episode-record
    and video files (lerobot's rule), and lerobot's own code still loads the whole dataset:
    each record names its files, each video span starts at 0 of its own file."""
    root = export(
        recorded, "lerobot", "--data-file-mb", "0.001", "--video-file-mb", "0.001", name="small"
    )
    root = root / "panda"
    seen = lerobot_probe(root)
    info = seen["info"]
    rows = [e for e in episodes() if e.robot == "panda"]
    assert len(rows) >= 2 and seen["num_episodes"] == len(rows)
    assert info["data_files_size_in_mb"] == info["video_files_size_in_mb"] == 0.001
    assert seen["len"] == info["total_frames"] == sum(e.traj_steps for e in rows)
    assert [n for _, n in seen["rows_by_episode"]] == [e.traj_steps for e in rows]
    for i, (ep, files) in enumerate(zip(seen["episodes"], seen["files"], strict=True)):
        assert (ep["data/chunk_index"], ep["data/file_index"]) == (0, i)
        assert (ep["meta/episodes/chunk_index"], ep["meta/episodes/file_index"]) == (0, i)
        assert files["data"] == f"data/chunk-000/file-{i:03d}.parquet"
        for key in ("observation.images.base", "observation.images.wrist"):
            assert ep[f"videos/{key}/file_index"] == i and ep[f"videos/{key}/from_timestamp"] == 0
    assert len(list((root / "data").rglob("*.parquet"))) == len(rows)
    assert len(list((root / "meta" / "episodes").rglob("*.parquet"))) == len(rows)
    check_videos(seen, info, rows)
    # the defaults: one file of each
    one = lerobot_probe(export(recorded, "lerobot") / "panda")
    assert (
        one["info"]["data_files_size_in_mb"] == 100
        and len(one["videos"]["observation.images.base"]) == 1
    )


def test_an_export_starts_a_video_file_at_the_frame_cap_and_lerobot_loads_it(
    recorded, tmp_path, monkeypatch
):
    """With a frame cap below one episode, every episode gets its own video files while the
    data stays in one file (its size limit is not reached), and lerobot's own code loads it."""
    from training.datasets import export_dataset
    from training.exports import lerobot_v3

    monkeypatch.setattr(lerobot_v3, "VIDEO_FILE_FRAMES", 1)
    with session_scope() as s:
        root = export_dataset(s, "demos", "lerobot", tmp_path / "capped") / "panda"
    seen = lerobot_probe(root)
    rows = [e for e in episodes() if e.robot == "panda"]
    assert seen["num_episodes"] == len(rows) >= 2
    assert len(list((root / "data").rglob("*.parquet"))) == 1
    for key in ("observation.images.base", "observation.images.wrist"):
        assert len(list((root / "videos" / key).rglob("*.mp4"))) == len(rows)
        assert [ep[f"videos/{key}/file_index"] for ep in seen["episodes"]] == list(range(len(rows)))
    check_videos(seen, seen["info"], rows)


def test_file_size_flags_are_checked(recorded):
    _, env = recorded
    for flags, message in [
        (["--format", "jsonl", "--data-file-mb", "5"], "for --format lerobot"),
        (["--format", "lerobot", "--video-file-mb", "0"], "must be positive"),
    ]:
        out = run_cli("dataset", "export", "demos", *flags, env=env)
        assert out.returncode != 0 and message in out.stderr + out.stdout, out.stderr[-1000:]
        assert "Traceback" not in out.stderr


def test_episode_replay_reproduces_and_writes_a_video(recorded):
    tmp, env = recorded
    rows = episodes()
    xarm = next(r for r in rows if r.robot == "xarm7_robotiq")
    failed = next(r for r in rows if not r.success)
    video = tmp / "replay.mp4"
    out = run_cli("episodes", "replay", str(xarm.id), "--video", str(video), env=env)
    assert out.returncode == 0 and "replayed success: reproduced" in out.stdout, (
        out.stdout + out.stderr[-2000:]
    )
    from models.artifacts import decode_video

    frames = decode_video(video.read_bytes())
    assert frames.shape == (xarm.traj_steps + 1, 32, 64, 3)  # base | wrist, side by side
    out = run_cli("episodes", "replay", str(failed.id), env=env)
    assert out.returncode == 0 and "replayed failure: reproduced" in out.stdout, out.stdout


def test_a_redelivered_job_stores_nothing_twice(recorded):
    """Run a finished job again (as a redelivery would): its episodes are on record, so no
    new shard is written and every row still points at its first, intact shard."""
    tmp, _ = recorded
    from worker.job_runner import WorkerRuntime, execute_job

    before = {r.id: (r.traj_uri, r.traj_sha256) for r in episodes()}
    shards = sorted((tmp / "data" / "artifacts").rglob("*.h5"))
    with session_scope() as s:
        # the noop campaign's job: its task is still short of its success, so it is claimed
        job = s.scalars(select(Job).order_by(Job.id.desc())).first()
        s.execute(update(Job).where(Job.id == job.id).values(state="queued", worker=None))
        s.execute(
            update(CampaignTask)
            .where(CampaignTask.id == job.campaign_task_id)
            .values(attempt_cap=100)
        )
        s.execute(update(Campaign).where(Campaign.id == job.campaign_id).values(state="active"))
        job_id = job.id
    runtime = WorkerRuntime("redeliver")
    try:
        assert execute_job(job_id, runtime) == "done"
    finally:
        runtime.close()
    assert sorted((tmp / "data" / "artifacts").rglob("*.h5")) == shards
    assert {r.id: (r.traj_uri, r.traj_sha256) for r in episodes()} == before
    for row in episodes():
        read_episode(row.traj_uri, row.traj_key, row.traj_sha256)


@pytest.fixture
def fresh_db(tmp_path, monkeypatch):
    env = {
        "BLAZER_DATABASE_URL": f"sqlite:///{tmp_path / 'blazer.db'}",
        "BLAZER_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _reset_caches()
    upgrade(env["BLAZER_DATABASE_URL"])
    yield env
    get_engine(env["BLAZER_DATABASE_URL"]).dispose()
    _reset_caches()


@pytest.fixture
def full_disk(tmp_path):
    """A real 16 KiB file system: the first shard fills it."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("root", ["unwritable", "full"])
def test_an_artifact_root_that_cannot_take_shards(fresh_db, tmp_path, request, root):
    """The campaign still ends with every verdict on record; each episode says in one line
    why its trajectory is missing; no partial shard or temp file is left."""
    if root == "unwritable":
        (tmp_path / "afile").write_text("x")
        url, why = str(tmp_path / "afile" / "artifacts"), "a path part is not a folder"
    else:
        url, why = str(request.getfixturevalue("full_disk")), "no space left"
    env = {**fresh_db, "BLAZER_ARTIFACTS_URL": url}
    out = run_cli("campaign", "run", str(write_spec(tmp_path, "noroom")), env=env)
    assert out.returncode == 0 and "done" in out.stdout, out.stderr[-2000:]
    rows = episodes()
    assert rows and any(r.success for r in rows)
    for row in rows:
        assert (
            row.traj_uri is None
            and why in row.traj_error
            and "cannot take a shard" in row.traj_error
        )
    if root == "full":
        assert not [p for p in Path(url).rglob("*") if p.is_file()]
    replay = run_cli("episodes", "replay", str(rows[0].id), env=env)
    assert replay.returncode != 0 and why in replay.stderr + replay.stdout


def test_a_camera_that_cannot_render_fails_the_episode_with_the_reason(fresh_db, tmp_path):
    env = {**fresh_db, "VK_ICD_FILENAMES": str(tmp_path / "no-such-driver.json")}
    out = run_cli("campaign", "run", str(write_spec(tmp_path, "novk", cap=1)), env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    (row,) = episodes()
    assert row.failure_reason == FailureReason.SIM_ERROR and row.traj_uri is None
    assert "camera could not render: no Vulkan device" in row.failure_detail


def test_the_shard_writer_is_atomic_on_a_local_root(tmp_path):
    """A shard appears whole or not at all: a writer that dies leaves only a temp file,
    which the next writer in that folder sweeps once it is old."""
    import os
    import time

    store = ArtifactStore(str(tmp_path))
    (tmp_path / "c").mkdir()
    stale = tmp_path / "c" / ".job-1-d1.h5.abc.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    spool = tmp_path / "ep.h5"
    spool.write_bytes(b"\x89HDF-not-really")
    refs = store.write_shard("c/job-2-d1.h5", {"s0-a0": (str(spool), 3)})
    assert not stale.exists() and (tmp_path / "c" / "job-2-d1.h5").is_file()
    assert refs["s0-a0"].bytes == len(b"\x89HDF-not-really") and refs["s0-a0"].steps == 3


@pytest.mark.cluster
def test_a_recording_campaign_through_celery(pg_url, tmp_path, monkeypatch):
    """The same recording through Redis, a real Celery worker and PostgreSQL: the worker
    writes the shard under the shared artifact root and the rows point at it."""
    from models.types import CampaignState
    from scheduler import campaigns
    from scheduler.spec import CampaignSpec
    from tests.cluster import Cluster

    monkeypatch.setenv("BLAZER_DATABASE_URL", pg_url)
    _reset_caches()
    upgrade(pg_url)
    artifacts = tmp_path / "shared-artifacts"
    c = Cluster(
        pg_url, tmp_path, BLAZER_ARTIFACTS_URL=f"file://{artifacts}", BLAZER_EPISODE_TIMEOUT_S="60"
    )
    c.start_redis()
    try:
        spec = {
            "name": "celrec",
            "tasks": ["PickCube-v1"],
            "robots": ["xarm6_robotiq"],
            "successes": 2,
            "block_size": 1,
            "record": {"image_size": 32},
        }
        with session_scope() as s:
            campaigns.create_campaign(s, CampaignSpec.from_dict(spec))
        c.start_worker()
        c.start_scheduler()
        c.wait_done("celrec", 400)
        assert c.campaign_state("celrec") == CampaignState.DONE.value
        rows = c.sql(
            "SELECT success, traj_uri, traj_key, traj_sha256, traj_steps, worker "
            "FROM episodes ORDER BY id"
        )
        assert sum(r[0] for r in rows) == 2, c.logs()
        for _, uri, key, digest, steps, worker in rows:
            assert uri.startswith(f"file://{artifacts}/campaign-") and worker, (uri, worker)
            ep = read_episode(uri, key, digest)
            assert ep.steps == steps and ep.meta["robot_uid"] == "xarm6_robotiq_wristcam"
            assert ep.frames("wrist").shape[1:] == (32, 32, 3)
    finally:
        c.stop()
        _reset_caches()


def test_a_trajectory_recorded_without_cameras_replays_to_a_video(recorded):
    """Its env ran without a renderer (nothing to render); the replay still renders one."""
    tmp, env = recorded
    spec = tmp / "nocam.yaml"
    spec.write_text(
        SPEC.format(name="nocam", robots="panda", teacher="expert", cap=1).replace(
            "{image_size: 32, fps: 20}", "{cameras: [], fps: 20}"
        )
    )
    ran = run_cli("campaign", "run", str(spec), env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    with session_scope() as s:
        row = s.scalars(
            select(Episode)
            .join(Campaign, Campaign.id == Episode.campaign_id)
            .where(Campaign.name == "nocam")
        ).one()
    assert row.success and row.traj_steps, (row.failure_reason, row.failure_detail, row.traj_error)
    video = tmp / "nocam.mp4"
    out = run_cli("episodes", "replay", str(row.id), "--video", str(video), env=env)
    assert out.returncode == 0 and "replayed success: reproduced" in out.stdout, (
        out.stdout + out.stderr[-2000:]
    )
    from models.artifacts import decode_video

    assert decode_video(video.read_bytes()).shape[0] == row.traj_steps + 1


def test_relative_paths_land_in_the_callers_folder(recorded, tmp_path):
    """A relative --video or --out is the caller's, not the install folder's (the simulator
    child runs with the repository as its folder)."""
    _, env = recorded
    row = next(r for r in episodes() if r.traj_uri)
    out = run_cli("episodes", "replay", str(row.id), "--video", "rel.mp4", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "rel.mp4").stat().st_size > 0 and not (REPO / "rel.mp4").exists()
    out = run_cli(
        "dataset", "export", "demos", "--format", "jsonl", "--out", "d.jsonl", env=env, cwd=tmp_path
    )
    assert out.returncode == 0 and (tmp_path / "d.jsonl").exists(), out.stderr[-2000:]


def test_a_new_chunk_folder_every_chunks_size_files(tmp_path, monkeypatch):
    """lerobot's update_chunk_file_indices: file indices run to CHUNKS_SIZE - 1, then the
    chunk index moves on and the file index starts again at 0."""
    import pyarrow as pa

    from training.exports import lerobot_v3

    monkeypatch.setattr(lerobot_v3, "CHUNKS_SIZE", 2)
    files = lerobot_v3._Files(
        1e-6,
        lambda c, f: lerobot_v3._Parquet(
            tmp_path / lerobot_v3.DATA_PATH.format(chunk_index=c, file_index=f), 1
        ),
    )
    placed = []
    for i in range(5):
        writer, before = files.place(3)
        writer.add_table(pa.table({"x": [i, i, i]}))
        placed.append((files.chunk, files.file, before))
    files.close()
    assert placed == [(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 0), (2, 0, 0)]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")) == [
        "data/chunk-000/file-000.parquet",
        "data/chunk-000/file-001.parquet",
        "data/chunk-001/file-000.parquet",
        "data/chunk-001/file-001.parquet",
        "data/chunk-002/file-000.parquet",
    ]
    # a limit no episode reaches keeps one file, each episode after the last
    files = lerobot_v3._Files(100, lambda c, f: lerobot_v3._Parquet(tmp_path / "one.parquet", 10))
    assert [files.place(3)[1] for _ in range(3)] == [0, 3, 6]
    files.close()


def test_a_video_file_ends_before_it_would_pass_its_frame_cap(tmp_path):
    """An open mp4 holds an index entry per frame until it closes: a file ends before the
    next episode would take it past ``max_frames``, whatever its size in MB; an episode
    longer than the cap still gets a file of its own."""
    import pyarrow as pa

    from training.exports import lerobot_v3

    files = lerobot_v3._Files(
        100,
        lambda c, f: lerobot_v3._Parquet(tmp_path / f"f{f}.parquet", 1),
        max_frames=7,
    )
    placed = []
    for n in (3, 3, 3, 9, 1):
        writer, before = files.place(n)
        writer.add_table(pa.table({"x": list(range(n))}))
        placed.append((files.file, before))
    files.close()
    assert placed == [(0, 0), (0, 3), (1, 0), (2, 0), (3, 0)]
