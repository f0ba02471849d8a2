"""QwQ-32B in Jupyter: `%load_ext qwq_jupyter`, then write `%%qwq` cells.

The public names are imported lazily, so loading the extension stays cheap: httpx, ipywidgets
and the renderers are imported on first use, not by `%load_ext`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "batch": "._batch",
    "BatchItem": "._batch",
    "BatchResult": "._batch",
    "summarize": "._context",
    "AsyncQwQClient": "._client",
    "QwQClient": "._client",
    "ResponseStream": "._client",
    "Credentials": "._credentials",
    "Secret": "._credentials",
    "QwQSettings": "._settings",
    "RetryPolicy": "._retry",
    "SSEDecoder": "._sse",
    "ReasoningSplitter": "._reasoning",
    "AnswerDelta": "._events",
    "Finish": "._events",
    "ReasoningDelta": "._events",
    "Response": "._events",
    "Retrying": "._events",
    "ToolCall": "._events",
    "ToolCallEvent": "._events",
    "Usage": "._events",
    "UsageEvent": "._events",
    "APIError": "._errors",
    "AuthenticationError": "._errors",
    "BadRequestError": "._errors",
    "ConfigurationError": "._errors",
    "ContextWindowError": "._errors",
    "DeadlineExceeded": "._errors",
    "MissingCredentialError": "._errors",
    "NetworkError": "._errors",
    "QuotaExceededError": "._errors",
    "QwQError": "._errors",
    "RateLimitError": "._errors",
    "RequestTimeoutError": "._errors",
    "ServerError": "._errors",
    "StallError": "._errors",
    "RedirectError": "._errors",
    "ReplyTooLargeError": "._errors",
    "UnreadableReplyError": "._errors",
}

__all__ = [*sorted(_EXPORTS), "load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:
    from ._batch import BatchItem, BatchResult, batch
    from ._client import AsyncQwQClient, QwQClient, ResponseStream
    from ._context import summarize
    from ._credentials import Credentials, Secret
    from ._errors import (
        APIError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ContextWindowError,
        DeadlineExceeded,
        MissingCredentialError,
        NetworkError,
        QuotaExceededError,
        QwQError,
        RateLimitError,
        RedirectError,
        ReplyTooLargeError,
        RequestTimeoutError,
        ServerError,
        StallError,
        UnreadableReplyError,
    )
    from ._events import (
        AnswerDelta,
        Finish,
        ReasoningDelta,
        Response,
        Retrying,
        ToolCall,
        ToolCallEvent,
        Usage,
        UsageEvent,
    )
    from ._reasoning import ReasoningSplitter
    from ._retry import RetryPolicy
    from ._settings import QwQSettings
    from ._sse import SSEDecoder


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qwq_jupyter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext qwq_jupyter`: register the `%%qwq` / `%qwq` magics."""
    from ._magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext qwq_jupyter`: remove the magics and stop running calls."""
    from ._magics import unload

    unload(ipython)
