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
        self._buffer += chunk
        events: list[str] = []
        start = 0
        buffer = self._buffer
        while True:
            lf = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start, lf if lf != -1 else len(buffer))
            if cr != -1:
                end, next_start = cr, cr + 1
                if next_start < len(buffer):
                    if buffer[next_start] == 0x0A:
                        next_start += 1
                else:
                    self._pending_cr = True
            elif lf != -1:
                end, next_start = lf, lf + 1
            else:
                break
            self._line(bytes(buffer[start:end]), events)
            start = next_start
        del buffer[:start]
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
        if not raw:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return  # a comment, used as a keep-alive
        name, colon, value = line.partition(":")
        if not colon:
            if line.strip() == DONE:  # some servers send a bare [DONE] line
                self._data.append(DONE)
            return
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
