"""Reads from the network, bounded in time and size.

One deadline covers connecting, the response headers, an error body, a whole body and every
stream read: a timer cancels the wait itself, so a server that sends one byte a second is cut
off on time. Bodies are read in chunks and inflated in pieces, and stop at a cap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import httpx

from ..core.errors import (
    DeadlineExceeded,
)
from ..wire.inflate import PIECE as _PIECE  # noqa: F401 (tests/test_bounds.py reads it here)
from ..wire.inflate import Inflater
from ..wire.request import HTTPRequest

__all__ = ["Deadline", "content_encoding", "open_reply", "read_body"]

T = TypeVar("T")


class Deadline:
    """The call's overall deadline, enforced on every wait of one attempt.

    httpx's timeouts bound each network operation, so a server sending one byte a second never
    trips them. A timer cancels the task when the deadline passes while it waits inside the
    client (`waiting`); if the consumer of the events holds the task then, the next read sees
    `expired` instead. Two attribute writes per read: the streaming loop stays cheap.
    """

    def __init__(self, seconds_left: float, total: float) -> None:
        self.expired = False
        self.waiting = False
        self._fired = False
        self._total = total
        self._task = asyncio.current_task()
        self._handle = asyncio.get_running_loop().call_later(seconds_left, self._expire)

    def _expire(self) -> None:
        self.expired = True
        if self.waiting and self._task is not None:
            self._fired = True
            self._task.cancel()

    async def wait(self, awaitable: Awaitable[T]) -> T:
        self.waiting = True
        try:
            return await awaitable
        finally:
            self.waiting = False

    def consume_cancel(self) -> bool:
        """Whether a CancelledError came from this deadline alone (then it is taken back)."""
        if not self._fired:
            return False
        self._fired = False
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
        return uncancel is None or uncancel() == 0

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"the reply took longer than the {self._total:g} s deadline")

    def close(self) -> None:
        self._handle.cancel()


async def open_reply(
    http: httpx.AsyncClient, request: HTTPRequest, timeout: httpx.Timeout
) -> httpx.Response:
    """Send `request`; its URL and headers pass straight from it to httpx, never a local."""
    return await http.send(
        http.build_request("POST", **request.send_arguments(), timeout=timeout), stream=True
    )


async def read_body(reply: httpx.Response, inflater: Inflater, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of the decompressed body, and whether there was more (not read)."""
    body = bytearray()
    async for raw in reply.aiter_raw():
        for piece in inflater.pieces(raw):
            room = limit - len(body)
            body += piece[:room]
            if len(piece) > room:
                return bytes(body), True
    return bytes(body), False


_Inflater = Inflater  # tests/test_bounds.py reads it here


def content_encoding(reply: httpx.Response) -> str:
    return str(reply.headers.get("content-encoding", ""))
