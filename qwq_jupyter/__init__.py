"""QwQ-32B in Jupyter: `%load_ext qwq_jupyter`, then write `%%qwq` cells.

The public names are imported lazily, so loading the extension stays cheap: httpx, ipywidgets
and the renderers are imported on first use, not by `%load_ext`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "batch": ".features.batch",
    "BatchItem": ".features.batch",
    "BatchResult": ".features.batch",
    "summarize": ".session.context",
    "AsyncQwQClient": ".client.client",
    "QwQClient": ".client.client",
    "ResponseStream": ".client.client",
    "Credentials": ".core.credentials",
    "Secret": ".core.credentials",
    "QwQSettings": ".core.settings",
    "RetryPolicy": ".client.retry",
    "SSEDecoder": ".wire.sse",
    "ReasoningSplitter": ".wire.reasoning",
    "AnswerDelta": ".core.events",
    "Finish": ".core.events",
    "ReasoningDelta": ".core.events",
    "Response": ".core.events",
    "Retrying": ".core.events",
    "ToolCall": ".core.events",
    "ToolCallEvent": ".core.events",
    "Usage": ".core.events",
    "UsageEvent": ".core.events",
    "APIError": ".core.errors",
    "AuthenticationError": ".core.errors",
    "BadRequestError": ".core.errors",
    "ConfigurationError": ".core.errors",
    "ContextWindowError": ".core.errors",
    "DeadlineExceeded": ".core.errors",
    "MissingCredentialError": ".core.errors",
    "NetworkError": ".core.errors",
    "QuotaExceededError": ".core.errors",
    "QwQError": ".core.errors",
    "RateLimitError": ".core.errors",
    "RequestTimeoutError": ".core.errors",
    "ServerError": ".core.errors",
    "StallError": ".core.errors",
    "RedirectError": ".core.errors",
    "ReplyTooLargeError": ".core.errors",
    "UnreadableReplyError": ".core.errors",
}

__all__ = [*sorted(_EXPORTS), "load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:
    from .client.client import AsyncQwQClient, QwQClient, ResponseStream
    from .client.retry import RetryPolicy
    from .core.credentials import Credentials, Secret
    from .core.errors import (
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
    from .core.events import (
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
    from .core.settings import QwQSettings
    from .features.batch import BatchItem, BatchResult, batch
    from .session.context import summarize
    from .wire.reasoning import ReasoningSplitter
    from .wire.sse import SSEDecoder


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qwq_jupyter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext qwq_jupyter`: register the `%%qwq` / `%qwq` magics."""
    from .notebook.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext qwq_jupyter`: remove the magics and stop running calls."""
    from .notebook.magics import unload

    unload(ipython)
