"""Reading a running call into its view (`View`): what ■ means while it streams.

The session's one reader of a `ResponseStream`. The stream is read with
`cancel_on_exit=False`, so the decision about an interrupt is made here, whatever it landed
in: the view's code, the network wait, or one of the user's tools running.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from ..core.events import Event, Response

if TYPE_CHECKING:
    from ..client.stream import ResponseStream
    from .redaction import LiveRedaction

__all__ = ["View", "stream_into"]


class View(Protocol):
    """Where a running call is shown: the notebook and terminal views implement it."""

    def start(self, notes: list[str]) -> None: ...

    def on_event(self, event: Event | None) -> None:
        """An event, or None when the stream pauses (a chance to flush)."""

    def finish(
        self, response: Response, notes: list[str], record: dict[str, Any] | None = None
    ) -> None:
        """The call ended. `record` is the turn as a saved notebook keeps it (`saved.py`)."""

    def confirm_tool(self, name: str, arguments: str) -> bool:
        """Whether the user lets this tool call run (`confirm_tools`): buttons, or a prompt."""

    def tool_output(self, name: str) -> AbstractContextManager[object]:
        """Around a tool running in this call's cell: where what it prints or shows goes."""


def stream_into(
    view: View, stream: ResponseStream, live: LiveRedaction, *, answer_first: bool
) -> None:
    """Show the stream's events; ■ while QwQ thinks forces its answer, a second ■ stops.

    The stream is read with `cancel_on_exit=False`, so an interrupt that lands anywhere,
    even inside the view, leaves the call running until this decides what ■ meant.
    """
    while True:
        try:
            for event in stream.events(tick=0.05, cancel_on_exit=False):
                for shown in live.events(event):
                    view.on_event(shown)
            return
        except KeyboardInterrupt:
            if answer_first and stream.answer_now():
                answer_first = False  # the next ■ stops
                continue
            stream.cancel()
            return
        except BaseException:
            stream.cancel()
            raise
