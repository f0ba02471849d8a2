"""The two wire dialects: building request bodies and reading reply chunks.

Workers AI's native endpoint and OpenAI-compatible servers differ in URL, body and reply shape,
and the native endpoint sometimes answers in the OpenAI shape too, so the readers accept both.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..core.credentials import Credentials, Secret, redact
from ..core.errors import ConfigurationError
from ..core.events import ToolCall, Usage
from ..core.settings import QwQSettings

__all__ = [
    "Chunk",
    "HTTPRequest",
    "ToolCallAssembler",
    "build_request",
    "host_of",
    "read_chunk",
    "read_error",
]

Message = dict[str, Any]


@dataclass(frozen=True)
class HTTPRequest:
    """One call, ready to send. The URL (account id) and headers (key) never show in a repr.

    Code that can appear in a traceback reads them only through `send_arguments()`: IPython's
    Verbose tracebacks print every local and every `request.url`-like expression of a frame.
    """

    url: str = field(repr=False)
    body: dict[str, Any]
    headers: dict[str, str] = field(repr=False)
    dialect: str  # "native" or "openai"
    shown_url: str = ""  # the URL with the account id masked, for reprs and dry runs
    content: bytes = field(default=b"", repr=False, compare=False)  # the body, encoded

    @property
    def host(self) -> str:
        """The host (and port) the request goes to, for error messages."""
        return host_of(self.url)

    def send_arguments(self) -> dict[str, Any]:
        """The url, headers and encoded body, as `httpx.AsyncClient.build_request` takes them."""
        content = self.content or encode_body(self.body, {"body": self.body})
        return {"url": self.url, "headers": self.headers, "content": content}


def build_request(
    settings: QwQSettings,
    credentials: Credentials,
    *,
    messages: list[Message] | None = None,
    prompt: str | None = None,
) -> HTTPRequest:
    """The URL, headers and JSON body for one call with these settings.

    The body is encoded here, so a value JSON cannot carry fails now, in one line naming the
    parameter, and not inside httpx with the headers in scope.
    """
    if (messages is None) == (prompt is None):
        raise ConfigurationError("give either messages or prompt")
    if prompt is not None and not prompt:
        raise ConfigurationError("prompt must not be empty")
    params = settings.model_parameters()
    if settings.backend == "openai":
        if not settings.base_url:
            raise ConfigurationError(
                "backend openai needs base_url, e.g. %config QwQSettings.base_url = "
                "'http://localhost:8000/v1'"
            )
        if params.get("raw") or prompt is not None:
            raise ConfigurationError("raw prompts need backend workers-ai or ai-gateway")
        _check_url(settings.base_url, "base_url")
        body = _openai_body(settings.model, messages or [], params)
        dialect = "openai"
    else:
        credentials.require()
        _check_url(settings.api_base, "api_base")
        _check_url(settings.gateway_base, "gateway_base")
        if settings.backend == "ai-gateway" and not settings.gateway_id:
            raise ConfigurationError("backend ai-gateway needs gateway_id")
        body = _native_body(messages, prompt, params)
        dialect = "native"
    body.update(settings.extra_body)  # fields the schema does not list, passed through as is
    parts = {"messages": messages, "prompt": prompt, **params}
    parts.update({f"extra_body[{name!r}]": value for name, value in settings.extra_body.items()})
    content = encode_body(body, parts)
    # Nothing below raises: no frame of a traceback holds the URL or the key.
    return _addressed(settings, credentials, body, content, dialect)


def _addressed(
    settings: QwQSettings,
    credentials: Credentials,
    body: dict[str, Any],
    content: bytes,
    dialect: str,
) -> HTTPRequest:
    """The request with its URL and headers: the one place they exist outside `HTTPRequest`."""
    if dialect == "openai":
        url = settings.base_url.rstrip("/") + "/chat/completions"
    elif settings.backend == "ai-gateway":
        url = (
            f"{settings.gateway_base.rstrip('/')}/{credentials.account_id}/"
            f"{settings.gateway_id}/workers-ai/{settings.model}"
        )
    else:
        url = (
            f"{settings.api_base.rstrip('/')}/accounts/{credentials.account_id}"
            f"/ai/run/{settings.model}"
        )
    # We decompress replies ourselves, bounded (see _client); only what we can read is asked.
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "Accept-Encoding": "gzip, deflate",
    }
    key = _key_for(url, dialect, settings, credentials)
    if key:
        headers["Authorization"] = f"Bearer {key.reveal()}"
    shown_url = redact(url, (credentials.account_id,)) if credentials.account_id else url
    return HTTPRequest(
        url=url,
        body=body,
        headers=headers,
        dialect=dialect,
        shown_url=shown_url,
        content=content,
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


def _key_for(url: str, dialect: str, settings: QwQSettings, credentials: Credentials) -> Secret:
    """The key this URL may see: never the Cloudflare token on another company's server."""
    if dialect == "native":
        return credentials.api_token
    if credentials.openai_key:
        return credentials.openai_key
    host = host_of(url)
    cloudflare_hosts = {host_of(settings.api_base), host_of(settings.gateway_base), *_CLOUDFLARE}
    return credentials.api_token if host in cloudflare_hosts else Secret("")


_CLOUDFLARE = {"api.cloudflare.com", "gateway.ai.cloudflare.com"}


def host_of(url: str) -> str:
    """The host (and port) of a URL, for key decisions and error messages."""
    return urlsplit(url).netloc.lower()


def _check_url(url: str, setting: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parses the port: "host:notaport" fails here, not mid-request)
    except ValueError:
        raise ConfigurationError(f"{setting} is not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{setting} must be an http:// or https:// URL, not {url!r}")


def _native_body(
    messages: list[Message] | None, prompt: str | None, params: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": messages} if messages is not None else {"prompt": prompt}
    body.update(params)
    if not body.get("raw"):
        body.pop("raw", None)
    return body


def _openai_body(model: str, messages: list[Message], params: dict[str, Any]) -> dict[str, Any]:
    params = dict(params)
    params.pop("raw", None)
    body: dict[str, Any] = {"model": model, "messages": messages}
    schema = params.pop("guided_json", None)
    if schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema},
        }
    tools = params.pop("tools", None)
    if tools:
        body["tools"] = [_openai_tool(tool) for tool in tools]
    body.update(params)
    if body.get("stream"):
        body["stream_options"] = {"include_usage": True}
    return body


def _openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Workers AI accepts `{name, description, parameters}`; OpenAI wants it wrapped."""
    if tool.get("type") == "function":
        return tool
    return {"type": "function", "function": tool}


@dataclass(slots=True)
class Chunk:
    """What one reply chunk carries, whichever dialect it came in."""

    text: str = ""
    reasoning: str = ""
    has_reasoning_field: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None


def read_error(body: Any) -> tuple[int | str | None, str] | None:
    """(code, message) of an error body, either dialect's shape; None if it is no error.

    Cloudflare: {"success": false, "errors": [{"code": N, "message": "…"}]};
    OpenAI-compatible servers: {"error": {"code": …, "message": "…"}} or {"error": "…"}.
    """
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if body.get("success") is not True and isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, dict):
            return first.get("code"), str(first.get("message", ""))
        return None, str(first)
    error = body.get("error")
    if isinstance(error, dict):
        return error.get("code"), str(error.get("message", ""))
    if isinstance(error, str):
        return None, error
    return None


def read_chunk(data: dict[str, Any]) -> Chunk:
    """Read a streamed chunk or a whole non-streamed reply (native or OpenAI shaped)."""
    if "response" in data and not _NOT_PLAIN_NATIVE.intersection(data):
        return _read_native(data)  # the common case on Workers AI, kept fast
    if isinstance(data.get("result"), dict):
        data = data["result"]  # the non-streaming native envelope
    chunk = Chunk()
    usage = data.get("usage")
    if isinstance(usage, dict):
        chunk.usage = Usage.from_wire(usage)
    choices = data.get("choices")
    if isinstance(choices, list) and choices:
        choice = choices[0] if isinstance(choices[0], dict) else {}
        part = choice.get("delta") or choice.get("message") or {}
        chunk.finish_reason = choice.get("finish_reason")
    else:
        part = data
        chunk.finish_reason = data.get("finish_reason")
    if not isinstance(part, dict):
        return chunk
    text = part.get("response") if "response" in part else part.get("content")
    chunk.text = text if isinstance(text, str) else ""
    for name in ("reasoning_content", "reasoning"):
        value = part.get(name)
        if isinstance(value, str):
            chunk.has_reasoning_field = True
            chunk.reasoning = value
            break
    calls = part.get("tool_calls")
    if isinstance(calls, list):
        chunk.tool_calls = [call for call in calls if isinstance(call, dict)]
    return chunk


_NOT_PLAIN_NATIVE = frozenset({"choices", "reasoning_content", "reasoning", "result"})


def _read_native(data: dict[str, Any]) -> Chunk:
    text = data["response"]
    usage = data.get("usage")
    calls = data.get("tool_calls")
    return Chunk(
        text=text if isinstance(text, str) else "",
        tool_calls=[c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else [],
        usage=Usage.from_wire(usage) if isinstance(usage, dict) else None,
        finish_reason=data.get("finish_reason"),
    )


class ToolCallAssembler:
    """Joins tool calls: whole (native) or in fragments keyed by index (OpenAI streaming)."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, Any]] = {}

    def add(self, calls: list[dict[str, Any]]) -> int:
        """Add calls or fragments; returns the characters they added (for the size bound)."""
        added = 0
        for call in calls:
            # OpenAI streams send fragments of one call under the same index; native replies
            # send whole calls without one, each a new call.
            index = call["index"] if isinstance(call.get("index"), int) else len(self._parts)
            slot = self._parts.setdefault(index, {"id": None, "name": "", "arguments": ""})
            function = call.get("function")
            if not isinstance(function, dict):
                function = call
            slot["id"] = call.get("id") or slot["id"]
            name = function.get("name")
            if isinstance(name, str):
                slot["name"] += name
                added += len(name)
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                slot["arguments"] += arguments
                added += len(arguments)
            elif arguments is not None:
                slot["arguments"] = arguments
                added += len(repr(arguments))
        return added

    def finish(self) -> list[ToolCall]:
        calls = [_tool_call(slot) for _, slot in sorted(self._parts.items())]
        self._parts.clear()
        return calls


def _tool_call(slot: dict[str, Any]) -> ToolCall:
    arguments = slot["arguments"]
    if isinstance(arguments, str):
        # Unparseable arguments stay a string: the caller sees exactly what the model wrote.
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.loads(arguments) if arguments else {}
    return ToolCall(name=slot["name"], arguments=arguments, id=slot["id"])
