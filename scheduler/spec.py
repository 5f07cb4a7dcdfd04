"""Campaign specs checked against the registries (tasks x robots, teachers, prompt versions,
segmenters, the retrain policy) before anything is written or queued. The data type, its
defaults and the checks that need no registry are ``models.campaign_spec``'s."""

from __future__ import annotations

from typing import Self

from manip.prompt import check_version
from manip.sim.tasks import check_task_robot
from manip.teachers import TEACHERS
from models.campaign_spec import CampaignSpec as SpecData
from models.errors import ConfigError
from scheduler.retrain_policy import RetrainPolicy


class CampaignSpec(SpecData):
    """``models.campaign_spec.CampaignSpec`` whose ``validate`` also asks the registries."""

    def validate(self) -> Self:
        super().validate()
        for task in self.tasks:
            for robot in self.robots:
                check_task_robot(task, robot)
        kind = self.teacher.get("kind")
        if kind not in TEACHERS:
            raise ConfigError(f"spec: teacher.kind {kind!r} is not one of {', '.join(TEACHERS)}")
        prompt = self.teacher.get("prompt")
        if prompt is not None:
            try:
                check_version(prompt)
            except ConfigError as exc:
                raise ConfigError(f"spec: teacher.prompt: {exc}") from None
        if self.retrain is not None:
            RetrainPolicy.from_spec(self.retrain)
        self._check_scene()
        return self

    def _check_scene(self) -> None:
        if self.scene == "true":
            return  # no perception imports (scipy) for a spec that needs none
        from manip.perception.segmenters import SEGMENTERS
        from manip.sim.tasks import PERCEIVABLE

        mode, _, segmenter = str(self.scene).partition(":")
        if mode != "perceived" or (segmenter and segmenter not in SEGMENTERS):
            raise ConfigError(
                f"spec: 'scene' must be true or perceived[:{'|'.join(SEGMENTERS)}], got {self.scene!r}"
            )
        blind = [t for t in self.tasks if t not in PERCEIVABLE]
        if blind:
            raise ConfigError(
                f"spec: scene {self.scene} needs tasks the cameras can see; "
                f"{', '.join(blind)} cannot be perceived"
            )
        if self.simulator != "maniskill":
            raise ConfigError("spec: a perceived scene needs the maniskill simulator")
