"""Recorded trajectories on disk: the episode file, the per-job shard, the artifact root.

An *episode file* is a small HDF5 file the simulator writes (arrays gzip-compressed, camera
frames as H.264 mp4 bytes, metadata as JSON attributes). A *shard* is one HDF5 file per job
delivery holding each episode file whole, as bytes under ``episodes/<key>``; the episode
row keeps the shard URL, the key, the byte size, the step count and the sha256 of those
bytes, so every read is checked. Shards go to the artifact root (``BLAZER_ARTIFACTS_URL``,
any fsspec URL) atomically: a local root gets temp file + rename, an object store gets one
whole-object put, so a worker killed mid-write leaves no shard, only a temp file that the
next writer in that folder sweeps.

Why HDF5 in HDF5: one file per job keeps the file count at jobs, not episodes (millions),
and a byte-exact episode gives a checksum a reader can verify without decoding anything.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.errors import BlazerError

if TYPE_CHECKING:  # numpy is imported where arrays are made: a worker's main process never needs it
    import numpy as np

TEMP_MAX_AGE_S = 3600.0  # a temp file this old was left by a killed writer


class ArtifactError(BlazerError):
    """The artifact root cannot take a shard (unwritable, full, missing), or a stored
    episode does not match its checksum."""


@dataclass(frozen=True)
class TrajectoryRef:
    uri: str
    key: str
    bytes: int
    steps: int
    sha256: str


def spool_dir() -> str:
    """Where the simulator process leaves finished episode files for its worker."""
    path = Path(tempfile.gettempdir()) / "blazer-spool"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


# episode files --------------------------------------------------------------------------------
def write_episode_file(path: Path, data: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    import h5py

    tmp = path.with_name(path.name + ".tmp")
    try:
        with h5py.File(tmp, "w") as f:
            for key, array in data.items():
                big = array.ndim > 0 and array.size > 64 and not key.startswith("video/")
                f.create_dataset(key, data=array, compression="gzip" if big else None)
            f.attrs["meta"] = json.dumps(meta)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class EpisodeData:
    """A stored episode, read into memory: arrays by key, metadata, decoded video frames."""

    def __init__(self, raw: bytes) -> None:
        import h5py

        self.arrays: dict[str, np.ndarray] = {}
        with h5py.File(io.BytesIO(raw), "r") as f:
            self.meta: dict[str, Any] = json.loads(f.attrs["meta"])
            f.visititems(
                lambda name, obj: (
                    self.arrays.__setitem__(name, obj[()])
                    if isinstance(obj, h5py.Dataset)
                    else None
                )
            )

    def group(self, prefix: str) -> dict[str, np.ndarray]:
        """{"actors/cube": array, ...} for the keys under ``prefix/``."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self.arrays.items() if k.startswith(prefix + "/")}

    def frames(self, camera: str) -> np.ndarray:
        return decode_video(self.arrays[f"video/{camera}"].tobytes())

    @property
    def steps(self) -> int:
        return len(self.arrays["actions"])


# video ----------------------------------------------------------------------------------------
class VideoEncoder:
    """An mp4 (yuv420p, what LeRobot's and common players read) written frames at a time,
    so a long export holds one episode's frames, never the whole video."""

    def __init__(self, target, fps: float, height: int, width: int, codec: str = "libx264"):
        import av

        self.container = av.open(target, "w", format="mp4")
        self.stream = self.container.add_stream(codec, rate=round(fps))
        self.stream.height, self.stream.width = height, width
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "23", "g": "2"} if codec == "libx264" else {"g": "2"}
        self.bytes = 0  # of the packets muxed so far (the file itself is written in blocks)

    def add(self, frames: np.ndarray) -> None:
        """(N, H, W, 3) uint8 frames."""
        import av

        for frame in frames:
            for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                self.bytes += packet.size
                self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def encode_video(frames: np.ndarray, fps: float, codec: str = "libx264") -> bytes:
    """(N, H, W, 3) uint8 -> mp4 bytes."""
    buf = io.BytesIO()
    video = VideoEncoder(buf, fps, frames.shape[1], frames.shape[2], codec)
    video.add(frames)
    video.close()
    return buf.getvalue()


def decode_video(data: bytes) -> np.ndarray:
    import av
    import numpy as np

    with av.open(io.BytesIO(data), "r") as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


# the artifact root ----------------------------------------------------------------------------
def public_url(url: str) -> str:
    """``url`` without credentials (``s3://key:secret@bucket`` -> ``s3://bucket``): what rows,
    logs and error messages hold. Reads map it back to the configured root."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://)[^/@]*@", r"\1", url)


def configured_url(uri: str) -> str:
    """A stored (credential-free) URI under the configured artifact root, as the root's own
    URL (with its credentials) spells it; any other URI as it is."""
    from models.settings import get_settings

    root = get_settings().resolved_artifacts_url().rstrip("/")
    public = public_url(root)
    return root + uri[len(public) :] if root != public and uri.startswith(public + "/") else uri


class ArtifactStore:
    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.local = "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )

    def uri(self, rel: str) -> str:
        return f"{public_url(self.url).rstrip('/')}/{rel}"

    def shards(self) -> list[str]:
        """Every shard under the root, as the URIs rows hold."""
        found = self.fs.find(self.root) if self.fs.exists(self.root) else []
        base = self.root.rstrip("/") + "/"
        return sorted(self.uri(p[len(base) :]) for p in found if str(p).endswith(".h5"))

    def remove(self, uri: str) -> None:
        self.fs.rm(f"{self.root.rstrip('/')}/{uri[len(self.uri('')) :]}")

    def write_shard(
        self, rel: str, episodes: dict[str, tuple[str, int]]
    ) -> dict[str, TrajectoryRef]:
        """Store episode files ({key: (spool path, steps)}) as one shard at ``rel``."""
        import h5py
        import numpy as np

        final = f"{self.root.rstrip('/')}/{rel}"
        if self.local:
            folder = Path(final).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._error(exc) from None
            _sweep_temps(folder)
            fd, tmp = tempfile.mkstemp(prefix=f".{Path(final).name}.", suffix=".tmp", dir=folder)
        else:
            fd, tmp = tempfile.mkstemp(suffix=".h5", dir=spool_dir())
        os.close(fd)
        refs: dict[str, TrajectoryRef] = {}
        try:
            with h5py.File(tmp, "w") as f:
                for key, (path, steps) in episodes.items():
                    raw = Path(path).read_bytes()
                    f.create_dataset(f"episodes/{key}", data=np.frombuffer(raw, np.uint8))
                    digest = hashlib.sha256(raw).hexdigest()
                    refs[key] = TrajectoryRef(self.uri(rel), key, len(raw), steps, digest)
            if self.local:
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
                _fsync_dir(Path(final).parent)  # the rename survives a power loss too
            else:  # an object store publishes a whole object or nothing
                self.fs.put_file(tmp, final)
        except OSError as exc:
            raise self._error(exc) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return refs

    def _error(self, exc: OSError) -> ArtifactError:
        what = {
            errno.ENOSPC: "no space left on the device",
            errno.EACCES: "permission denied",
            errno.EROFS: "read-only file system",
            errno.ENOTDIR: "a path part is not a folder",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        return ArtifactError(f"artifact root {public_url(self.url)} cannot take a shard: {what}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep_temps(folder: Path) -> None:
    cutoff = time.time() - TEMP_MAX_AGE_S
    for tmp in folder.glob(".*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except OSError:
            pass


def read_episode(uri: str, key: str, sha256: str | None) -> EpisodeData:
    """Read one stored episode back, checking its checksum (a row without one is refused:
    nothing is read unchecked)."""
    return EpisodeData(read_episode_bytes(uri, key, sha256))


def read_episode_bytes(uri: str, key: str, sha256: str | None) -> bytes:
    import fsspec
    import h5py

    if not sha256:
        raise ArtifactError(f"episode {key} in {uri} has no recorded checksum; not read")
    try:
        with fsspec.open(configured_url(uri), "rb") as fh, h5py.File(fh, "r") as f:
            raw = f[f"episodes/{key}"][()].tobytes()
    except (OSError, KeyError) as exc:
        raise ArtifactError(f"cannot read episode {key} from {uri}: {exc}") from None
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise ArtifactError(f"episode {key} in {uri} does not match its checksum")
    return raw
