"""`%qwq explain`: the last error, its traceback and the failing cell, as a question."""

from __future__ import annotations

import re
import sys
import traceback
from typing import Any

from ..core.credentials import Credentials, redact

__all__ = ["explain_prompt"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def explain_prompt(shell: Any, credentials: Credentials) -> str | None:
    """The question to ask about the last exception, or None if there was none."""
    error = getattr(sys, "last_value", None)
    if error is None:
        return None
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    text = _ANSI.sub("", "".join(lines))
    cell = _failing_cell(shell, error)
    text = redact(text, credentials.secrets())
    parts = ["Explain the cause of this Python error and how to fix it. Be concise."]
    if cell:
        parts.append(
            f"The cell that failed:\n```python\n{redact(cell, credentials.secrets())}\n```"
        )
    parts.append(f"The traceback:\n```\n{text.strip()}\n```")
    return "\n\n".join(parts)


def _failing_cell(shell: Any, error: BaseException) -> str | None:
    """The source of the cell whose code raised, found through the traceback's frames."""
    filenames = getattr(getattr(shell, "compile", None), "_filename_map", {})
    history = shell.user_ns.get("In", [])
    frame = error.__traceback__
    number = None
    while frame is not None:
        number = filenames.get(frame.tb_frame.f_code.co_filename, number)
        frame = frame.tb_next
    if number is not None and 0 <= number < len(history):
        return str(history[number])
    return str(history[-2]) if len(history) >= 2 else None
