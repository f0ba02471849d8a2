"""Decompressing a reply in bounded pieces: a few kilobytes of gzip can inflate to gigabytes.

Pure bytes to bytes; the client (`client/client.py`) feeds it what it reads from a connection.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

from ..core.errors import UnreadableReplyError, server_text

__all__ = ["PIECE", "Inflater"]

#: Decompressed data is handled in pieces of at most this size, whatever one read inflates to.
PIECE = 64 * 1024


class Inflater:
    """Decompresses a reply in pieces of at most `PIECE` bytes.

    httpx inflates each read whole: 64 KB of gzip can become 64 MB at once. Only gzip and
    deflate are asked for (see `dialects._addressed`); anything else is refused.
    """

    def __init__(self, encoding: str) -> None:
        name = encoding.strip().lower()
        self.name = name
        self.identity = name in ("", "identity")
        if self.identity:
            self._z = None
        elif name in ("gzip", "x-gzip", "deflate"):
            # 16: a gzip wrapper; 32: detect zlib or gzip (servers label deflate loosely).
            self._z = zlib.decompressobj(zlib.MAX_WBITS | (16 if "gzip" in name else 32))
        else:
            raise UnreadableReplyError(
                f"the reply is compressed as {server_text(name, 40)!r}, which cannot be read"
            )

    @classmethod
    def lenient(cls, encoding: str) -> Inflater:
        """For error bodies: an unknown encoding leaves the body unread, not the error unsaid."""
        try:
            return cls(encoding)
        except UnreadableReplyError:
            return cls("identity")

    def pieces(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            yield data
            return
        z = self._z
        try:
            piece = z.decompress(data, PIECE)
            while piece:
                yield piece
                if not z.unconsumed_tail and len(piece) < PIECE:
                    break
                piece = z.decompress(z.unconsumed_tail, PIECE)
        except zlib.error:
            raise self._corrupt() from None

    def wrap(self, feed: Callable[[bytes], list[str]]) -> Callable[[bytes], list[str]]:
        """`feed` taking compressed bytes: each decompressed piece is fed in turn."""
        return lambda data: [item for piece in self.pieces(data) for item in feed(piece)]

    def check_end(self) -> None:
        """A whole body must end its compressed stream: a cut one is corrupt too."""
        if self._z is not None and not self._z.eof:
            raise self._corrupt()

    def _corrupt(self) -> UnreadableReplyError:
        return UnreadableReplyError(f"the reply's {self.name} data is corrupt; it was not read")
