"""QwQ-32B in Jupyter: `%load_ext qwq_jupyter`, then write `%%qwq` cells.

The public names are imported lazily, so loading the extension stays cheap: httpx, ipywidgets
and the renderers are imported on first use, not by `%load_ext`. `core/public.py` lists them;
the `TYPE_CHECKING` imports below repeat that list for type checkers, and a test keeps the two
the same.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .core.public import PUBLIC
from .session.frontend import install_chooser

__all__ = [*sorted(PUBLIC), "load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:
    from .client.client import AsyncQwQClient
    from .client.repetition import RepetitionGuard
    from .client.retry import RetryPolicy
    from .client.steering_rules import Steering
    from .client.stream import QwQClient, ResponseStream
    from .core.credentials import Credentials, Secret
    from .core.errors import (
        APIError,
        AuthenticationError,
        BadRequestError,
        BudgetExceeded,
        ConfigurationError,
        ContextWindowError,
        DeadlineExceeded,
        IncompleteStreamError,
        MissingCredentialError,
        NetworkError,
        QuotaExceededError,
        QwQError,
        RateLimitError,
        RedirectError,
        ReplayMiss,
        ReplyTooLargeError,
        RequestTimeoutError,
        ServerError,
        ServerReportedError,
        StallError,
        UnreadableReplyError,
    )
    from .core.events import (
        AnswerDelta,
        Finish,
        Loop,
        LoopFound,
        Meter,
        ReasoningDelta,
        Response,
        Retrying,
        ThinkingCut,
        ThinkingExtended,
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
    """Import a public name's module on first use (see `core/public.py`)."""
    module = PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'qwq_jupyter' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def _choose_frontend() -> Any:
    from .notebook.frontend import choose

    return choose()


install_chooser(_choose_frontend)  # the frontend is picked on first use, then kept


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext qwq_jupyter`: register the `%%qwq` / `%qwq` magics."""
    from .notebook.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext qwq_jupyter`: remove the magics and stop running calls."""
    from .notebook.magics import unload

    unload(ipython)
