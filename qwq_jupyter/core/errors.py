"""A small, explicit exception hierarchy; each error reads as one line a user can act on.

Every error the package raises is here, and exported from `qwq_jupyter`:

    QwQError
    ├── ConfigurationError (also a ValueError)   a parameter, flag or file is wrong; nothing sent
    │   └── BudgetExceeded                       the call could cross the session's budget
    ├── MissingCredentialError                   the backend needs a key that is not set
    ├── DeadlineExceeded                         the call's overall time ran out
    ├── ReplayMiss                               a cassette has no reply for this request
    ├── NetworkError                             the connection failed or broke
    │   ├── StallError                           the server went quiet mid-reply
    │   ├── IncompleteStreamError                the stream closed without saying it finished
    │   └── ServerReportedError                  an error event arrived in place of the rest
    ├── UnreadableReplyError                     not JSON, corrupt compression, no event
    │   └── ReplyTooLargeError                   more than the request can justify
    └── APIError                                 the server answered with an HTTP error
        ├── RedirectError                        3xx (never followed)
        ├── BadRequestError                      400, 404
        ├── AuthenticationError                  401, 403
        ├── RequestTimeoutError                  408
        ├── ContextWindowError                   413
        ├── RateLimitError                       429, code 3040: retried
        ├── QuotaExceededError                   429, code 3036 or 4006: not retried
        └── ServerError                          5xx
"""

from __future__ import annotations

from .printable import printable
from .public import publish

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceeded",
    "ConfigurationError",
    "ContextWindowError",
    "DeadlineExceeded",
    "IncompleteStreamError",
    "MissingCredentialError",
    "NetworkError",
    "QuotaExceededError",
    "QwQError",
    "RateLimitError",
    "RedirectError",
    "ReplayMiss",
    "ReplyTooLargeError",
    "RequestTimeoutError",
    "ServerError",
    "ServerReportedError",
    "StallError",
    "UnreadableReplyError",
    "classify_http_error",
    "server_text",
]

#: The most characters of server-supplied text one error line quotes.
SERVER_TEXT_LIMIT = 200


def server_text(value: object, limit: int = SERVER_TEXT_LIMIT) -> str:
    """Text a server sent, fit for an error line: one line, bounded, control characters shown.

    Error bodies, reason phrases and finish reasons come from whoever runs the server: they
    may be megabytes long or carry terminal escape sequences.
    """
    text = str(value)[: limit * 4]  # whitespace runs collapse below: keep some spare
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class QwQError(Exception):
    """Base of every error qwq-jupyter raises; `str()` is one readable line."""

    #: Whether sending the same request again may succeed.
    retryable: bool = False


class ConfigurationError(QwQError, ValueError):
    """A parameter, flag or setting is invalid; nothing was sent."""


class BudgetExceeded(ConfigurationError):
    """The call's worst case would cross the session's budget (`%qwq budget`); nothing sent."""


class MissingCredentialError(QwQError):
    """A credential the chosen backend needs is not set."""


class DeadlineExceeded(QwQError):
    """The overall time allowed for one call ran out."""


class NetworkError(QwQError):
    """The connection failed or broke before the reply finished."""

    retryable = True


class StallError(NetworkError):
    """The server stopped sending mid-reply for longer than the stall timeout."""


class IncompleteStreamError(NetworkError):
    """The stream closed without `[DONE]` or a finish reason."""


class ServerReportedError(NetworkError):
    """The server sent an error event in place of the rest of the reply."""


class ReplayMiss(QwQError):
    """The cassette has no reply recorded for this exact request."""


class UnreadableReplyError(QwQError):
    """The reply could not be read: not JSON, corrupt compression, no readable event.

    Not retried: a server that answers garbage once usually does so again.
    """


class ReplyTooLargeError(UnreadableReplyError):
    """The reply outgrew what the request can justify (a body, one event, or the whole text)."""


class APIError(QwQError):
    """The server refused the request with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


class RedirectError(APIError):
    """3xx: the server sent the request elsewhere; redirects are not followed.

    Following one would send the prompt (and maybe the key) to a host nobody configured.
    """


class BadRequestError(APIError):
    """400/404: the request itself is wrong (model id, input)."""


class AuthenticationError(APIError):
    """401/403: the token is wrong, lacks permission, or the account is blocked."""


class ContextWindowError(APIError):
    """413: prompt plus max_tokens exceed the model's context window."""


class RequestTimeoutError(APIError):
    """408: the server timed out or aborted the request."""

    retryable = True


class RateLimitError(APIError):
    """429/3040: the model is out of capacity for a moment."""

    retryable = True


class QuotaExceededError(APIError):
    """429/3036 or 4006: the daily free allocation is used up; retrying only burns time."""


class ServerError(APIError):
    """5xx: a fault on the server's side."""

    retryable = True


_QUOTA_CODES = {3036, 4006}

_HINTS: dict[type[APIError], str] = {
    AuthenticationError: "check the key: CLOUDFLARE_API_TOKEN (with the Workers AI permission) "
    "for Cloudflare, QWQ_API_KEY for other servers; 403 can also mean the model's terms are "
    "not accepted yet",
    QuotaExceededError: "the daily free allocation is used up; it resets at 00:00 UTC",
    RateLimitError: "the model is busy; try again shortly",
    ContextWindowError: "shorten the conversation (%qwq reset) or lower max_tokens",
}


def classify_http_error(
    status: int,
    code: int | str | None,
    message: str,
    retry_after: float | None = None,
) -> APIError:
    """Map an HTTP status and Cloudflare error code to the error class that says what to do."""
    numeric = (
        int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
    )
    cls: type[APIError]
    if status == 429:
        cls = QuotaExceededError if numeric in _QUOTA_CODES else RateLimitError
    elif status in (401, 403):
        cls = AuthenticationError
    elif status == 408:
        cls = RequestTimeoutError
    elif status == 413:
        cls = ContextWindowError
    elif status >= 500:
        cls = ServerError
    else:
        cls = BadRequestError
    shown_code = server_text(code, 40) if code not in (None, "") else ""
    label = f"HTTP {status}" + (f", code {shown_code}" if shown_code else "")
    text = f"{server_text(message) or 'request refused'} ({label})"
    hint = _HINTS.get(cls)
    if hint:
        text += f": {hint}"
    return cls(text, status=status, code=code, retry_after=retry_after)


publish(globals())
