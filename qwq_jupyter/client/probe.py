"""Asking an OpenAI-compatible server `GET /models`, once per base URL, bounded.

The answer says what kind of server it is (so only the parameters it takes are sent) and which
models it serves (so a Workers AI id can be replaced by the one it has). The question is a
convenience: any failure means a generic server, and the real request reports one that is down.
"""

from __future__ import annotations

import asyncio

import httpx

from ..core.credentials import Credentials
from ..core.public import publish
from ..core.settings import QwQSettings
from ..wire.dialects import Dialect
from ..wire.inflate import Inflater
from ..wire.servers import ServerInfo, read_models
from .bounded import content_encoding, read_body

__all__ = ["MODELS_BODY_BYTES", "PROBE_SECONDS", "ServerDirectory"]

#: Asking a server `GET /models` takes at most this long (or the deadline, if shorter).
PROBE_SECONDS = 10.0
#: A model list is read up to this size; a longer one counts as no list.
MODELS_BODY_BYTES = 1024 * 1024


class ServerDirectory:
    """What each base URL answered to `GET /models`, asked at most once while it answers.

    An answer, even an HTTP error, is kept; a connection that failed is not, so a server
    started after the first try is still found.
    """

    def __init__(self) -> None:
        self._answers: dict[str, ServerInfo] = {}

    def known(self, settings: QwQSettings) -> ServerInfo | None:
        """The answer already had for these settings' base URL, without asking."""
        return self._answers.get(_key(settings))

    async def ask(
        self,
        http: httpx.AsyncClient,
        settings: QwQSettings,
        dialect: Dialect,
        credentials: Credentials,
    ) -> ServerInfo:
        known = self.known(settings)
        if known is not None:
            return known
        server, lasting = await _ask(http, settings, dialect, credentials)
        if lasting:
            self._answers[_key(settings)] = server
        return server


def _key(settings: QwQSettings) -> str:
    return settings.base_url.rstrip("/")


async def _ask(
    http: httpx.AsyncClient, settings: QwQSettings, dialect: Dialect, credentials: Credentials
) -> tuple[ServerInfo, bool]:
    """(what the server said, whether it answered); bounded by PROBE_SECONDS."""
    seconds = min(PROBE_SECONDS, settings.deadline)
    timeout = httpx.Timeout(
        connect=min(settings.connect_timeout, seconds),
        read=min(settings.stall_timeout, seconds),
        write=min(settings.connect_timeout, seconds),
        pool=min(settings.connect_timeout, seconds),
    )
    try:
        status, body = await asyncio.wait_for(
            _get_models(http, dialect, settings, credentials, timeout), seconds
        )
    except (httpx.TransportError, asyncio.TimeoutError) as exc:
        return ServerInfo(problem=f"GET /models failed: {type(exc).__name__}"), False
    except Exception as exc:  # anything odd in the answer: a generic server, still
        return ServerInfo(problem=f"GET /models failed: {type(exc).__name__}"), True
    return read_models(status, body), True


async def _get_models(
    http: httpx.AsyncClient,
    dialect: Dialect,
    settings: QwQSettings,
    credentials: Credentials,
    timeout: httpx.Timeout,
) -> tuple[int, bytes | None]:
    """The status and body of `GET /models`; the URL and key pass straight to httpx."""
    reply = await http.send(
        http.build_request(
            "GET", **dialect.server_question(settings, credentials), timeout=timeout
        ),
        stream=True,
    )
    try:
        if not 200 <= reply.status_code < 300:
            return reply.status_code, None
        inflater = Inflater(content_encoding(reply))
        body, truncated = await read_body(reply, inflater, MODELS_BODY_BYTES)
    finally:
        await reply.aclose()
    return reply.status_code, None if truncated else body


publish(globals())
