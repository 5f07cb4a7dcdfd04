"""Simulator child process: answers JSON-line requests on a private pipe.

Run by ``IsolatedSimulator``; a segfault or hang here ends one episode, not the worker.
Requests: {"op": "reset", "task", "robot", "seed", "record"?} -> {"scene"}; {"op": "execute",
"steps"} -> {"result"}; {"op": "policy", "path"} -> {"result"} (a learned
policy run closed loop); {"op": "observe"} -> {"obs", "actors"} and {"op": "command",
"action"} -> {"checks"} (a policy driven step by step from outside); {"op": "close"}. Errors come back as {"error", "kind"}.

Fault injection for tests: BLAZER_SIM_FAULTS="crash:TASK:SEED,hang:TASK:SEED" makes the
reset of that scene segfault (SIGSEGV) or hang, "partial:TASK:SEED" write half a reply and exit; "nostart:*:0" makes the process exit
before it is ready (a simulator that cannot start).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from typing import Any

from manip.sim.base import SimConfig


def _faults(config: SimConfig) -> dict[tuple[str, int], str]:
    faults = {}
    for item in filter(None, config.faults.split(",")):
        kind, task, seed = item.split(":")
        faults[(task, int(seed))] = kind
    return faults


def _inject(fault: str | None, out) -> None:
    if fault == "partial":  # half a reply line, then gone (a child killed while writing)
        out.write('{"scene": {"task": "Pi')
        out.flush()
        os._exit(3)
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "hang":
        while True:
            time.sleep(3600)


def main() -> None:
    # Keep the protocol pipe private: libraries that print must not corrupt it.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from manip.plan_language import step_from_json
    from manip.sim.maniskill_backend import ManiSkillBackend
    from models.types import RecordSpec

    # the worker passes its resolved settings (IsolatedSimulator); run by hand, read them here
    config = (
        SimConfig.from_json(json.loads(sys.argv[1]))
        if len(sys.argv) > 1
        else SimConfig.from_settings()
    )
    faults = _faults(config)
    if "nostart" in faults.values():  # a simulator that cannot come up (tests)
        sys.exit(3)
    backend = ManiSkillBackend(config)  # first: it points ManiSkill at the robot assets
    if not config.third_party_logs:  # e.g. ManiSkill's "No initial pose set" for its own tasks
        import logging

        import mani_skill

        mani_skill.logger.setLevel(logging.ERROR)  # its logger is "mani_skill " (a space)
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["op"] == "reset":
                _inject(faults.get((req["task"], int(req["seed"]))), out)
                record = RecordSpec.from_spec(req.get("record"))
                scene = backend.reset(req["task"], req["robot"], req["seed"], record)
                reply: dict[str, Any] = {"scene": scene.to_json()}
            elif req["op"] == "execute":
                steps = [step_from_json(s) for s in req["steps"]]
                reply = {"result": backend.execute(steps).to_json()}
            elif req["op"] == "policy":
                reply = {"result": backend.run_policy(req["path"]).to_json()}
            elif req["op"] == "observe":
                obs, actors = backend.policy_observation()
                reply = {"obs": obs, "actors": actors}
            elif req["op"] == "command":
                reply = {"checks": backend.command(req["action"])}
            elif req["op"] == "perceive":
                scene, report = backend.perceive(
                    req["segmenter"], req.get("size"), tuple(req.get("drop", ()))
                )
                reply = {"scene": scene.to_json(), "report": report}
            elif req["op"] == "close":
                backend.close()
                out.write(json.dumps({"closed": True}) + "\n")
                return
            else:
                reply = {"error": f"unknown op {req['op']!r}", "kind": "protocol"}
        except Exception as exc:  # reported to the parent as this episode's sim_error
            kind = (
                "config" if exc.__class__.__name__ in ("ConfigError", "PerceptionError") else "sim"
            )
            reply = {
                "error": f"{exc.__class__.__name__}: {exc}",
                "kind": kind,
                "trace": traceback.format_exc(limit=5),
            }
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
