"""The public API: every name `qwq_jupyter` exports, and the module that defines it.

One list, read by the package's lazy `__getattr__` and by each defining module's call to
`publish()`, which gives those names `qwq_jupyter` as their module: a traceback, a repr or
`help()` shows `qwq_jupyter.ConfigurationError`, not where the class happens to live.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PUBLIC", "publish"]

_ERRORS = [
    "APIError", "AuthenticationError", "BadRequestError", "BudgetExceeded", "ConfigurationError",
    "ContextWindowError", "DeadlineExceeded", "IncompleteStreamError", "MissingCredentialError",
    "NetworkError", "QuotaExceededError", "QwQError", "RateLimitError", "RedirectError",
    "ReplayMiss", "ReplyTooLargeError", "RequestTimeoutError", "ServerError",
    "ServerReportedError", "StallError", "UnreadableReplyError",
]  # fmt: skip
_EVENTS = [
    "AnswerDelta", "Finish", "Loop", "LoopFound", "Meter", "ReasoningDelta", "Response",
    "Retrying", "ThinkingCut", "ThinkingExtended", "ToolCall", "ToolCallEvent", "Usage",
    "UsageEvent",
]  # fmt: skip

#: Public name -> the module (below `qwq_jupyter`) that defines it.
PUBLIC: dict[str, str] = {
    "batch": "features.batch",
    "BatchItem": "features.batch",
    "BatchResult": "features.batch",
    "summarize": "session.context",
    "AsyncQwQClient": "client.client",
    "QwQClient": "client.stream",
    "ResponseStream": "client.stream",
    "RetryPolicy": "client.retry",
    "RepetitionGuard": "client.repetition",
    "Steering": "client.steering_rules",
    "Credentials": "core.credentials",
    "Secret": "core.credentials",
    "QwQSettings": "core.settings",
    "SSEDecoder": "wire.sse",
    "ReasoningSplitter": "wire.reasoning",
    **dict.fromkeys(_ERRORS, "core.errors"),
    **dict.fromkeys(_EVENTS, "core.events"),
}


def publish(namespace: dict[str, Any]) -> None:
    """Call at the end of a defining module: its public names now say `qwq_jupyter`."""
    module = namespace["__name__"].removeprefix("qwq_jupyter.")
    for name, home in PUBLIC.items():
        if home == module:
            namespace[name].__module__ = "qwq_jupyter"
