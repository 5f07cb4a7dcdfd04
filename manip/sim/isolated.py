"""Run the simulator in a child process with a deadline on every request.

A crash (segfault, OOM kill) or a hang costs one episode, recorded as ``sim_error`` or
``timeout``; the next request starts a fresh child.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from manip.plan_language import Step, step_to_json
from manip.sim.base import ExecutionResult, SimConfig, SimulatorError, SimulatorStartError
from models.errors import ConfigError
from models.settings import get_settings
from models.types import FailureReason, RecordSpec, SceneState

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


def sim_environment() -> dict[str, str]:
    """The child's environment: the CPU Vulkan driver (lavapipe) when the project installed one."""
    env = dict(os.environ)
    icd = (get_settings().vulkan_dir or REPO_ROOT / ".vulkan") / "lvp_icd.json"
    if "VK_ICD_FILENAMES" not in env and icd.exists():
        env["VK_ICD_FILENAMES"] = str(icd)
        lib = str(icd.parent / "root/usr/lib/x86_64-linux-gnu")
        env["LD_LIBRARY_PATH"] = lib + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else ""
        )
    env.setdefault("PYTHONPATH", str(REPO_ROOT))
    return env


def die_with_parent() -> None:
    """Run in a child before it starts: the kernel kills it when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class IsolatedSimulator:
    """The Simulator interface over a ``manip.sim.server`` child process."""

    def __init__(self, episode_timeout_s: float = 60.0, config: SimConfig | None = None) -> None:
        self.episode_timeout_s = episode_timeout_s
        self.config = config or SimConfig.from_settings()
        self._proc: subprocess.Popen | None = None
        self._recording = False
        self._buf = b""  # what the child wrote past the last full reply line
        self.restarts = 0

    def _start(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._buf = b""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "manip.sim.server", json.dumps(self.config.to_json())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            env=sim_environment(),
            cwd=str(REPO_ROOT),
            text=True,
            bufsize=1,
            preexec_fn=die_with_parent,
        )
        try:
            self._read(get_settings().sim_startup_timeout_s, "start")
        except SimulatorError as exc:
            raise SimulatorStartError(exc.reason, f"the simulator could not start: {exc}") from None
        return self._proc

    def _read(self, timeout_s: float, what: str) -> dict:
        """The child's next reply line, read from the pipe's descriptor with a deadline: a
        child that hangs mid-line still times out, and one that dies after half a line is a
        sim_error (never a JSON error that would fail the block)."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise SimulatorError(
                    FailureReason.TIMEOUT,
                    f"simulator did not answer {what} within {timeout_s:.0f} s; killed",
                )
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # end of the pipe: the child is gone
                cut = " mid-reply" if self._buf else ""
                self._buf = b""
                code = proc.wait(timeout=5)
                self._proc = None
                self.restarts += 1
                sig = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                raise SimulatorError(
                    FailureReason.SIM_ERROR, f"simulator process died{cut} during {what} ({sig})"
                )
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            self._kill()
            raise SimulatorError(
                FailureReason.SIM_ERROR, f"unreadable simulator reply during {what}; restarted"
            ) from None
        if not isinstance(reply, dict):
            self._kill()
            raise SimulatorError(FailureReason.SIM_ERROR, f"odd simulator reply during {what}")
        return reply

    def _request(self, req: dict, timeout_s: float, what: str) -> dict:
        proc = self._start()
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(req) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self._kill()
            raise SimulatorError(
                FailureReason.SIM_ERROR, f"simulator process gone before {what}"
            ) from None
        reply = self._read(timeout_s, what)
        if "error" in reply:
            if reply.get("kind") == "config":
                raise ConfigError(reply["error"].split(": ", 1)[-1])
            raise SimulatorError(FailureReason.SIM_ERROR, reply["error"])
        return reply

    def reset(
        self, task: str, robot: str, seed: int, record: RecordSpec | None = None
    ) -> SceneState:
        req = {"op": "reset", "task": task, "robot": robot, "seed": seed}
        if record is not None:
            req["record"] = record.to_json()
        self._recording = record is not None
        reply = self._request(req, self.episode_timeout_s, "reset")
        return SceneState.from_json(reply["scene"])

    def execute(self, steps: list[Step]) -> ExecutionResult:
        """A recorded episode renders cameras on the CPU: it gets the longer record limit."""
        req = {"op": "execute", "steps": [step_to_json(s) for s in steps]}
        timeout_s = get_settings().record_timeout_s if self._recording else self.episode_timeout_s
        return ExecutionResult.from_json(self._request(req, timeout_s, "execute")["result"])

    def run_policy(self, path: str) -> ExecutionResult:
        """A learned policy samples an action chunk every few steps: the record limit."""
        req = {"op": "policy", "path": path}
        timeout_s = max(get_settings().record_timeout_s, self.episode_timeout_s)
        return ExecutionResult.from_json(self._request(req, timeout_s, "policy")["result"])

    def policy_observation(self) -> tuple[list[float], list[str]]:
        reply = self._request({"op": "observe"}, self.episode_timeout_s, "observe")
        return reply["obs"], reply["actors"]

    def command(self, action: list[float]) -> dict[str, bool]:
        req = {"op": "command", "action": [float(a) for a in action]}
        return self._request(req, self.episode_timeout_s, "command")["checks"]

    def perceive(
        self, segmenter: str = "blocks", size: int | None = None, drop: tuple[str, ...] = ()
    ) -> tuple[SceneState, dict]:
        """The reset scene as the perception cameras see it (``ManiSkillBackend.perceive``)."""
        req = {"op": "perceive", "segmenter": segmenter, "size": size, "drop": list(drop)}
        reply = self._request(req, get_settings().record_timeout_s, "perceive")
        return SceneState.from_json(reply["scene"]), reply["report"]

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc is not None:
            self.restarts += 1
        self._proc = None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"op": "close"}) + "\n")
            proc.stdin.flush()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
