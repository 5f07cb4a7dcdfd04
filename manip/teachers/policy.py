"""A learned policy as a campaign's actor (``policy:NAME``, a version ``blazer train policy``
registered). It writes no plan: the rollout runs it closed loop in the simulator
(``Simulator.run_policy``), so it is evaluated by the same campaigns and tables as the LLMs."""

from __future__ import annotations

from pathlib import Path

from manip.policy.diffusion import POLICY_BASE
from manip.prompt import PROMPT_VERSION
from manip.teachers.base import Completion, TeacherRequest
from models.errors import ConfigError
from models.registry import find_model_version


def policy_checkpoint(name: str) -> str:
    """The checkpoint of the policy version ``name``, or one clear error."""
    version = find_model_version(name)
    if version is None or version.base_model != POLICY_BASE:
        raise ConfigError(f"no policy named {name!r}: train one with `blazer train policy`")
    if not version.adapter_path or not Path(version.adapter_path).exists():
        raise ConfigError(f"policy {name!r}: its checkpoint {version.adapter_path} is gone")
    return version.adapter_path


class PolicyTeacher:
    batched = False
    prompt_version = PROMPT_VERSION  # never prompted; recorded on its episodes all the same

    def __init__(self, model: str) -> None:
        self.policy_path = policy_checkpoint(model)

    def complete(self, requests: list[TeacherRequest]) -> list[Completion]:
        return [Completion(None, error="a policy acts in the simulator; it writes no plan")] * len(
            requests
        )

    def close(self) -> None:
        pass
