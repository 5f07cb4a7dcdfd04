"""What blazer knows about each arm without starting a simulator: its reach, and the
workspace a plan is checked against when no scene is given (``blazer plan check`` without
``--task``). The boxes are what ManiSkill's table scene gives (``SceneState.workspace_*``),
measured once per robot; a scene, when there is one, is always the stricter check."""

from __future__ import annotations

from models.errors import ConfigError

# robot -> (workspace_min, workspace_max), metres, world frame (PickCube-v1's table scene)
DEFAULT_WORKSPACES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "panda": ((-0.615, -0.855, 0.0), (0.24, 0.855, 0.6)),
    "xarm6_robotiq": ((-0.522, -0.7, 0.0), (0.178, 0.7, 0.6)),
    "xarm7_robotiq": ((-0.522, -0.7, 0.0), (0.178, 0.7, 0.6)),
    "widowxai": ((-0.615, -0.6, 0.0), (-0.015, 0.6, 0.6)),
}


def default_workspace(robot: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    if robot not in DEFAULT_WORKSPACES:
        raise ConfigError(
            f"no default workspace for robot {robot!r} (known: {', '.join(DEFAULT_WORKSPACES)}); "
            "check against a scene with --task"
        )
    return DEFAULT_WORKSPACES[robot]
