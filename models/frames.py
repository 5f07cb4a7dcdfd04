"""The frame convention of the plan language, shared by the simulator and the real arm.

A plan says ``move_gripper(position, yaw, tilt)``; this turns yaw and tilt into the tool
centre point's orientation. One definition, so a plan means the same pose in ManiSkill and
on the Franka (robot_runtime/franka.py), and yaw_of_quat reads an object's yaw back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a pose is made: the expert and the prompt need only math
    import numpy as np


def gripper_quat(yaw_deg: float, tilt_deg: float) -> np.ndarray:
    """TCP orientation (w, x, y, z): pointing down, fingers closing along yaw, tilted about them.

    yaw 0 is the arm's rest orientation (fingers close along world -y); tilt turns the hand
    about the finger axis, towards the hand's +x, so a grasped object can be stood up.
    """
    import numpy as np
    from transforms3d.quaternions import mat2quat

    yaw, tilt = math.radians(yaw_deg), math.radians(tilt_deg)
    approaching = np.array([0.0, 0.0, -1.0])
    closing = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    ortho = np.cross(closing, approaching)
    base = np.stack([ortho, closing, approaching], axis=1)
    c, s = math.cos(tilt), math.sin(tilt)
    about_y = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return mat2quat(base @ about_y)


def yaw_of_quat(q) -> float:
    """Yaw about world z, degrees, of a (w, x, y, z) quaternion."""
    w, x, y, z = (float(v) for v in q)
    return math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
