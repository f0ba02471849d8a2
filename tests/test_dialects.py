"""The named dialects: each one's URL, body and key, its ranges, the parameters its server takes,
which server `GET /models` reveals, and the model id sent to a server that is not Cloudflare.

The chat calls go to the real local test server. It has no `GET /models` route (it answers 404),
so the cases that need a model list use `ModelsServer`, a small OpenAI-compatible server of our
own on 127.0.0.1 that records every request with its headers unredacted.
"""

from __future__ import annotations

import ast
import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from shells import ask, session

from qwq_jupyter import AsyncQwQClient, ConfigurationError, Credentials, QwQClient, QwQSettings
from qwq_jupyter.wire.decode import EventDecoder
from qwq_jupyter.wire.dialects import (
    AI_GATEWAY,
    CLOUDFLARE_OPENAI,
    WORKERS_AI,
    OpenAICompatible,
)
from qwq_jupyter.wire.servers import GENERIC, SERVER_KINDS

TOKEN = "cf-tok-SENTINEL-5e1d"
ACCOUNT = "acct-SENTINEL-a9c0"
KEY = "sk-openai-SENTINEL-77b3"
QUESTION = [{"role": "user", "content": "What is 6 × 7?"}]
DEFAULT_MODEL = "@cf/qwen/qwq-32b"


# --- A tiny OpenAI-compatible server answering GET /models ----------------------------------------

REPLY = {
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "reasoning_content": "6 × 7", "content": "42"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
}


class ModelsServer:
    """`GET /v1/models` answers `models` (or `raw` bytes) with `status`, or never (`hang`);
    `POST /v1/chat/completions` answers one short non-streamed reply. Every request is kept
    as (method, path, lower-cased headers, JSON body)."""

    def __init__(
        self, models: Any = None, *, status: int = 200, raw: bytes | None = None, hang: bool = False
    ) -> None:
        self.models, self.status, self.raw, self.hang = models, status, raw, hang
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def methods(self) -> list[str]:
        return [method for method, *_ in self.requests]

    def __enter__(self) -> ModelsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append(("GET", self.path, self._headers(), None))
                if self.path != "/v1/models":
                    return self._send(404, b'{"error": "no route"}')
                if owner.hang:
                    owner.release.wait(30)  # until the test ends: the client must give up
                    return None
                body = owner.raw if owner.raw is not None else json.dumps(owner.models).encode()
                return self._send(owner.status, body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                owner.requests.append(("POST", self.path, self._headers(), body))
                self._send(200, json.dumps(REPLY).encode())

            def _headers(self) -> dict[str, str]:
                return {name.lower(): value for name, value in self.headers.items()}

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def listing(*ids: str, owned_by: str = "vllm", **extra: Any) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": i, "object": "model", "owned_by": owned_by, **extra} for i in ids],
    }


# What each server's GET /v1/models answers (shapes read in their sources).
VLLM = listing("Qwen/QwQ-32B", root="Qwen/QwQ-32B", max_model_len=32768)
SGLANG = listing("Qwen/QwQ-32B", owned_by="sglang", root="Qwen/QwQ-32B")
LLAMA_CPP = listing("qwq-32b-q4_k_m.gguf", owned_by="llamacpp", meta={"n_ctx_train": 131072})
OLLAMA = listing("qwq:latest", owned_by="library", created=1741000000)
OLLAMA_PULLED = listing("hf.co/bartowski/Qwen_QwQ-32B-GGUF:Q4_K_M", owned_by="bartowski")
OPENAI = listing("gpt-4o", owned_by="system")
LM_STUDIO = listing("qwen/qwq-32b", owned_by="organization_owner")


# --- Helpers --------------------------------------------------------------------------------------


@pytest.fixture
def server():
    from qwq_jupyter.testing import QwQTestServer

    with QwQTestServer(token=TOKEN, account_id=ACCOUNT) as server:
        yield server


def openai_client(base_url: str, key: str | None = KEY, **changes: Any) -> QwQClient:
    """A client of an OpenAI-compatible server that is not Cloudflare (api_base stays there)."""
    settings = QwQSettings(backend="openai", base_url=base_url, max_retries=0, stall_timeout=5.0)
    return QwQClient(settings.override(**changes), Credentials(ACCOUNT, TOKEN, openai_key=key))


def cloudflare_client(server: Any, backend: str = "workers-ai", **changes: Any) -> QwQClient:
    settings = QwQSettings(
        api_base=server.api_base,
        gateway_base=server.gateway_base,
        base_url=server.openai_base_url,  # the same host as api_base: Cloudflare's endpoint
        gateway_id="gw1",
        backend=backend,
        max_retries=0,
        stall_timeout=5.0,
    )
    return QwQClient(settings.override(**changes), Credentials(ACCOUNT, TOKEN))


# --- Each dialect's URL, body and key -------------------------------------------------------------


def test_workers_ai_sends_the_model_in_the_url_and_the_token(server) -> None:
    client = cloudflare_client(server, top_p=1.5, presence_penalty=1.0)
    request = client.prepare(QUESTION)
    assert request.rules is WORKERS_AI and request.dialect == "native"
    assert request.url == f"{server.api_base}/accounts/{ACCOUNT}/ai/run/{DEFAULT_MODEL}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "model" not in request.body and request.body["messages"] == QUESTION
    # Workers AI's own ranges and parameters: top_p up to 2, top_k sent.
    assert (request.body["top_p"], request.body["top_k"]) == (1.5, 40)
    assert client.complete(QUESTION).complete
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", f"/client/v4/accounts/{ACCOUNT}/ai/run/{DEFAULT_MODEL}")
    ]


def test_ai_gateway_is_workers_ai_at_the_gateways_url(server) -> None:
    client = cloudflare_client(server, "ai-gateway")
    request = client.prepare(QUESTION)
    assert request.rules is AI_GATEWAY and request.dialect == "native"
    assert request.url == f"{server.gateway_base}/{ACCOUNT}/gw1/workers-ai/{DEFAULT_MODEL}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.body == cloudflare_client(server).prepare(QUESTION).body  # Workers AI's
    assert client.complete(QUESTION).complete
    assert server.requests[-1].path == f"/gateway/v1/{ACCOUNT}/gw1/workers-ai/{DEFAULT_MODEL}"


def test_cloudflares_openai_endpoint_keeps_workers_ai_rules_and_asks_nothing(server) -> None:
    client = cloudflare_client(server, "openai", top_p=1.5, repetition_penalty=1.1)
    request = client.prepare(QUESTION)
    assert request.rules is CLOUDFLARE_OPENAI and request.dialect == "openai"
    assert request.url == f"{server.openai_base_url}/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"  # a Cloudflare host
    body = request.body
    assert body["model"] == DEFAULT_MODEL  # Cloudflare knows its own ids
    assert (body["top_p"], body["top_k"], body["repetition_penalty"]) == (1.5, 40, 1.1)
    assert client.complete(QUESTION).complete
    assert [r.method for r in server.requests] == ["POST"]  # no GET /models


def test_another_server_gets_its_own_key_and_openai_body(server) -> None:
    client = openai_client(
        server.openai_base_url, key=TOKEN, server="vllm", model="Qwen/QwQ-32B", top_p=1.0
    )
    request = client.prepare(QUESTION)
    assert isinstance(request.rules, OpenAICompatible) and request.rules.kind.name == "vllm"
    assert request.url == f"{server.openai_base_url}/chat/completions"
    # The server's key (the test server's token stands for it here), not Cloudflare's.
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.body["model"] == "Qwen/QwQ-32B"
    assert request.body["stream_options"] == {"include_usage": True}
    assert client.complete(QUESTION).complete
    assert [r.method for r in server.requests] == ["POST"]  # the setting named the server


def test_without_its_own_key_another_server_gets_none() -> None:
    with ModelsServer(VLLM) as models:
        client = openai_client(models.base_url, key=None)
        request = client.prepare(QUESTION)
        assert "Authorization" not in request.headers
        assert client.complete(QUESTION).complete
        assert models.methods() == ["GET", "POST"]
        assert all("authorization" not in headers for _, _, headers, _ in models.requests)
        assert all(TOKEN not in json.dumps(r) for r in models.requests)


def test_the_question_to_the_server_carries_its_key_only() -> None:
    with ModelsServer(VLLM) as models:
        openai_client(models.base_url).prepare(QUESTION)
        (method, path, headers, _), *_ = models.requests
        assert (method, path, headers["authorization"]) == ("GET", "/v1/models", f"Bearer {KEY}")


# --- Ranges: refused before any request -----------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "name", "value", "message"),
    [
        ("openai", "top_p", 1.5, "top_p must be from 0 to 1 on OpenAI-compatible servers, got 1.5"),
        ("workers-ai", "presence_penalty", -0.5, "must be from 0 to 2 on Workers AI, got -0.5"),
        ("ai-gateway", "frequency_penalty", -1, "must be from 0 to 2 on Workers AI (AI Gateway)"),
        ("cloudflare-openai", "frequency_penalty", -2, "must be from 0 to 2 on Workers AI, got -2"),
    ],
)
def test_a_value_outside_the_dialects_range_is_refused_before_any_request(
    server, backend: str, name: str, value: float, message: str
) -> None:
    if backend == "openai":  # server 'auto': refused before even GET /models
        client = openai_client(server.openai_base_url, key=TOKEN, **{name: value})
    elif backend == "cloudflare-openai":
        client = cloudflare_client(server, "openai", **{name: value})
    else:
        client = cloudflare_client(server, backend, **{name: value})
    for call in (client.prepare, client.complete):
        with pytest.raises(ConfigurationError) as info:
            call(QUESTION)
        assert message in str(info.value) and "\n" not in str(info.value)
    assert server.requests == []


def test_values_inside_each_dialects_range_are_sent(server) -> None:
    client = openai_client(
        server.openai_base_url,
        key=TOKEN,
        server="sglang",
        model="qwq",
        frequency_penalty=-1.5,
        presence_penalty=-2.0,
        top_p=1.0,
    )
    assert client.complete(QUESTION).complete
    body = server.last_body
    assert (body["frequency_penalty"], body["presence_penalty"], body["top_p"]) == (-1.5, -2, 1)


def test_the_settings_outer_bounds_still_hold_for_every_dialect() -> None:
    with pytest.raises(ConfigurationError) as info:
        QwQSettings(backend="openai").override(presence_penalty=2.5)
    assert str(info.value) == "presence_penalty must be from -2 to 2, got 2.5"


# --- Parameters a server kind does not take -------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "sent"),
    [
        ("vllm", {"top_k": 40, "repetition_penalty": 1.1}),
        ("sglang", {"top_k": 40, "repetition_penalty": 1.1}),
        ("llama.cpp", {"top_k": 40, "repeat_penalty": 1.1}),
        ("ollama", {}),
        ("generic", {}),
    ],
)
def test_only_the_parameters_a_server_takes_are_sent(server, kind: str, sent: dict) -> None:
    client = openai_client(
        server.openai_base_url, key=TOKEN, server=kind, model="qwq", repetition_penalty=1.1
    )
    request = client.prepare(QUESTION)
    assert client.complete(QUESTION).complete
    extensions = {"top_k", "repetition_penalty", "repeat_penalty"}
    assert {k: v for k, v in server.last_body.items() if k in extensions} == sent
    assert server.last_body["temperature"] == 0.6  # OpenAI's own parameters always go
    if sent:
        assert request.notes == ()
    else:
        (note,) = request.notes
        assert "not sent to" in note and "top_k=40, repetition_penalty=1.1" in note


# --- server = 'auto': what GET /models reveals ----------------------------------------------------


@pytest.mark.parametrize(
    ("models", "kind", "served"),
    [
        (VLLM, "vllm", "Qwen/QwQ-32B"),
        (SGLANG, "sglang", "Qwen/QwQ-32B"),
        (LLAMA_CPP, "llama.cpp", "qwq-32b-q4_k_m.gguf"),
        (OLLAMA, "ollama", "qwq:latest"),
        (OLLAMA_PULLED, "ollama", "hf.co/bartowski/Qwen_QwQ-32B-GGUF:Q4_K_M"),
        (OPENAI, "generic", "gpt-4o"),
        (LM_STUDIO, "generic", "qwen/qwq-32b"),
    ],
    ids=["vllm", "sglang", "llama.cpp", "ollama", "ollama-pulled", "openai", "lm-studio"],
)
def test_auto_detects_the_server_from_its_model_list(models: Any, kind: str, served: str) -> None:
    with ModelsServer(models) as local:
        client = openai_client(local.base_url)
        request = client.prepare(QUESTION)
        assert request.rules.kind is SERVER_KINDS[kind]  # type: ignore[attr-defined]
        response = client.complete(QUESTION)
        assert response.complete and response.answer == "42"
        body = local.requests[-1][3]
        assert body["model"] == served
        assert ("top_k" in body) == (kind in ("vllm", "sglang", "llama.cpp"))
        # Asked once per client, for every prepare and call after the first.
        assert local.methods() == ["GET", "POST"]


def test_async_code_awaits_the_question() -> None:
    with ModelsServer(SGLANG) as local:
        client = AsyncQwQClient(
            QwQSettings(backend="openai", base_url=local.base_url), Credentials(openai_key=KEY)
        )
        request = asyncio.run(client.aprepare(QUESTION))
        assert request.body["model"] == "Qwen/QwQ-32B" and request.body["top_k"] == 40


def test_sync_prepare_on_the_clients_own_loop_is_refused_not_hung() -> None:
    from qwq_jupyter.client.loop import LoopThread

    with ModelsServer(VLLM) as local:
        client = openai_client(local.base_url)

        async def prepare_inside() -> Any:
            return client.async_client.prepare(QUESTION)

        with pytest.raises(ConfigurationError, match="use `await client"):
            LoopThread.get().run(prepare_inside())
        assert local.requests == []


# --- The question failing: a generic server, silently ---------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "local",
    [
        {"status": 500, "models": {"error": "boom"}},
        {"raw": b"<html>not json</html>"},
        {"models": {"models": ["no data list"]}},
        {"hang": True},
    ],
    ids=["http-500", "not-json", "no-list", "never-answers"],
)
def test_a_failed_question_means_a_generic_server(local: dict) -> None:
    with ModelsServer(**local) as models:
        # stall_timeout bounds the read of GET /models like any other read.
        client = openai_client(models.base_url, model="qwq", stall_timeout=0.2)
        request = client.prepare(QUESTION)
        assert request.rules.kind is GENERIC  # type: ignore[attr-defined]
        assert "top_k" not in request.body and request.body["model"] == "qwq"
        assert models.methods()[0] == "GET"


def test_a_server_without_a_models_route_is_generic_and_asked_once(server) -> None:
    client = openai_client(server.openai_base_url, key=TOKEN, model="qwq")
    assert client.complete(QUESTION).complete
    assert client.complete(QUESTION).complete
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v1/models"),  # the test server answers 404: kept, not asked again
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/chat/completions"),
    ]
    assert "top_k" not in server.last_body


def test_a_server_that_is_down_is_generic_and_asked_again_later() -> None:
    client = openai_client(f"http://127.0.0.1:{_closed_port()}/v1", model="qwq")
    info = asyncio.run(client.async_client.server_info())
    assert info is not None and info.kind == "generic" and info.models is None
    assert "ConnectError" in info.problem
    assert client.prepare(QUESTION).rules.kind is GENERIC  # type: ignore[attr-defined]


# --- The model id on a server that is not Cloudflare ----------------------------------------------


def test_the_one_served_model_replaces_a_workers_ai_id() -> None:
    with ModelsServer(VLLM) as local:
        client = openai_client(local.base_url)  # model: the default @cf/qwen/qwq-32b
        request = client.prepare(QUESTION)
        assert request.body["model"] == "Qwen/QwQ-32B"
        assert any("'Qwen/QwQ-32B', the one model" in note for note in request.notes)
        response = client.complete(QUESTION)
        assert response.settings["model"] == "Qwen/QwQ-32B"  # what was used, not asked for


def test_several_served_models_ask_for_one_listing_five() -> None:
    ids = ["a/one", "b/two", "c/three", "d/four", "e/five", "Qwen/QwQ-32B", "g/seven"]
    with ModelsServer(listing(*ids)) as local:
        client = openai_client(local.base_url)
        with pytest.raises(ConfigurationError) as info:
            client.complete(QUESTION)
        message = str(info.value)
        assert "\n" not in message
        assert "'@cf/qwen/qwq-32b' is a Workers AI id" in message and "serves 7 models" in message
        assert "'a/one', 'b/two', 'c/three', 'd/four', 'e/five' and 2 more" in message
        assert "%config QwQSettings.model = 'Qwen/QwQ-32B' or --model Qwen/QwQ-32B" in message
        assert local.methods() == ["GET"]  # nothing was sent


def test_a_hostile_served_id_is_shown_bounded_and_printable() -> None:
    """Served ids are the server's text: the suggestion and the note carry no escape codes."""
    hostile = "qwq\x1b]52;c;aGk=\x07" + "x" * 500
    with ModelsServer(listing(hostile, "other")) as local:
        client = openai_client(local.base_url)
        with pytest.raises(ConfigurationError) as info:
            client.prepare(QUESTION)
    message = str(info.value)
    assert "\x1b" not in message and "\x07" not in message and len(message) < 600
    with ModelsServer(listing(hostile)) as local:
        request = openai_client(local.base_url).prepare(QUESTION)
    assert request.body["model"] == hostile  # sent as served
    assert all("\\x1b" not in note and len(note) < 300 for note in request.notes)


def test_a_model_named_in_the_settings_is_sent_as_is() -> None:
    with ModelsServer(listing("a/one", "b/two")) as local:
        client = openai_client(local.base_url, model="b/two")
        assert client.complete(QUESTION).complete
        assert local.requests[-1][3]["model"] == "b/two"


@pytest.mark.parametrize(
    ("local", "why"),
    [
        ({"models": listing()}, "serves no model"),
        ({"status": 404, "models": {}}, "lists no models (GET /models answered HTTP 404)"),
    ],
    ids=["empty-list", "no-list"],
)
def test_no_served_model_says_what_to_set(local: dict, why: str) -> None:
    with ModelsServer(**local) as models:
        with pytest.raises(ConfigurationError) as info:
            openai_client(models.base_url).complete(QUESTION)
        message = str(info.value)
        assert why in message and "%config QwQSettings.model = '…' or --model" in message
        assert models.methods() == ["GET"]


# --- The dry run shows what would be sent ---------------------------------------------------------


def test_the_dry_run_shows_the_served_model_and_leaves_out_what_ollama_does_not_take(
    shell,
) -> None:
    with ModelsServer(OLLAMA) as local:
        shell.run_line_magic("config", "QwQSettings.backend = 'openai'")
        shell.run_line_magic("config", f"QwQSettings.base_url = {local.base_url!r}")
        preview, _ = ask(shell, "q", "--dry-run --top-k 7")
        assert preview.body["model"] == "qwq:latest"
        assert "top_k" not in preview.body and preview.body["top_p"] == 0.95
        assert local.methods() == ["GET"]  # the question only; the call was not sent
        # What the dry run's request says besides its body (one line each).
        request = session(shell).client.prepare(QUESTION, settings=session(shell).settings)
        assert request.notes == (
            "not sent to Ollama: top_k=40 (its OpenAI-compatible API does not take it)",
            "model: 'qwq:latest', the one model "
            f"{local.base_url.split('/')[2]} serves ('@cf/qwen/qwq-32b' is Workers AI's)",
        )


# --- Reading replies: through the dialect's public interface --------------------------------------


def test_each_dialect_reads_its_own_chunks() -> None:
    openai = OpenAICompatible()
    decoder = EventDecoder(dialect=openai)
    chunk = {"choices": [{"delta": {"reasoning_content": "r"}, "finish_reason": None}]}
    events = decoder.feed(json.dumps(chunk))
    events += decoder.feed(json.dumps({"choices": [{"delta": {"content": "a"}}]}))
    assert [type(e).__name__ for e in events] == ["ReasoningDelta", "AnswerDelta"]
    assert WORKERS_AI.text_only({"response": "x", "p": "abc"}) == "x"
    assert WORKERS_AI.text_only({"response": "x", "usage": {}}) is None
    assert openai.text_only({"response": "x"}) is None


def test_decode_uses_no_private_name_of_another_module() -> None:
    source = Path(__file__).parents[1] / "qwq_jupyter" / "wire" / "decode.py"
    imported = [
        alias.name
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    ]
    assert imported and not [name for name in imported if name.startswith("_")]
