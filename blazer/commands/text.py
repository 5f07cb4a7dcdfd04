"""Model text on a terminal: an LLM completion may hold rich markup (``[/bold]`` crashed a
table) or escape sequences (which the terminal would obey). Every command that prints model
text passes it through here."""

from __future__ import annotations

import re

# C0 and C1 control characters but newline and tab (ESC, CR, BEL, backspace, CSI ...)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without control characters (each shown as U+FFFD)."""
    return _CONTROL.sub("\ufffd", text)


def for_rich(text: str) -> str:
    """``printable`` and rich markup escaped: shown exactly as written."""
    from rich.markup import escape

    return escape(printable(text))
