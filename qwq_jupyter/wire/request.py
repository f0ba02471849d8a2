"""One call, ready to send: its URL, headers and encoded body, built by its dialect.

The URL holds the account id and the headers the key, so they exist in one place
(`_addressed`) and are read only through `HTTPRequest.send_arguments()`; the body is encoded
here, so a value JSON cannot carry fails before anything is sent, naming the parameter.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from ..core.credentials import Credentials, redact
from ..core.errors import ConfigurationError
from ..core.settings import QwQSettings
from .dialects import WORKERS_AI, Dialect, Message, dialect_for, host_of
from .reasoning import OpensIn
from .servers import ServerInfo

__all__ = ["HTTPRequest", "build_continuation", "build_request", "check_request", "encode_body"]


@dataclass(frozen=True)
class HTTPRequest:
    """One call, ready to send. The URL (account id) and headers (key) never show in a repr.

    Code that can appear in a traceback reads them only through `send_arguments()`: IPython's
    Verbose tracebacks print every local and every `request.url`-like expression of a frame.
    """

    url: str = field(repr=False)
    body: dict[str, Any]
    headers: dict[str, str] = field(repr=False)
    dialect: str  # the wire shape, "native" or "openai"
    shown_url: str = ""  # the URL with the account id masked, for reprs and dry runs
    content: bytes = field(default=b"", repr=False, compare=False)  # the body, encoded
    #: The named dialect that built it, whose rules also read its reply.
    rules: Dialect = field(default=WORKERS_AI, repr=False, compare=False)
    #: What a dry run should say besides the body: parameters left out, a model substituted.
    notes: tuple[str, ...] = field(default=(), compare=False)
    #: Where the reply's text begins: in the reasoning, or (a forced answer) in the answer.
    opens_in: OpensIn = field(default="reasoning", compare=False)

    @property
    def host(self) -> str:
        """The host (and port) the request goes to, for error messages."""
        return host_of(self.url)

    def send_arguments(self) -> dict[str, Any]:
        """The url, headers and encoded body, as `httpx.AsyncClient.build_request` takes them."""
        content = self.content or encode_body(self.body, {"body": self.body})
        return {"url": self.url, "headers": self.headers, "content": content}


def check_request(
    settings: QwQSettings,
    credentials: Credentials,
    *,
    messages: list[Message] | None = None,
    prompt: str | None = None,
    server: ServerInfo | None = None,
    credentials_needed: bool = True,
    dialect: Dialect | None = None,
) -> Dialect:
    """The dialect of this call, once everything that needs no server is checked.

    The client calls it before asking a server anything, so a bad setting or an out-of-range
    value is refused before any request at all. `dialect` overrides the one the settings
    speak (a raw continuation goes to `/completions` on an OpenAI-compatible server).
    """
    if (messages is None) == (prompt is None):
        raise ConfigurationError("give either messages or prompt")
    if prompt is not None and not prompt:
        raise ConfigurationError("prompt must not be empty")
    dialect = dialect or dialect_for(settings, server)
    dialect.check(settings, credentials, prompt, credentials_needed)
    dialect.check_ranges(settings.model_parameters())
    return dialect


def build_request(
    settings: QwQSettings,
    credentials: Credentials,
    *,
    messages: list[Message] | None = None,
    prompt: str | None = None,
    server: ServerInfo | None = None,
    credentials_needed: bool = True,
    dialect: Dialect | None = None,
    opens_in: OpensIn = "reasoning",
) -> HTTPRequest:
    """The URL, headers and JSON body for one call with these settings.

    `server` is the answer to the dialect's `server_question`, if it had one;
    `credentials_needed=False` builds a request that will not be sent (a replay, the demo)
    without a key. The body is
    encoded here, so a value JSON cannot carry fails now, in one line naming the parameter,
    and not inside httpx with the headers in scope.
    """
    dialect = check_request(
        settings,
        credentials,
        messages=messages,
        prompt=prompt,
        server=server,
        credentials_needed=credentials_needed,
        dialect=dialect,
    )
    params = settings.model_parameters()
    sent, notes = dialect.parameters(params)
    model, model_notes = dialect.model_for(settings)
    body = dialect.body(messages, prompt, sent, model)
    body.update(settings.extra_body)  # fields the schema does not list, passed through as is
    parts = {"messages": messages, "prompt": prompt, **params}
    parts.update({f"extra_body[{name!r}]": value for name, value in settings.extra_body.items()})
    content = encode_body(body, parts)
    # Nothing below raises: no frame of a traceback holds the URL or the key.
    return _addressed(
        dialect, settings, credentials, body, content, model, notes + model_notes, opens_in
    )


def build_continuation(
    settings: QwQSettings,
    credentials: Credentials,
    text: str,
    *,
    opens_in: OpensIn,
    max_tokens: int,
    server: ServerInfo | None = None,
    credentials_needed: bool = True,
) -> HTTPRequest:
    """A raw continuation of QwQ's own text: the template, the reasoning so far, and either
    the closing `</think>` (`opens_in="answer"`) or a nudge to think on ("reasoning").

    Each dialect says where raw text goes (`Dialect.continues_raw`): Workers AI's own route
    with `raw: true`, or `/completions` on an OpenAI-compatible server. Tools and a JSON
    schema are not sent: the template text carries the conversation as QwQ reads it.
    """
    dialect = dialect_for(settings, server).continues_raw(settings, credentials)
    raw = settings.override(max_tokens=max_tokens, raw=True, tools=None, guided_json=None)
    return build_request(
        raw,
        credentials,
        prompt=text,
        server=server,
        credentials_needed=credentials_needed,
        dialect=dialect,
        opens_in=opens_in,
    )


def _addressed(
    dialect: Dialect,
    settings: QwQSettings,
    credentials: Credentials,
    body: dict[str, Any],
    content: bytes,
    model: str,
    notes: tuple[str, ...],
    opens_in: OpensIn = "reasoning",
) -> HTTPRequest:
    """The request with its URL and headers: the one place they exist outside `HTTPRequest`."""
    url = dialect.url(settings, credentials, model)
    # We decompress replies ourselves, bounded (see _client); only what we can read is asked.
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "Accept-Encoding": "gzip, deflate",
    }
    key = dialect.key(url, settings, credentials)
    if key:
        headers["Authorization"] = f"Bearer {key.reveal()}"
    shown_url = redact(url, (credentials.account_id,)) if credentials.account_id else url
    return HTTPRequest(
        url=url,
        body=body,
        headers=headers,
        dialect=dialect.wire,
        shown_url=shown_url,
        content=content,
        rules=dialect,
        notes=notes,
        opens_in=opens_in,
    )


def _dumps(value: Any, default: Any = None) -> bytes:
    # As httpx encodes `json=`: compact, UTF-8, and no NaN (which is not JSON).
    text = json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default
    )
    return text.encode("utf-8")


def encode_body(body: dict[str, Any], parts: dict[str, Any]) -> bytes:
    """`body` as JSON bytes; ConfigurationError naming the first of `parts` JSON cannot carry."""
    try:
        return _dumps(body)
    except (TypeError, ValueError, RecursionError):
        pass  # find which parameter, outside the except block: no chained traceback
    for name, value in parts.items():
        problem = _unencodable(value)
        if problem:
            raise ConfigurationError(f"{name}: {problem} cannot be sent as JSON")
    raise ConfigurationError("the request body cannot be sent as JSON")


def _unencodable(value: Any) -> str | None:
    """What in `value` JSON cannot carry, in words; None if it encodes."""
    found: list[Any] = []

    def refuse(obj: Any) -> Any:
        found.append(obj)
        raise TypeError

    try:
        _dumps(value, default=refuse)
    except RecursionError:
        return "data nested this deeply"
    except ValueError as exc:
        return "a circular reference" if "ircular" in str(exc) else "NaN or infinity"
    except TypeError:
        return _kind_of(found[0]) if found else "a dict key that is not a string"
    return None


def _kind_of(obj: Any) -> str:
    if inspect.isroutine(obj) or isinstance(obj, type(lambda: 0)):
        return "a function object"
    if isinstance(obj, (set, frozenset)):
        return "a set"
    if isinstance(obj, type):
        return "a class"
    if isinstance(obj, (bytes, bytearray)):
        return "bytes"
    return f"a {type(obj).__name__} object"
