"""What a tool prints or shows while it runs in a cell, kept to be shown again.

The notebook's live view clears the cell when QwQ's answer starts and when the call ends
(`clear_output`), which would also erase what the user's function printed or displayed (a
progress line, a plot). `kept_output` lets it through as it happens and records it; the view
shows the record again below the final output. These are the user's own function's outputs,
shown as any cell's are.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["KeptOutput", "kept_output"]


@dataclass
class KeptOutput:
    """A tool's output, in order: ("stdout" | "stderr", text) or ("display", (data, metadata))."""

    name: str
    parts: list[tuple[str, Any]] = field(default_factory=list)

    def show(self) -> None:
        """Publish it again, as it came."""
        from IPython.display import publish_display_data

        for kind, part in self.parts:
            if kind == "display":
                data, metadata = part
                publish_display_data(data, metadata)
            else:
                stream = sys.stdout if kind == "stdout" else sys.stderr
                stream.write(part)
                stream.flush()


class _Tee:
    """A stream that writes through and remembers what the tool's thread wrote (a background
    cell printing meanwhile is not the tool's output)."""

    def __init__(self, target: TextIO, kind: str, kept: KeptOutput) -> None:
        self._target, self._kind, self._kept = target, kind, kept
        self._thread = threading.get_ident()

    def write(self, text: str) -> int:
        if threading.get_ident() == self._thread:
            parts = self._kept.parts
            if parts and parts[-1][0] == self._kind:  # one piece per run of text
                parts[-1] = (self._kind, parts[-1][1] + text)
            else:
                parts.append((self._kind, text))
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


@contextmanager
def kept_output(name: str) -> Iterator[KeptOutput]:
    """While a tool runs: its prints and displays go through, and are kept."""
    from IPython import get_ipython

    kept = KeptOutput(name)
    shell = get_ipython()
    publisher = getattr(shell, "display_pub", None)
    original_publish = getattr(publisher, "publish", None)

    thread = threading.get_ident()

    def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == thread:
            kept.parts.append(("display", (data, metadata)))
        assert original_publish is not None
        return original_publish(data, metadata, *args, **kwargs)

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, "stdout", kept), _Tee(err, "stderr", kept)
    if original_publish is not None:
        publisher.publish = publish  # type: ignore[union-attr]
    try:
        yield kept
    finally:
        sys.stdout, sys.stderr = out, err
        if original_publish is not None:
            publisher.publish = original_publish  # type: ignore[union-attr]
