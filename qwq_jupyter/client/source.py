"""What a source of events is: the HTTP client, a cassette, the offline demo, a steered call.

Its own module so that every source, and what wraps one, can name the protocol without
importing the synchronous facade (`stream.py`) that reads them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from ..core.events import Event
from ..core.public import publish

if TYPE_CHECKING:
    from ..core.settings import QwQSettings
    from ..wire.request import HTTPRequest

__all__ = ["EventSource"]


class EventSource(Protocol):
    """Where a call's events come from: the HTTP client, a cassette, or the offline demo.

    Each turns a prepared request into batches of events (one batch per network read, or per
    recorded or scripted step), ending with one `Finish`.
    """

    def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]: ...


publish(globals())
