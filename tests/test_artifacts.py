"""The artifact root against the episode rows (Reliability 3, storage gaps): orphans found and
removed, a row without a checksum never read, credentials kept out of rows and messages,
spool files kept when a shard cannot be written, ``blazer artifacts check``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from models.artifact_check import check_artifacts
from models.artifacts import (
    ArtifactError,
    ArtifactStore,
    public_url,
    read_episode,
    write_episode_file,
)
from models.db import session_scope
from models.orm import Episode
from models.recording import record_episodes
from models.types import EpisodeRecord
from scheduler import campaigns
from scheduler.spec import CampaignSpec
from tests.conftest import _reset_caches, run_cli


def episode_file(tmp: Path, name: str) -> str:
    path = tmp / f"{name}.h5"
    write_episode_file(path, {"actions": np.zeros((3, 8), np.float32)}, {"seed": 1})
    return str(path)


def shard_with_rows(tmp: Path, rel: str, seeds: list[int]) -> None:
    store = ArtifactStore(os.environ["BLAZER_DATA_DIR"] + "/artifacts")
    files = {f"s{s}-a0": (episode_file(tmp, f"e{s}"), 3) for s in seeds}
    refs = store.write_shard(rel, files)
    with session_scope() as s:
        c = campaigns.get_campaign(s, "art")
        record_episodes(
            s,
            [
                EpisodeRecord(
                    campaign_id=c.id,
                    task="PickCube-v1",
                    robot="panda",
                    seed=seed,
                    attempt=0,
                    teacher="expert",
                    success=False,
                    traj_uri=refs[f"s{seed}-a0"].uri,
                    traj_key=f"s{seed}-a0",
                    traj_sha256=refs[f"s{seed}-a0"].sha256,
                    traj_steps=3,
                )
                for seed in seeds
            ],
        )


@pytest.fixture
def art(blazer_env, tmp_path):
    with session_scope() as s:
        campaigns.create_campaign(
            s, CampaignSpec.from_dict({"name": "art", "tasks": ["PickCube-v1"]})
        )
    shard_with_rows(tmp_path, "campaign-1/a.h5", [1, 2])
    return tmp_path


def age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_orphans_are_listed_then_removed_and_rows_verified(art):
    root = Path(os.environ["BLAZER_DATA_DIR"]) / "artifacts"
    store = ArtifactStore(str(root))
    with session_scope() as s:
        report = check_artifacts(s, store)
    assert report.ok and report.rows == 2 and report.shards == 1
    # a job killed after its shard was written, before its rows: an orphan
    store.write_shard("campaign-1/killed.h5", {"s9-a0": (episode_file(art, "e9"), 3)})
    with session_scope() as s:
        report = check_artifacts(s, store)
    assert report.recent and not report.orphans  # too young: a job may still be recording
    age(root / "campaign-1" / "killed.h5", 7200)
    out = run_cli("artifacts", "check")
    assert out.returncode == 1 and "orphan: " in out.stdout and "killed.h5" in out.stdout
    out = run_cli("artifacts", "check", "--repair")
    assert out.returncode == 0 and "removed orphan" in out.stdout, out.stdout
    assert not (root / "campaign-1" / "killed.h5").exists()
    assert (root / "campaign-1" / "a.h5").exists()
    # a row whose bytes changed, and one whose checksum was never recorded
    with session_scope() as s:
        s.execute(update(Episode).where(Episode.seed == 1).values(traj_sha256="0" * 64))
        s.execute(update(Episode).where(Episode.seed == 2).values(traj_sha256=None))
    out = run_cli("artifacts", "check", "--json")
    assert out.returncode == 1 and "checksum mismatch" in out.stdout
    assert "no checksum recorded" in out.stdout


def test_a_row_without_a_checksum_is_never_read(art):
    with session_scope() as s:
        row = s.query(Episode).filter_by(seed=1).one()
        uri, key, sha = row.traj_uri, row.traj_key, row.traj_sha256
    assert read_episode(uri, key, sha).steps == 3
    with pytest.raises(ArtifactError, match="no recorded checksum"):
        read_episode(uri, key, None)


def test_credentials_stay_out_of_rows_and_messages(tmp_path, monkeypatch):
    url = "memory://key:s3cr3t@bucket/root"
    assert public_url("s3://AKIA:s3cr3t@bucket/x") == "s3://bucket/x"
    monkeypatch.setenv("BLAZER_ARTIFACTS_URL", url)
    _reset_caches()
    try:
        store = ArtifactStore(url)
        refs = store.write_shard("c/j.h5", {"s1-a0": (episode_file(tmp_path, "e1"), 3)})
        ref = refs["s1-a0"]
        assert "s3cr3t" not in ref.uri and ref.uri == "memory://bucket/root/c/j.h5"
        assert read_episode(ref.uri, ref.key, ref.sha256).steps == 3  # mapped to the root
    finally:
        monkeypatch.delenv("BLAZER_ARTIFACTS_URL")
        _reset_caches()


def test_a_failed_shard_write_keeps_the_spool_files(blazer_env, tmp_path, monkeypatch):
    """An artifact root that cannot take the shard after its retries: the rows say so and
    name the spool files, which stay (a transient store error loses no recording)."""
    from manip.rollout import Block, EpisodeOutcome
    from manip.sim.base import ExecutionResult
    from worker import trajectories

    monkeypatch.setattr(trajectories, "WRITE_BACKOFF_S", 0.01)
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    monkeypatch.setenv("BLAZER_ARTIFACTS_URL", str(root / "sub"))
    _reset_caches()
    try:
        spool = episode_file(tmp_path, "spooled")
        rec = EpisodeRecord(
            campaign_id=1, task="PickCube-v1", robot="panda", seed=1, attempt=0,
            teacher="expert", success=True,
        )  # fmt: skip
        execution = ExecutionResult(success=True, trajectory={"path": spool, "steps": 3})
        outcome = EpisodeOutcome(rec, execution=execution)
        block = Block(1, "PickCube-v1", "panda", [1], job_id=7)
        if os.geteuid() == 0:  # root writes anywhere: make the store fail as a full disk would

            def full(*_a, **_k):
                raise ArtifactError("artifact root cannot take a shard: no space left")

            monkeypatch.setattr(ArtifactStore, "write_shard", full)
        assert trajectories.store_trajectories(block, [outcome], 0) == 0
        assert Path(spool).exists() and spool in rec.traj_error
    finally:
        root.chmod(0o700)
        monkeypatch.delenv("BLAZER_ARTIFACTS_URL")
        _reset_caches()
