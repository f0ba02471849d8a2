"""A byte-level server-sent-events decoder.

Lines are split on bytes, not on decoded text, so a UTF-8 character split across network chunks
is rejoined before decoding, and U+2028 inside JSON is never mistaken for a line break (as
`str.splitlines` would). CR, LF and CRLF all end a line, even when CR and LF arrive apart.

The server is untrusted: a line that never ends is appended to, never re-joined per read (so its
cost stays linear), and one event may grow only to `max_event` bytes.
"""

from __future__ import annotations

from ..core.errors import ReplyTooLargeError
from ..core.public import publish

__all__ = ["DONE", "MAX_EVENT_BYTES", "SSEDecoder"]

#: The largest event accepted by default. A streamed token is a few hundred bytes; a whole
#: tool call or a server that sends the reply as one event stays far below this.
MAX_EVENT_BYTES = 4 * 1024 * 1024

#: What `SSEDecoder` yields for the end-of-stream marker, `data: [DONE]` or a bare `[DONE]`.
DONE = "[DONE]"


class SSEDecoder:
    """Feed bytes, get the `data` payload of each complete event."""

    def __init__(self, max_event: int = MAX_EVENT_BYTES) -> None:
        self._buffer = bytearray()
        self._data: list[str] = []
        self._size = 0  # bytes of the event being assembled, in `_data`
        self._max = max_event
        self._pending_cr = False  # a CR ended the last chunk; a leading LF belongs to it

    def feed(self, chunk: bytes) -> list[str]:
        """Decode `chunk` and return the payloads of the events it completed."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        if not chunk:
            return []
        if (  # fast path: exactly one whole `data:` event, as most servers write them
            not self._buffer
            and not self._data
            and chunk.startswith(b"data: ")
            and chunk.endswith(b"\n\n")
            and chunk.count(b"\n") == 2
            and b"\r" not in chunk
        ):
            return [chunk[6:-2].decode("utf-8", errors="replace")]
        if self._buffer:
            if b"\n" not in chunk and b"\r" not in chunk:
                # The line goes on: append (amortised O(1)), never re-join the whole buffer.
                self._buffer += chunk
                self._check(len(self._buffer))
                return []
            chunk = bytes(self._buffer) + chunk
            self._buffer.clear()
        # bytes.splitlines splits on CR, LF and CRLF only (unlike str.splitlines, which would
        # also split on U+2028 or U+0085 inside JSON strings).
        lines = chunk.splitlines(keepends=True)
        last = lines[-1]
        if not last.endswith((b"\n", b"\r")):
            self._buffer += lines.pop()
            self._check(len(self._buffer))
        elif last.endswith(b"\r"):
            self._pending_cr = True  # an LF may follow in the next chunk and belongs to it
        events: list[str] = []
        for line in lines:
            self._line(line.rstrip(b"\r\n"), events)
        return events

    def close(self) -> list[str]:
        """End of the byte stream: dispatch an event left without its closing blank line."""
        events: list[str] = []
        if self._buffer:
            self._line(bytes(self._buffer), events)
            self._buffer.clear()
        self._line(b"", events)
        return events

    def _check(self, size: int) -> None:
        if self._size + size > self._max:
            self._buffer.clear()
            self._data = []
            raise ReplyTooLargeError(
                f"the server sent an event over {self._max:,} bytes; the stream was stopped"
            )

    def _line(self, raw: bytes, events: list[str]) -> None:
        if raw.startswith(b"data:"):  # the common case first
            value = raw[6:] if raw.startswith(b"data: ") else raw[5:]
            self._check(len(value))
            self._size += len(value)
            self._data.append(value.decode("utf-8", errors="replace"))
            return
        if not raw:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
                self._size = 0
            return
        if raw.startswith(b":"):
            return  # a comment, used as a keep-alive
        if raw.strip() == b"[DONE]":  # some servers send a bare [DONE] line
            self._data.append(DONE)
        # Other fields (event, id, retry) carry nothing these APIs use.


publish(globals())
