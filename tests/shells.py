"""Running `%%qwq` and `%qwq` in a test shell and capturing what they print."""

from __future__ import annotations

from typing import Any

from IPython.utils.capture import capture_output


def ask(shell: Any, cell: str, line: str = "") -> tuple[Any, str]:
    """Run a `%%qwq` cell; its value and its stdout."""
    with capture_output() as captured:
        value = shell.run_cell_magic("qwq", line, cell)
    return value, captured.stdout


def command(shell: Any, line: str) -> tuple[Any, str]:
    """Run a `%qwq` line command; its value and its stdout."""
    with capture_output() as captured:
        value = shell.run_line_magic("qwq", line)
    return value, captured.stdout


def session(shell: Any) -> Any:
    return shell.magics_manager.registry["QwQMagics"].session
