"""What a reply's status, headers and body say when it is not a stream of chunks.

Pure functions of what the client read (`client/client.py` does the reading): an error reply
becomes one of the package's errors in one line, a whole body becomes JSON or a clear refusal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..core.errors import (
    QwQError,
    RedirectError,
    UnreadableReplyError,
    classify_http_error,
    server_text,
)
from .chunks import read_error

__all__ = ["ERROR_BODY_BYTES", "api_error", "parse_json_body", "redirect_error", "retry_after"]

#: Error bodies are read up to this size; an error needs one line, the rest is not read.
ERROR_BODY_BYTES = 64 * 1024


def parse_json_body(body: bytes, content_type: str) -> Any:
    """A whole reply body as JSON (None if empty); UnreadableReplyError if it is not JSON."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        kind = server_text(content_type or "no content type", 60)
        raise UnreadableReplyError(f"the server's reply is not JSON ({kind})") from None


def redirect_error(status: int, location: str) -> RedirectError:
    """Redirects are not followed: a key must not travel to wherever a server points."""
    target = urlsplit(location).netloc.lower()
    to = f" to {server_text(target, 80)}" if target else ""
    return RedirectError(
        f"the server answered HTTP {status}, a redirect{to}; redirects are not "
        "followed (check base_url / api_base)",
        status=status,
    )


def api_error(
    status: int, reason: str, headers: Mapping[str, str], body: bytes, truncated: bool
) -> QwQError:
    """The error an HTTP error reply stands for, with the server's message when it gave one."""
    data = None
    if body and not truncated:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
    code, message = read_error(data) or (None, "")
    if not message:
        message = reason or "request refused"
        if truncated:
            message += f" (an error body over {ERROR_BODY_BYTES // 1024} KB, not read)"
        elif body.lstrip()[:1] == b"<":
            message += " (an HTML page)"
        elif body.strip():
            message += " (an error body that is not JSON)"
    return classify_http_error(status, code, message, retry_after(headers))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds of a Retry-After header; None when absent or an HTTP date."""
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare for these APIs; fall back to our own backoff
