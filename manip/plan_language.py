"""The plan language: untrusted teacher text -> a list of typed primitive steps.

A completion is Python-shaped text in one ```python block. It is parsed with ``ast`` and
walked through a whitelist; nothing is ever executed (no exec/eval/compile). Allowed:
numeric and string literals, lists/tuples, names assigned earlier in the block, indexing
them with an integer, + - * / and unary minus, ``cos(deg)`` and ``sin(deg)`` (degrees), and
calls of the primitives below as statements. Everything else is refused with a sentence naming the line and the rule.

    move_gripper([x, y, z], yaw=0, tilt=0)   # tool centre point to (x, y, z) metres, world frame;
                                             # yaw: degrees about z (0 = fingers close along y);
                                             # tilt: degrees about the finger axis (0 = pointing down)
    execute_trajectory([[x, y, z], ...], yaw=0, tilt=0)  # the same for each waypoint in turn
    open_gripper()
    close_gripper("name", strength=1.0)      # grasp the named object (strength 0.1-1)
    task_completed()
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from models.types import FailureReason, SceneState

MAX_COMPLETION_CHARS = 64_000
MAX_CODE_CHARS = 16_000
MAX_STEPS = 64
MAX_DEPTH = 12
MAX_NAMES = 128
MAX_LIST_LEN = 64
MAX_STRING_CHARS = 64
MAX_ABS_VALUE = 1_000.0
MAX_ABS_ANGLE_DEG = 360.0
WORKSPACE_MARGIN_M = 0.02

MATH_FUNCTIONS = {"cos": math.cos, "sin": math.sin}  # degrees in, pure, bounded output

# One way to split the header's blanks (a ``[ \t]*`` on each side of an optional word made
# "```" + many spaces quadratic): linear in the completion's length.
FENCE = re.compile(r"```[ \t]*(?:(?:python|py)[ \t]*)?\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
NON_DECIMAL_INT = re.compile(r"0[xob]", re.IGNORECASE)


@dataclass(frozen=True)
class Move:
    position: tuple[float, float, float]
    yaw_deg: float = 0.0
    tilt_deg: float = 0.0
    line: int = 0
    op: str = "move"


@dataclass(frozen=True)
class OpenGripper:
    line: int = 0
    op: str = "open"


@dataclass(frozen=True)
class CloseGripper:
    target: str | None = None
    strength: float = 1.0
    line: int = 0
    op: str = "close"


@dataclass(frozen=True)
class TaskCompleted:
    line: int = 0
    op: str = "done"


Step = Move | OpenGripper | CloseGripper | TaskCompleted


def step_to_json(step: Step) -> dict[str, Any]:
    return asdict(step)


def step_from_json(data: dict[str, Any]) -> Step:
    kind = {"move": Move, "open": OpenGripper, "close": CloseGripper, "done": TaskCompleted}[
        data["op"]
    ]
    fields = dict(data)
    if "position" in fields:
        fields["position"] = tuple(fields["position"])
    return kind(**fields)


class PlanError(Exception):
    """A refused completion: ``reason`` is the episode's failure reason."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _refuse(node: ast.AST | None, rule: str, reason=FailureReason.PARSE_ERROR) -> PlanError:
    where = f"line {node.lineno}: " if node is not None and hasattr(node, "lineno") else ""
    return PlanError(reason, where + rule)


def first_block_closed(text: str) -> bool:
    """True once a completion's first code block is opened and closed: nothing after it is
    read, so a teacher may stop generating there."""
    return text.count("```") >= 2


def extract_code(completion: str) -> str:
    """The first fenced code block of a completion; no block -> ``no_code``."""
    if len(completion) > MAX_COMPLETION_CHARS:
        raise PlanError(
            FailureReason.PARSE_ERROR,
            f"completion is {len(completion)} characters; the limit is {MAX_COMPLETION_CHARS}",
        )
    match = FENCE.search(completion)
    if match is None or not match.group(1).strip():
        raise PlanError(FailureReason.NO_CODE, "no ```python code block in the completion")
    return match.group(1)


def parse_plan(completion: str) -> list[Step]:
    """Parse a teacher completion into steps, or raise PlanError. Never runs the text."""
    code = extract_code(completion)
    if len(code) > MAX_CODE_CHARS:
        raise PlanError(
            FailureReason.PARSE_ERROR,
            f"code block is {len(code)} characters; the limit is {MAX_CODE_CHARS}",
        )
    _check_tokens(code)
    try:
        tree = ast.parse(code, mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"line {line}: " if line else ""
        raise PlanError(
            FailureReason.PARSE_ERROR, f"{where}not valid Python syntax ({exc.__class__.__name__})"
        ) from None
    return _Walker().run(tree)


def _check_tokens(code: str) -> None:
    """Refuse look-alike identifiers (ast would NFKC-normalise 'ｍove_gripper' to a primitive)
    and hex, octal and binary integers (their size escapes the decimal bound: 0x + 5,000 f's
    is an int too long for even an error message)."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.NUMBER and NON_DECIMAL_INT.match(tok.string):
                raise PlanError(
                    FailureReason.PARSE_ERROR,
                    f"line {tok.start[0]}: hex, octal and binary numbers are not allowed; "
                    "write decimal numbers",
                )
            if tok.type == tokenize.NAME and not tok.string.isascii():
                raise PlanError(
                    FailureReason.PARSE_ERROR,
                    f"line {tok.start[0]}: name {tok.string!r} has non-ASCII characters; "
                    "only plain ASCII names are allowed",
                )
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return  # ast.parse reports it with a line number


Value = float | str | list


class _Walker:
    PRIMITIVES = {
        "move_gripper",
        "execute_trajectory",
        "open_gripper",
        "close_gripper",
        "task_completed",
    }

    def __init__(self) -> None:
        self.names: dict[str, Value] = {}
        self.steps: list[Step] = []

    def run(self, tree: ast.Module) -> list[Step]:
        for stmt in tree.body:
            self._statement(stmt)
        if not self.steps:
            raise PlanError(FailureReason.NO_CODE, "the code block calls no primitive")
        return self.steps

    # statements -------------------------------------------------------------------------
    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise _refuse(stmt, "only simple assignments 'name = value' are allowed")
            name = stmt.targets[0].id
            if name in self.PRIMITIVES or name in MATH_FUNCTIONS or name.startswith("_"):
                raise _refuse(stmt, f"cannot assign to {name!r}")
            if len(self.names) >= MAX_NAMES and name not in self.names:
                raise _refuse(stmt, f"more than {MAX_NAMES} names")
            self.names[name] = self._value(stmt.value, 0)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._call(stmt.value)
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            return  # a docstring-like comment
        elif isinstance(stmt, ast.Pass):
            return
        else:
            kind = type(stmt).__name__
            raise _refuse(
                stmt,
                f"{kind} statements are not allowed; write primitive calls and simple assignments only",
            )

    def _call(self, call: ast.Call) -> None:
        if not isinstance(call.func, ast.Name):
            raise _refuse(call, "only the primitives may be called, by plain name (no attributes)")
        fname = call.func.id
        if fname not in self.PRIMITIVES:
            raise _refuse(
                call, f"{fname}() is not a primitive; allowed: {', '.join(sorted(self.PRIMITIVES))}"
            )
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            raise _refuse(call, "*args and **kwargs are not allowed")
        args = [self._value(a, 1) for a in call.args]
        kwargs = {k.arg: self._value(k.value, 1) for k in call.keywords}
        getattr(self, f"_p_{fname}")(call, args, kwargs)
        if len(self.steps) > MAX_STEPS:
            raise _refuse(call, f"more than {MAX_STEPS} steps")

    # primitives ---------------------------------------------------------------------------
    @staticmethod
    def _bind(call, args, kwargs, params: list[str], required: int) -> dict[str, Value]:
        if len(args) > len(params):
            raise _refuse(call, f"{call.func.id}() takes at most {len(params)} arguments")
        bound = dict(zip(params, args, strict=False))
        for key, value in kwargs.items():
            if key not in params:
                raise _refuse(
                    call, f"{call.func.id}() has no argument {key!r}; it takes {', '.join(params)}"
                )
            if key in bound:
                raise _refuse(call, f"{call.func.id}() got {key!r} twice")
            bound[key] = value
        missing = [p for p in params[:required] if p not in bound]
        if missing:
            raise _refuse(call, f"{call.func.id}() is missing {', '.join(missing)}")
        return bound

    def _angle(self, call, value: Value, what: str) -> float:
        if not isinstance(value, float):
            raise _refuse(call, f"{what} must be a number of degrees")
        if abs(value) > MAX_ABS_ANGLE_DEG:
            raise _refuse(
                call,
                f"{what}={value:g} is outside +-{MAX_ABS_ANGLE_DEG:g} degrees",
                FailureReason.UNSAFE_PLAN,
            )
        return value

    def _point(self, call, value: Value) -> tuple[float, float, float]:
        if not (
            isinstance(value, list) and len(value) == 3 and all(isinstance(v, float) for v in value)
        ):
            raise _refuse(call, "a position must be a list of three numbers [x, y, z] in metres")
        return (value[0], value[1], value[2])

    def _p_move_gripper(self, call, args, kwargs) -> None:
        b = self._bind(call, args, kwargs, ["position", "yaw", "tilt"], 1)
        self.steps.append(
            Move(
                self._point(call, b["position"]),
                self._angle(call, b.get("yaw", 0.0), "yaw"),
                self._angle(call, b.get("tilt", 0.0), "tilt"),
                call.lineno,
            )
        )

    def _p_execute_trajectory(self, call, args, kwargs) -> None:
        b = self._bind(call, args, kwargs, ["waypoints", "yaw", "tilt"], 1)
        points = b["waypoints"]
        if not isinstance(points, list) or not points:
            raise _refuse(
                call, "execute_trajectory() takes a non-empty list of [x, y, z] waypoints"
            )
        yaw = self._angle(call, b.get("yaw", 0.0), "yaw")
        tilt = self._angle(call, b.get("tilt", 0.0), "tilt")
        for point in points:
            self.steps.append(Move(self._point(call, point), yaw, tilt, call.lineno))

    def _p_open_gripper(self, call, args, kwargs) -> None:
        self._bind(call, args, kwargs, [], 0)
        self.steps.append(OpenGripper(call.lineno))

    def _p_close_gripper(self, call, args, kwargs) -> None:
        b = self._bind(call, args, kwargs, ["name", "strength"], 0)
        name = b.get("name")
        if name is not None and not isinstance(name, str):
            raise _refuse(call, "close_gripper() takes the object's name as a string")
        strength = b.get("strength", 1.0)
        if not isinstance(strength, float) or not 0.1 <= strength <= 1.0:
            raise _refuse(call, "close_gripper(strength=...) must be a number from 0.1 to 1")
        self.steps.append(CloseGripper(name, strength, call.lineno))

    def _p_task_completed(self, call, args, kwargs) -> None:
        self._bind(call, args, kwargs, [], 0)
        self.steps.append(TaskCompleted(call.lineno))

    # expressions --------------------------------------------------------------------------
    def _value(self, node: ast.expr, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise _refuse(node, f"expression nested deeper than {MAX_DEPTH}")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise _refuse(node, f"name {node.id!r} is not assigned earlier in the block")
            return self.names[node.id]
        if isinstance(node, ast.List | ast.Tuple):
            if len(node.elts) > MAX_LIST_LEN:
                raise _refuse(node, f"list longer than {MAX_LIST_LEN}")
            return [self._value(e, depth + 1) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = self._number(node, self._value(node.operand, depth + 1))
            return self._finite(node, -v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult | ast.Div
        ):
            return self._binop(node, depth)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, depth)
        if isinstance(node, ast.Call):
            return self._function(node, depth)
        kind = type(node).__name__
        raise _refuse(
            node,
            f"{kind} expressions are not allowed (only literals, names, lists, + - * /, indexing, "
            "cos, sin)",
        )

    def _constant(self, node: ast.Constant) -> Value:
        v = node.value
        if isinstance(v, bool) or v is None or v is Ellipsis:
            raise _refuse(node, f"literal {v!r} is not allowed; use numbers, strings and lists")
        if isinstance(v, int | float):
            if isinstance(v, int) and abs(v) > 10**6:  # never str(v): it may be too long to print
                raise _refuse(
                    node, f"a {v.bit_length()}-bit integer is too large", FailureReason.UNSAFE_PLAN
                )
            return self._finite(node, float(v))
        if isinstance(v, str):
            if len(v) > MAX_STRING_CHARS:
                raise _refuse(node, f"string longer than {MAX_STRING_CHARS} characters")
            return v
        raise _refuse(node, f"{type(v).__name__} literals are not allowed")

    def _binop(self, node: ast.BinOp, depth: int) -> Value:
        left = self._value(node.left, depth + 1)
        right = self._value(node.right, depth + 1)
        if isinstance(left, list) or isinstance(right, list):
            if isinstance(node.op, ast.Add) and isinstance(left, list) and isinstance(right, list):
                if len(left) + len(right) > MAX_LIST_LEN:
                    raise _refuse(node, f"list longer than {MAX_LIST_LEN}")
                return left + right
            raise _refuse(node, "arithmetic on lists is not allowed (only list + list)")
        a, b = self._number(node, left), self._number(node, right)
        if isinstance(node.op, ast.Div):
            if b == 0:
                raise _refuse(node, "division by zero")
            return self._finite(node, a / b)
        ops = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}
        return self._finite(node, ops[type(node.op)])

    def _function(self, node: ast.Call, depth: int) -> Value:
        """``cos(deg)`` / ``sin(deg)``: a grasp point offset along an object's yaw."""
        if not isinstance(node.func, ast.Name) or node.func.id not in MATH_FUNCTIONS:
            raise _refuse(
                node, "only cos(degrees) and sin(degrees) may be called inside an expression"
            )
        if len(node.args) != 1 or node.keywords:
            raise _refuse(node, f"{node.func.id}() takes one angle in degrees")
        angle = self._number(node, self._value(node.args[0], depth + 1))
        return self._finite(node, MATH_FUNCTIONS[node.func.id](math.radians(angle)))

    def _subscript(self, node: ast.Subscript, depth: int) -> Value:
        seq = self._value(node.value, depth + 1)
        index = self._value(node.slice, depth + 1)
        if not isinstance(seq, list) or not isinstance(index, float) or not index.is_integer():
            raise _refuse(node, "only a list indexed by an integer is allowed, e.g. p[0]")
        i = int(index)
        if not -len(seq) <= i < len(seq):
            raise _refuse(node, f"index {i} is out of range for a list of {len(seq)}")
        return seq[i]

    @staticmethod
    def _number(node, v: Value) -> float:
        if not isinstance(v, float):
            raise _refuse(node, "arithmetic needs numbers")
        return v

    @staticmethod
    def _finite(node, v: float) -> float:
        if not math.isfinite(v) or abs(v) > MAX_ABS_VALUE:
            raise _refuse(
                node,
                f"value {v!r} is not finite or exceeds {MAX_ABS_VALUE:g}",
                FailureReason.UNSAFE_PLAN,
            )
        return v


def check_plan(steps: list[Step], scene: SceneState) -> None:
    """Refuse plans that name unknown objects or leave the workspace, before any motion."""
    names = [o.name for o in scene.objects if o.kind == "object"]
    check_workspace(steps, scene.workspace_min, scene.workspace_max)
    for step in steps:
        if isinstance(step, CloseGripper) and step.target is not None and step.target not in names:
            raise PlanError(
                FailureReason.PARSE_ERROR,
                f"line {step.line}: close_gripper({step.target!r}) names no graspable object; "
                f"the scene has {', '.join(names)}",
            )


def check_workspace(steps: list[Step], low: Sequence[float], high: Sequence[float]) -> None:
    """Refuse a plan whose targets leave the box [low, high] (plus a small margin)."""
    lo = [v - WORKSPACE_MARGIN_M for v in low]
    hi = [v + WORKSPACE_MARGIN_M for v in high]
    for step in steps:
        if isinstance(step, Move):
            for axis, v, a, b in zip("xyz", step.position, lo, hi, strict=True):
                if not a <= v <= b:
                    raise PlanError(
                        FailureReason.UNSAFE_PLAN,
                        f"line {step.line}: target {axis}={v:.3f} m is outside the workspace "
                        f"[{a + WORKSPACE_MARGIN_M:.3f}, {b - WORKSPACE_MARGIN_M:.3f}] m",
                    )
