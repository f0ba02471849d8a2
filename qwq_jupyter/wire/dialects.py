"""The named wire dialects: one object per way of talking to a server, owning its rules.

- `WorkersAI`: Cloudflare's native REST endpoint, `{api_base}/accounts/{id}/ai/run/{model}`.
- `AIGateway`: the same dialect through Cloudflare AI Gateway; only the URL differs.
- `CloudflareOpenAI`: Cloudflare's OpenAI-compatible endpoint (`…/ai/v1`, a `base_url` on a
  Cloudflare host): the OpenAI shape, but Workers AI's model ids, ranges and parameters.
- `OpenAICompatible`: any other OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, …):
  OpenAI's ranges, only the parameters its server kind takes (`servers.py`), and a served model
  id in place of a Workers AI one.

Each dialect owns its URL, its request body, the key it sends, its parameter ranges and
accepted parameters, and how it reads a reply chunk. `build_request` asks the dialect for each
piece, so a new dialect is a new class, not another branch in every function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..core.credentials import Credentials, Secret
from ..core.errors import ConfigurationError, server_text
from ..core.settings import NUMERIC_PARAMETERS, QwQSettings, out_of_range, parameter_range
from .chunks import Chunk, ToolCallAssembler, native_text, read_chunk, read_error
from .servers import GENERIC, SERVER_KINDS, ServerInfo, ServerKind, shown_ids
from .tool_messages import native_messages, openai_messages

__all__ = [
    "AI_GATEWAY",
    "CLOUDFLARE_OPENAI",
    "WORKERS_AI",
    "AIGateway",
    "Chunk",
    "CloudflareOpenAI",
    "Dialect",
    "OpenAICompatible",
    "OpenAICompletions",
    "ToolCallAssembler",
    "WorkersAI",
    "dialect_for",
    "host_of",
    "is_workers_ai_id",
    "read_chunk",
    "read_error",
]

Message = dict[str, Any]

#: Workers AI's schema for @cf/qwen/qwq-32b, where it is narrower than the settings' bounds.
WORKERS_AI_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {"frequency_penalty": (0.0, 2.0), "presence_penalty": (0.0, 2.0)}
)
#: OpenAI's API reference, which OpenAI-compatible servers follow.
OPENAI_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {"top_p": (0.0, 1.0), "frequency_penalty": (-2.0, 2.0), "presence_penalty": (-2.0, 2.0)}
)
_CLOUDFLARE = {"api.cloudflare.com", "gateway.ai.cloudflare.com"}
_SET_MODEL = "%config QwQSettings.model = '{model}' or --model {model}"


class Dialect:
    """One way of talking to a server: URL, body, key, parameter rules, and reply reading.

    The readers of every dialect accept both reply shapes (Workers AI's native endpoint
    sometimes answers in the OpenAI shape); a dialect adds its own fast path in `text_only`.
    """

    #: How messages name the dialect: "top_p must be from 0 to 1 on {name}, got 1.5".
    name: ClassVar[str]
    #: The body and reply shape, "native" or "openai": what cassettes and the test server key on.
    wire: ClassVar[str]
    #: Ranges narrower than the settings' outer bounds; the rest are the settings' own.
    ranges: ClassVar[Mapping[str, tuple[float, float]]] = MappingProxyType({})

    def parameter_range(self, parameter: str) -> tuple[float, float]:
        """The range this dialect accepts for a numeric model parameter."""
        return self.ranges.get(parameter) or parameter_range(parameter)

    def sends(self, parameter: str) -> bool:
        """Whether a parameter that is set goes into this dialect's body at all."""
        return True

    def check(
        self,
        settings: QwQSettings,
        credentials: Credentials,
        prompt: str | None,
        credentials_needed: bool = True,
    ) -> None:
        """Refuse settings this dialect cannot send with (ConfigurationError), before any I/O.

        `credentials_needed=False`: the request will not reach the server (a replay, the
        demo), so a missing key is no reason to refuse it.
        """

    def check_ranges(self, params: Mapping[str, Any]) -> None:
        """Refuse the first parameter outside this dialect's range, in one line."""
        for parameter in NUMERIC_PARAMETERS:
            value = params.get(parameter)
            if value is None or not self.sends(parameter):
                continue
            lo, hi = self.parameter_range(parameter)
            if not lo <= value <= hi:
                raise ConfigurationError(out_of_range(parameter, value, lo, hi, self.name))

    def parameters(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The parameters to send, under this dialect's names, and notes on any left out."""
        return dict(params), ()

    def model_for(self, settings: QwQSettings) -> tuple[str, tuple[str, ...]]:
        """The model id to send, and a note if it is not `settings.model`."""
        return settings.model, ()

    def asks_server(self, settings: QwQSettings) -> bool:
        """Whether the request needs the server's answer to `GET /models` (`server_question`)."""
        return False

    def server_question(self, settings: QwQSettings, credentials: Credentials) -> dict[str, Any]:
        """`url` and `headers` of `GET /models`, for `httpx.AsyncClient.build_request`.

        Like `HTTPRequest.send_arguments`, pass the result straight on: the headers hold a key.
        """
        raise NotImplementedError(f"{self.name} asks the server nothing")

    def body(
        self,
        messages: list[Message] | None,
        prompt: str | None,
        params: dict[str, Any],
        model: str,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def url(self, settings: QwQSettings, credentials: Credentials, model: str) -> str:
        raise NotImplementedError

    def key(self, url: str, settings: QwQSettings, credentials: Credentials) -> Secret:
        """The key this URL may see: never the Cloudflare token on another company's server."""
        raise NotImplementedError

    def text_only(self, data: dict[str, Any]) -> str | None:
        """The text of this dialect's most common chunk, read without building a `Chunk`.

        Called once per token before `read_chunk`; None sends the payload the general way.
        """
        return None

    def read_chunk(self, data: dict[str, Any]) -> Chunk:
        """One streamed chunk or a whole reply, either shape."""
        return read_chunk(data)

    def read_error(self, body: Any) -> tuple[int | str | None, str] | None:
        """(code, message) of an error body, either shape; None if it is no error."""
        return read_error(body)

    def continues_raw(self, settings: QwQSettings, credentials: Credentials) -> Dialect:
        """The dialect that carries a raw continuation of QwQ's text (budget forcing).

        ConfigurationError, in one line saying what to use instead, where there is none.
        """
        raise ConfigurationError(f"{self.name} cannot continue raw text")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} dialect>"


class WorkersAI(Dialect):
    """Cloudflare's native REST API: the model in the URL, Workers AI's schema in the body."""

    name = "Workers AI"
    wire = "native"
    ranges = WORKERS_AI_RANGES

    def check(
        self,
        settings: QwQSettings,
        credentials: Credentials,
        prompt: str | None,
        credentials_needed: bool = True,
    ) -> None:
        if credentials_needed:
            credentials.require()
        _check_url(settings.api_base, "api_base")
        _check_url(settings.gateway_base, "gateway_base")

    def body(
        self,
        messages: list[Message] | None,
        prompt: str | None,
        params: dict[str, Any],
        model: str,
    ) -> dict[str, Any]:
        body: dict[str, Any] = (
            {"messages": native_messages(messages)} if messages is not None else {"prompt": prompt}
        )
        body.update(params)
        if not body.get("raw"):
            body.pop("raw", None)
        return body

    def url(self, settings: QwQSettings, credentials: Credentials, model: str) -> str:
        return f"{settings.api_base.rstrip('/')}/accounts/{credentials.account_id}/ai/run/{model}"

    def key(self, url: str, settings: QwQSettings, credentials: Credentials) -> Secret:
        return credentials.api_token

    def text_only(self, data: dict[str, Any]) -> str | None:
        return native_text(data)

    def continues_raw(self, settings: QwQSettings, credentials: Credentials) -> Dialect:
        return self  # the same route, with `prompt` and `raw: true`


class AIGateway(WorkersAI):
    """Workers AI through Cloudflare AI Gateway: the same dialect at another URL."""

    name = "Workers AI (AI Gateway)"

    def check(
        self,
        settings: QwQSettings,
        credentials: Credentials,
        prompt: str | None,
        credentials_needed: bool = True,
    ) -> None:
        super().check(settings, credentials, prompt, credentials_needed)
        if not settings.gateway_id:
            raise ConfigurationError("backend ai-gateway needs gateway_id")

    def url(self, settings: QwQSettings, credentials: Credentials, model: str) -> str:
        return (
            f"{settings.gateway_base.rstrip('/')}/{credentials.account_id}/"
            f"{settings.gateway_id}/workers-ai/{model}"
        )


class OfflineDemo(WorkersAI):
    """The offline demo (`backend = 'demo'`): Workers AI's body, answered inside the kernel.

    Nothing goes over the network, so there is no URL to address and no key to send.
    """

    name = "the offline demo"
    ADDRESS = "offline demo (answered in this kernel)"

    def check(
        self,
        settings: QwQSettings,
        credentials: Credentials,
        prompt: str | None,
        credentials_needed: bool = True,
    ) -> None:
        return None

    def url(self, settings: QwQSettings, credentials: Credentials, model: str) -> str:
        return self.ADDRESS

    def key(self, url: str, settings: QwQSettings, credentials: Credentials) -> Secret:
        return Secret("")


class CloudflareOpenAI(Dialect):
    """Cloudflare's OpenAI-compatible endpoint: OpenAI's shape, Workers AI's rules.

    Behind it is the same model with the same schema, so the ranges, the parameters and the
    `@cf/…` model ids are Workers AI's, and there is nothing to ask the server.
    """

    name = "Workers AI"
    wire = "openai"
    ranges = WORKERS_AI_RANGES

    def check(
        self,
        settings: QwQSettings,
        credentials: Credentials,
        prompt: str | None,
        credentials_needed: bool = True,
    ) -> None:
        if not settings.base_url:
            raise ConfigurationError(
                "backend openai needs base_url, e.g. %config QwQSettings.base_url = "
                "'http://localhost:8000/v1'"
            )
        if settings.raw or prompt is not None:
            raise ConfigurationError("raw prompts need backend workers-ai or ai-gateway")
        _check_url(settings.base_url, "base_url")

    def parameters(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        return {name: value for name, value in params.items() if name != "raw"}, ()

    def body(
        self,
        messages: list[Message] | None,
        prompt: str | None,
        params: dict[str, Any],
        model: str,
    ) -> dict[str, Any]:
        params = dict(params)
        body: dict[str, Any] = {"model": model, "messages": openai_messages(messages or [])}
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

    def url(self, settings: QwQSettings, credentials: Credentials, model: str) -> str:
        return settings.base_url.rstrip("/") + "/chat/completions"

    def key(self, url: str, settings: QwQSettings, credentials: Credentials) -> Secret:
        # A key of its own wins; else the Cloudflare token, but only to a Cloudflare host.
        if credentials.openai_key:
            return credentials.openai_key
        return credentials.api_token if on_cloudflare(url, settings) else Secret("")

    def continues_raw(self, settings: QwQSettings, credentials: Credentials) -> Dialect:
        # Cloudflare's /ai/v1 serves no /completions; the native route of the same account
        # continues raw text with the same token.
        if credentials.account_id and credentials.api_token:
            return WORKERS_AI
        raise ConfigurationError(
            "Cloudflare's OpenAI-compatible endpoint cannot continue raw text, which cutting "
            "the thinking needs; set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN (the "
            "native route does it), or use backend workers-ai"
        )


@dataclass(frozen=True, repr=False)
class OpenAICompatible(CloudflareOpenAI):
    """Any other OpenAI-compatible server: OpenAI's ranges, its kind's parameters and models.

    `server` is what `GET /models` found (None: not asked). The kind comes from the `server`
    setting, else from that answer, else it is generic: only OpenAI's own parameters are sent.
    """

    name = "OpenAI-compatible servers"
    ranges = OPENAI_RANGES

    kind: ServerKind = GENERIC
    server: ServerInfo | None = None

    @classmethod
    def of(cls, settings: QwQSettings, server: ServerInfo | None) -> OpenAICompatible:
        chosen = settings.server if settings.server != "auto" else (server or ServerInfo()).kind
        return cls(SERVER_KINDS.get(chosen, GENERIC), server)

    def sends(self, parameter: str) -> bool:
        return self.kind.sends(parameter)

    def parameters(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        sent: dict[str, Any] = {}
        left_out: list[str] = []
        for name, value in params.items():
            if name == "raw":
                continue
            if self.kind.sends(name):
                sent[self.kind.wire_name(name)] = value
            else:
                left_out.append(f"{name}={value!r}")
        if not left_out:
            return sent, ()
        if self.kind is GENERIC:
            why = (
                "not part of OpenAI's API; if the server takes it, set "
                "%config QwQSettings.server = 'vllm', 'sglang' or 'llama.cpp'"
            )
        else:
            why = "its OpenAI-compatible API does not take it"
        return sent, (f"not sent to {self.kind.label}: {', '.join(left_out)} ({why})",)

    def model_for(self, settings: QwQSettings) -> tuple[str, tuple[str, ...]]:
        """A served model in place of a Workers AI id, which no other server knows."""
        model = settings.model
        if not is_workers_ai_id(model):
            return model, ()
        host = host_of(settings.base_url)
        listed = self.server.models if self.server is not None else None
        if listed is not None and len(listed) == 1:
            served = server_text(listed[0], 80)  # a server wrote it: bounded, printable
            note = f"model: {served!r}, the one model {host} serves ({model!r} is Workers AI's)"
            return listed[0], (note,)
        if not listed:
            problem = self.server.problem if self.server is not None else "not asked"
            found = "serves no model" if listed is not None else f"lists no models ({problem})"
            raise ConfigurationError(
                f"model {model!r} is a Workers AI id, and {host} {found}; set the model it "
                f"serves: {_SET_MODEL.format(model='…')}"
            )
        suggested = server_text(next((m for m in listed if "qwq" in m.lower()), listed[0]), 80)
        raise ConfigurationError(
            f"model {model!r} is a Workers AI id, and {host} serves {len(listed)} models "
            f"({shown_ids(listed)}); choose one: {_SET_MODEL.format(model=suggested)}"
        )

    def asks_server(self, settings: QwQSettings) -> bool:
        # Its kind, unless the setting names it; the served models, for a Workers AI id.
        return settings.server == "auto" or is_workers_ai_id(settings.model)

    def server_question(self, settings: QwQSettings, credentials: Credentials) -> dict[str, Any]:
        url = settings.base_url.rstrip("/") + "/models"
        headers = {"Accept": "application/json"}
        key = self.key(url, settings, credentials)
        if key:
            headers["Authorization"] = f"Bearer {key.reveal()}"
        return {"url": url, "headers": headers}

    def continues_raw(self, settings: QwQSettings, credentials: Credentials) -> Dialect:
        return OpenAICompletions(self.kind, self.server)


@dataclass(frozen=True, repr=False)
class OpenAICompletions(OpenAICompatible):
    """Raw text on an OpenAI-compatible server: `POST {base_url}/completions` with `prompt`.

    vLLM, SGLang, llama.cpp's server and Ollama serve it; the reply's chunks carry
    `choices[0].text`, which `read_chunk` reads like a delta's content.
    """

    def check(
        self,
        settings: QwQSettings,
        credentials: Credentials,
        prompt: str | None,
        credentials_needed: bool = True,
    ) -> None:
        if prompt is None:
            raise ConfigurationError("/completions takes a prompt, not messages")
        _check_url(settings.base_url, "base_url")

    def body(
        self,
        messages: list[Message] | None,
        prompt: str | None,
        params: dict[str, Any],
        model: str,
    ) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if k not in ("guided_json", "tools")}
        body: dict[str, Any] = {"model": model, "prompt": prompt, **params}
        if body.get("stream"):
            body["stream_options"] = {"include_usage": True}
        return body

    def url(self, settings: QwQSettings, credentials: Credentials, model: str) -> str:
        return settings.base_url.rstrip("/") + "/completions"

    def continues_raw(self, settings: QwQSettings, credentials: Credentials) -> Dialect:
        return self


WORKERS_AI = WorkersAI()
AI_GATEWAY = AIGateway()
OFFLINE_DEMO = OfflineDemo()
CLOUDFLARE_OPENAI = CloudflareOpenAI()


def dialect_for(settings: QwQSettings, server: ServerInfo | None = None) -> Dialect:
    """The dialect these settings speak; `server` is what `GET /models` said, if asked."""
    if settings.backend == "openai":
        if settings.server == "auto" and on_cloudflare(settings.base_url, settings):
            return CLOUDFLARE_OPENAI
        return OpenAICompatible.of(settings, server)
    if settings.backend == "ai-gateway":
        return AI_GATEWAY
    if settings.backend == "demo":
        return OFFLINE_DEMO
    return WORKERS_AI  # workers-ai, and any backend that names no dialect of its own


def is_workers_ai_id(model: str) -> bool:
    """`@cf/…` and `@hf/…` ids name Workers AI's catalogue; no other server knows them."""
    return model.startswith(("@cf/", "@hf/"))


def on_cloudflare(url: str, settings: QwQSettings) -> bool:
    """Whether `url` is on a Cloudflare API host (or where api_base / gateway_base point)."""
    host = host_of(url)
    return host in {host_of(settings.api_base), host_of(settings.gateway_base), *_CLOUDFLARE}


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


def _openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Workers AI accepts `{name, description, parameters}`; OpenAI wants it wrapped."""
    if tool.get("type") == "function":
        return tool
    return {"type": "function", "function": tool}
