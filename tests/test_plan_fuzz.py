"""Property-based fuzz of the plan language: whatever a teacher writes, the parser answers
with steps or a PlanError (never another exception), and no plan that passes the checks
has a target outside the workspace."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manip.plan_language import (
    WORKSPACE_MARGIN_M,
    Move,
    PlanError,
    check_plan,
    parse_plan,
)
from models.types import ObjectState, SceneState

SCENE = SceneState(
    task="PickCube-v1",
    robot="panda",
    seed=0,
    description="pick the cube",
    objects=(ObjectState("cube", (0.0, 0.05, 0.02), 10.0, (0.04, 0.04, 0.04)),),
    ee_position=(0.0, 0.0, 0.2),
    ee_yaw_deg=0.0,
    gripper_open=True,
    workspace_min=(-0.615, -0.855, 0.0),
    workspace_max=(0.24, 0.855, 0.6),
    table_height=0.0,
)
FUZZ = settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

names = st.sampled_from(["cube", "goal", "p", "yaw", "x", "__import__", "open", "self", "cos"])
numbers = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(-2, 2, allow_nan=False).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["1e308", "-1e400", "float('nan')", "10**10", "0.0", "True", "None"]),
    # non-decimal integers, short and far past str(int)'s 4,300-digit limit
    st.tuples(st.sampled_from(["0x", "0X", "0o", "0b"]), st.integers(1, 6000)).map(
        lambda t: t[0] + ("1" if t[0][1] in "bB" else "7") * t[1]
    ),
)


def _exprs(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "//", "%", "@"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.tuples(inner, st.integers(-4, 4)).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(st.sampled_from(["cos", "sin", "abs", "len", "eval"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(inner, names).map(lambda t: f"{t[0]}.{t[1]}"),
        st.sampled_from(["'cube'", '"a" * 9', "lambda: 1", "{1: 2}", "(1, 2, 3)", "-x"]),
    )


expressions = st.recursive(st.one_of(numbers, names), _exprs, max_leaves=12)
calls = st.tuples(
    st.sampled_from(
        [
            "move_gripper",
            "execute_trajectory",
            "open_gripper",
            "close_gripper",
            "task_completed",
            "print",
            "exec",
            "getattr",
        ]
    ),
    st.lists(expressions, max_size=3),
    st.lists(
        st.tuples(st.sampled_from(["yaw", "tilt", "strength", "name", "x"]), expressions),
        max_size=2,
    ),
).map(lambda t: f"{t[0]}({', '.join([*t[1], *(f'{k}={v}' for k, v in t[2])])})")
statements = st.one_of(
    calls,
    st.tuples(names, expressions).map(lambda t: f"{t[0]} = {t[1]}"),
    st.tuples(names, expressions).map(lambda t: f"{t[0]}[0] = {t[1]}"),
    st.sampled_from(
        [
            "import os",
            "for i in range(3): open_gripper()",
            "while True: pass",
            "def f(): pass",
            "x += 1",
            "del x",
            "global x",
            "with a: pass",
            "pass",
        ]
    ),
)
programs = st.lists(statements, min_size=1, max_size=10).map(
    lambda lines: "```python\n" + "\n".join(lines) + "\n```"
)


def _outcome(text: str) -> list | None:
    """The checked plan, or None when refused; any other exception fails the test."""
    try:
        steps = parse_plan(text)
        check_plan(steps, SCENE)
    except PlanError as exc:
        assert exc.reason is not None and exc.message
        return None
    return steps


def _inside(steps: list) -> bool:
    lo = [v - WORKSPACE_MARGIN_M for v in SCENE.workspace_min]
    hi = [v + WORKSPACE_MARGIN_M for v in SCENE.workspace_max]
    return all(
        math.isfinite(v) and a <= v <= b
        for s in steps
        if isinstance(s, Move)
        for v, a, b in zip(s.position, lo, hi, strict=True)
    )


@FUZZ
@given(programs)
def test_random_programs_parse_or_are_refused_and_stay_in_the_workspace(text):
    steps = _outcome(text)
    assert steps is None or _inside(steps)


@FUZZ
@given(st.text(max_size=400))
def test_random_text_never_crashes_the_parser(text):
    for candidate in (text, f"```python\n{text}\n```"):
        steps = _outcome(candidate)
        assert steps is None or _inside(steps)


def test_the_fuzzer_reaches_accepted_plans():
    """The grammar is not all junk: some generated programs pass the checks."""
    accepted = []

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(programs)
    def collect(text):
        if _outcome(text):
            accepted.append(text)

    collect()
    assert accepted, "no generated program was accepted; the fuzz would test refusals only"
