"""A byte-level server-sent-events decoder.

Lines are split on bytes, not on decoded text, so a UTF-8 character split across network chunks
is rejoined before decoding, and U+2028 inside JSON is never mistaken for a line break (as
`str.splitlines` would). CR, LF and CRLF all end a line, even when CR and LF arrive apart.
"""

from __future__ import annotations

__all__ = ["DONE", "SSEDecoder"]

#: What `SSEDecoder` yields for the end-of-stream marker, `data: [DONE]` or a bare `[DONE]`.
DONE = "[DONE]"


class SSEDecoder:
    """Feed bytes, get the `data` payload of each complete event."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._data: list[str] = []
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
        # bytes.splitlines splits on CR, LF and CRLF only (unlike str.splitlines, which would
        # also split on U+2028 or U+0085 inside JSON strings).
        lines = (bytes(self._buffer) + chunk if self._buffer else chunk).splitlines(keepends=True)
        self._buffer.clear()
        last = lines[-1]
        if not last.endswith((b"\n", b"\r")):
            self._buffer += lines.pop()
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

    def _line(self, raw: bytes, events: list[str]) -> None:
        if raw.startswith(b"data:"):  # the common case first
            value = raw[6:] if raw.startswith(b"data: ") else raw[5:]
            self._data.append(value.decode("utf-8", errors="replace"))
            return
        if not raw:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        if raw.startswith(b":"):
            return  # a comment, used as a keep-alive
        if raw.strip() == b"[DONE]":  # some servers send a bare [DONE] line
            self._data.append(DONE)
        # Other fields (event, id, retry) carry nothing these APIs use.
