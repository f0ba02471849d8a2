"""Running `%%qwq` and `%qwq` in a test shell and capturing what they print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
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


def terminal_ipython(typed: str, server: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Type `typed` at a real `ipython` prompt (plain, no colours), its keys for `server`."""
    env = dict(
        os.environ,
        CLOUDFLARE_ACCOUNT_ID=server.account_id,
        CLOUDFLARE_API_TOKEN=server.token,
        IPYTHONDIR=str(cwd),
    )
    return subprocess.run(
        [str(Path(sys.executable).with_name("ipython")), "--simple-prompt", "--no-banner",
         "--colors=NoColor"],
        input=typed,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=cwd,
    )  # fmt: skip
