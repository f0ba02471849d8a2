"""The fake QwQ server, checked with plain httpx so it is trustworthy as a reference for others."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from qwq_jupyter.testing import (
    Fault,
    QwQTestServer,
    RecordedRequest,
    Reply,
    long_reasoning,
    loop_copy,
    looping_reasoning,
)

MODEL = "@cf/qwen/qwq-32b"
QUESTION = "What is 6 × 7?"
R = Reply().reasoning
A = Reply().answer
INLINE = R + "\n</think>\n\n" + A
PROMPT_TOKENS = len(QUESTION) // 4 + 4


def tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


URLS: dict[str, Callable[[QwQTestServer], str]] = {
    "native": lambda s: f"{s.api_base}/accounts/{s.account_id}/ai/run/{MODEL}",
    "gateway": lambda s: f"{s.gateway_base}/{s.account_id}/gw/workers-ai/{MODEL}",
    "cf_openai": lambda s: f"{s.api_base}/accounts/{s.account_id}/ai/v1/chat/completions",
    "gateway_openai": lambda s: (
        f"{s.gateway_base}/{s.account_id}/gw/workers-ai/v1/chat/completions"
    ),
    "compat": lambda s: f"{s.gateway_base}/{s.account_id}/gw/compat/chat/completions",
    "openai": lambda s: f"{s.openai_base_url}/chat/completions",
}
DIALECTS = {
    "native": "native",
    "gateway": "native",
    "cf_openai": "openai",
    "gateway_openai": "openai",
    "compat": "openai",
    "openai": "openai",
}


@pytest.fixture
def server() -> Iterator[QwQTestServer]:
    with QwQTestServer() as running:
        yield running


def auth(server: QwQTestServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def body(**extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": 4000,
        **extra,
    }


def post(server: QwQTestServer, route: str = "native", **extra: Any) -> httpx.Response:
    return httpx.post(URLS[route](server), json=body(**extra), headers=auth(server))


def open_stream(
    server: QwQTestServer, route: str = "native", **kwargs: Any
) -> contextlib.AbstractContextManager[httpx.Response]:
    """Start a streamed request whose body the test reads itself."""
    url = URLS[route](server)
    return httpx.stream("POST", url, json=body(stream=True), headers=auth(server), **kwargs)


def sse_data(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, whatever its line endings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    payloads = []
    for block in text.split("\n\n"):
        data = [line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:")]
        if data:
            payloads.append("\n".join(data))
    return payloads


def stream(
    server: QwQTestServer, route: str = "native", **extra: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Stream a completion; returns the raw body and the parsed events (without [DONE])."""
    response = post(server, route, stream=True, **extra)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    data = sse_data(response.text)
    return response.text, [json.loads(payload) for payload in data if payload != "[DONE]"]


def collect(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Reassemble text, reasoning, finish reasons, last usage and tool calls from events (of
    any dialect: native, chat completion chunks or text completion chunks)."""
    out: dict[str, Any] = {
        "text": "",
        "reasoning_content": "",
        "reasoning": "",
        "finish": [],
        "usage": None,
        "tool_calls": [],
    }
    for event in events:
        out["text"] += event.get("response", "")
        out["tool_calls"] += event.get("tool_calls", [])
        if event.get("finish_reason"):
            out["finish"].append(event["finish_reason"])
        for choice in event.get("choices", []):
            delta = choice.get("delta", {})  # a text completion's choice has "text" instead
            out["text"] += (delta.get("content") or "") + choice.get("text", "")
            out["reasoning_content"] += delta.get("reasoning_content", "")
            out["reasoning"] += delta.get("reasoning", "")
            out["tool_calls"] += delta.get("tool_calls", [])
            if choice["finish_reason"]:
                out["finish"].append(choice["finish_reason"])
        if "usage" in event:
            out["usage"] = event["usage"]
    return out


def usage(completion: int, **extra: Any) -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion,
        "total_tokens": PROMPT_TOKENS + completion,
        **extra,
    }


INLINE_TOKENS = len(tokens(R)) + 1 + len(tokens("\n\n" + A))


# --- Routes, auth, recording -------------------------------------------------------------------


@pytest.mark.parametrize("route", URLS)
def test_every_route_answers_in_its_dialect(server: QwQTestServer, route: str) -> None:
    response = post(server, route)
    assert response.status_code == 200
    data = response.json()
    if DIALECTS[route] == "native":
        assert data["success"] is True and data["errors"] == [] and data["messages"] == []
        assert data["result"]["response"] == INLINE
        assert data["result"]["usage"] == usage(INLINE_TOKENS)
        assert data["result"]["tool_calls"] == []
    else:
        assert data["object"] == "chat.completion"
        assert data["model"] == MODEL
        assert data["choices"][0]["message"] == {"role": "assistant", "content": INLINE}
        assert data["choices"][0]["finish_reason"] == "stop"
        assert data["usage"] == usage(INLINE_TOKENS)


@pytest.mark.parametrize("route", URLS)
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic test-token"])
def test_missing_or_wrong_token_is_refused(
    server: QwQTestServer, route: str, header: str | None
) -> None:
    server.push(Reply(answer="scripted"))
    headers = {"Authorization": header} if header else {}
    response = httpx.post(URLS[route](server), json=body(), headers=headers)
    assert response.status_code == 401
    if route == "openai":
        assert response.json() == {"error": {"code": "10000", "message": "Authentication error"}}
    else:
        assert response.json()["success"] is False
        assert response.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]
    assert len(server.requests) == 1
    assert post(server, route).text.count("scripted") == 1, "a refusal consumes no reply"


@pytest.mark.parametrize("route", ["native", "gateway", "cf_openai", "compat"])
def test_wrong_account_is_404_with_cloudflare_body(server: QwQTestServer, route: str) -> None:
    url = URLS[route](server).replace(server.account_id, "someone-else")
    response = httpx.post(url, json=body(), headers=auth(server))
    assert response.status_code == 404
    assert response.json()["success"] is False
    assert response.json()["errors"][0]["code"] == 7003


def test_unknown_path_and_wrong_method_are_404(server: QwQTestServer) -> None:
    assert httpx.post(server.url + "/nope", json=body(), headers=auth(server)).status_code == 404
    response = httpx.get(URLS["openai"](server), headers=auth(server))
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == 7000


def test_body_that_is_not_a_json_object_is_400(server: QwQTestServer) -> None:
    response = httpx.post(URLS["native"](server), content=b"{oops", headers=auth(server))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 5006


def test_requests_are_recorded_with_redacted_credentials(server: QwQTestServer) -> None:
    assert server.last_body is None
    httpx.post(URLS["native"](server), json=body(), headers={"X-Trace": "1"})
    post(server, "openai", stream=True)
    first, second = server.requests
    assert isinstance(first, RecordedRequest)
    assert first.method == "POST"
    assert first.path == f"/client/v4/accounts/{server.account_id}/ai/run/{MODEL}"
    assert first.headers["x-trace"] == "1"
    assert "authorization" not in first.headers
    assert second.headers["authorization"] == "<redacted>"
    assert all(name == name.lower() for name in second.headers)
    assert server.token not in repr(server.requests)
    assert server.last_body == body(stream=True)


def test_keep_alive_serves_sequential_requests_on_one_connection(server: QwQTestServer) -> None:
    payload = json.dumps(body()).encode()
    request = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    port = urlsplit(server.url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(request)
            assert reader.readline() == b"HTTP/1.1 200 OK\r\n"
            headers = {}
            while (line := reader.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            reply = json.loads(reader.read(int(headers["content-length"])))
            assert reply["choices"][0]["message"]["content"] == INLINE
    assert len(server.requests) == 3


def test_script_is_consumed_in_order_then_default(server: QwQTestServer) -> None:
    with QwQTestServer(Reply(answer="one"), default=Reply(answer="fallback")) as scripted:
        scripted.push(Reply(answer="two"))
        answers = [post(scripted).json()["result"]["response"] for _ in range(4)]
    assert [a.rsplit("\n\n", 1)[1] for a in answers] == ["one", "two", "fallback", "fallback"]


# --- Streaming shapes and usage ----------------------------------------------------------------


@pytest.mark.parametrize("route", ["native", "openai"])
@pytest.mark.parametrize("shape", ["inline", "echo", "reasoning_content", "reasoning"])
def test_stream_shapes(server: QwQTestServer, route: str, shape: str) -> None:
    server.push(Reply(shape=shape))
    raw, events = stream(server, route)
    assert raw.endswith("data: [DONE]\n\n")
    got = collect(events)
    assert got["finish"] == ["stop"]
    if shape == "inline":
        assert got["text"] == INLINE
    elif shape == "echo":
        assert got["text"] == "<think>\n" + INLINE
    else:
        assert got[shape] == R
        assert got["text"] == A
    if route == "openai":
        assert events[0]["choices"][0]["delta"] == {"role": "assistant"}
        assert all(e["object"] == "chat.completion.chunk" and e["model"] == MODEL for e in events)
        assert events[-1]["choices"][0]["finish_reason"] == "stop"
    elif shape in ("inline", "echo"):
        assert all("response" in e for e in events)
        assert any("p" in e for e in events), "Cloudflare-style padding"
        assert events[-2]["finish_reason"] == "stop"
        assert events[-1] == {"response": "", "usage": events[-1]["usage"]}
    else:
        assert all("choices" in e for e in events[:-1])
        assert events[-1]["response"] == ""


@pytest.mark.parametrize("shape", ["reasoning_content", "reasoning"])
def test_non_streaming_separate_reasoning(server: QwQTestServer, shape: str) -> None:
    server.push(Reply(shape=shape), Reply(shape=shape))
    result = post(server, "native").json()["result"]
    assert (result["response"], result[shape]) == (A, R)
    message = post(server, "openai").json()["choices"][0]["message"]
    assert (message["content"], message[shape]) == (A, R)


def test_native_usage_final(server: QwQTestServer) -> None:
    _, events = stream(server)
    assert events[-1]["usage"] == usage(INLINE_TOKENS)
    assert all("usage" not in e for e in events[:-1])


def test_openai_usage_final_only_with_include_usage(server: QwQTestServer) -> None:
    _, events = stream(server, "openai")
    assert collect(events)["usage"] is None
    _, events = stream(server, "openai", stream_options={"include_usage": True})
    assert events[-1]["choices"] == []
    assert events[-1]["usage"] == usage(INLINE_TOKENS)


@pytest.mark.parametrize("route", ["native", "openai"])
def test_usage_per_chunk_is_cumulative(server: QwQTestServer, route: str) -> None:
    server.push(Reply(usage="per_chunk"))
    _, events = stream(server, route)
    counts = [e["usage"]["completion_tokens"] for e in events]
    assert counts == sorted(counts)
    assert events[-1]["usage"] == usage(INLINE_TOKENS)


@pytest.mark.parametrize("route", ["native", "openai"])
def test_usage_none(server: QwQTestServer, route: str) -> None:
    server.push(Reply(usage="none"), Reply(usage="none"))
    _, events = stream(server, route, stream_options={"include_usage": True})
    assert collect(events)["usage"] is None
    data = post(server, route).json()
    assert "usage" not in data.get("result", data)


def test_reasoning_tokens_in_usage(server: QwQTestServer) -> None:
    server.push(Reply(shape="reasoning_content", reasoning_tokens_in_usage=True))
    _, events = stream(server)
    details = {"reasoning_tokens": len(tokens(R))}
    expected = usage(len(tokens(R)) + len(tokens(A)), completion_tokens_details=details)
    assert collect(events)["usage"] == expected


@pytest.mark.parametrize("route", ["native", "openai"])
def test_max_tokens_is_honoured(server: QwQTestServer, route: str) -> None:
    server.push(Reply(tool_calls=[{"name": "f", "arguments": {}}]), Reply())
    _, events = stream(server, route, max_tokens=5, stream_options={"include_usage": True})
    got = collect(events)
    assert got["text"] == "".join(tokens(R)[:5])
    assert got["finish"] == ["length"]
    assert got["tool_calls"] == []
    assert got["usage"]["completion_tokens"] == 5
    data = post(server, route, max_tokens=3).json()
    if route == "native":
        assert data["result"]["usage"]["completion_tokens"] == 3
        assert data["result"]["finish_reason"] == "length"
    else:
        assert data["choices"][0]["finish_reason"] == "length"


def test_explicit_finish_reason(server: QwQTestServer) -> None:
    server.push(Reply(finish_reason="length"))
    _, events = stream(server, "openai")
    assert collect(events)["finish"] == ["length"]


def test_native_tool_calls(server: QwQTestServer) -> None:
    calls = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    server.push(Reply(tool_calls=calls), Reply(tool_calls=calls))
    _, events = stream(server)
    got = collect(events)
    assert got["tool_calls"] == calls
    assert got["finish"] == ["tool_calls"]
    assert post(server).json()["result"]["tool_calls"] == calls


def test_openai_tool_calls(server: QwQTestServer) -> None:
    calls = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    server.push(Reply(shape="reasoning", tool_calls=calls), Reply(tool_calls=calls))
    _, events = stream(server, "openai")
    got = collect(events)
    function = {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert got["tool_calls"] == [
        {"index": 0, "id": "call_0", "type": "function", "function": function}
    ]
    assert got["finish"] == ["tool_calls"]
    choice = post(server, "openai").json()["choices"][0]
    assert choice["message"]["tool_calls"] == [
        {"id": "call_0", "type": "function", "function": function}
    ]
    assert choice["finish_reason"] == "tool_calls"


# --- Faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code", "message"),
    [
        (Fault(code=3040), 429, 3040, "Capacity temporarily exceeded, please try again."),
        (Fault(status=429), 429, 3040, "Capacity temporarily exceeded, please try again."),
        (Fault(code=3036), 429, 3036, "daily free allocation"),
        (Fault(code=4006), 429, 4006, "daily free allocation"),
        (Fault(code=10000), 401, 10000, "Authentication error"),
        (Fault(code=5021), 413, 5021, f"tokens ({PROMPT_TOKENS + 4000}) exceeded"),
        (Fault(status=503), 503, 503, "Service Unavailable"),
        (Fault(status=500, code=3040, message="custom"), 500, 3040, "custom"),
    ],
)
@pytest.mark.parametrize("route", ["native", "cf_openai"])
def test_error_faults(
    server: QwQTestServer, route: str, fault: Fault, status: int, code: int, message: str
) -> None:
    server.push(Reply(fault=fault))
    response = post(server, route, stream=True)
    assert response.status_code == status
    assert "retry-after" not in response.headers
    if route == "native":
        data = response.json()
        assert (data["success"], data["result"], data["messages"]) == (False, None, [])
        assert data["errors"][0]["code"] == code
        assert message in data["errors"][0]["message"]
    else:
        assert response.json()["error"]["code"] == str(code)
        assert message in response.json()["error"]["message"]


def test_retry_after_header(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(code=3040, retry_after=2)))
    server.push(Reply(fault=Fault(status=503, retry_after=0.5)))
    assert post(server).headers["retry-after"] == "2"
    assert post(server, "openai").headers["retry-after"] == "0.5"


def test_fault_times_then_next_reply(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(status=429, times=2)), Reply(answer="finally"))
    assert [post(server).status_code for _ in range(2)] == [429, 429]
    assert post(server).json()["result"]["response"].endswith("finally")
    assert post(server).json()["result"]["response"] == INLINE


def read_events(response: httpx.Response, seen: list[str]) -> None:
    for line in response.iter_lines():
        if line.startswith("data:"):
            seen.append(line)


@pytest.mark.parametrize("route", ["native", "openai"])
def test_reset_after(server: QwQTestServer, route: str) -> None:
    server.push(Reply(fault=Fault(reset_after=3)))
    seen: list[str] = []
    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        open_stream(server, route) as r,
    ):
        read_events(r, seen)
    assert len(seen) == 3


def test_reset_on_non_streamed_request(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(reset_after=0)))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(server)


def test_stall_after(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(stall_after=2)))
    seen: list[str] = []
    timeout = httpx.Timeout(5, read=0.3)
    with pytest.raises(httpx.ReadTimeout), open_stream(server, timeout=timeout) as r:
        read_events(r, seen)
    assert len(seen) == 2
    assert server.wait_for_disconnect(1.0), "the client's timeout closes the connection"


def test_stall_on_non_streamed_request(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(stall_after=0)))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(URLS["openai"](server), json=body(), headers=auth(server), timeout=0.3)


@pytest.mark.parametrize("route", ["native", "openai"])
def test_close_without_done(server: QwQTestServer, route: str) -> None:
    server.push(Reply(fault=Fault(close_without_done=True)))
    raw, events = stream(server, route)
    assert "[DONE]" not in raw
    assert collect(events)["finish"] == []
    assert collect(events)["text"] == INLINE


def test_malformed_events_between_good_ones(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(malformed=True)))
    response = post(server, stream=True)
    payloads = sse_data(response.text)
    assert payloads.count("{not json") > 5
    assert "\n\n: keep-alive\n\n" in response.text
    good = [json.loads(p) for p in payloads if p not in ("{not json", "[DONE]")]
    assert collect(good)["text"] == INLINE
    assert payloads[-1] == "[DONE]"


def test_byte_per_write(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(byte_per_write=True)))
    with open_stream(server) as r:
        chunks = list(r.iter_raw())
    assert {len(chunk) for chunk in chunks} == {1}
    events = [json.loads(p) for p in sse_data(b"".join(chunks).decode()) if p != "[DONE]"]
    assert collect(events)["text"] == INLINE


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_line_endings(server: QwQTestServer, ending: str) -> None:
    server.push(Reply(fault=Fault(line_ending=ending)))
    raw, events = stream(server, "openai")
    assert raw.endswith(f"data: [DONE]{ending}{ending}")
    rest = raw.replace(ending, "")
    assert "\r" not in rest and "\n" not in rest
    assert collect(events)["text"] == INLINE


def test_split_utf8(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(split_utf8=True)))
    with open_stream(server) as r:
        chunks = list(r.iter_raw())
    broken = 0
    for chunk in chunks:
        try:
            chunk.decode()
        except UnicodeDecodeError:
            broken += 1
    assert broken >= 3, "each × is cut in two"
    events = [json.loads(p) for p in sse_data(b"".join(chunks).decode()) if p != "[DONE]"]
    assert collect(events)["text"] == INLINE


def test_bare_done(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(bare_done=True)))
    raw, events = stream(server)
    assert raw.endswith("\n\n[DONE]\n\n")
    assert "data: [DONE]" not in raw
    assert collect(events)["text"] == INLINE


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(ValueError):
        Reply(shape="xml")
    with pytest.raises(ValueError):
        Reply(usage="sometimes")
    with pytest.raises(ValueError):
        Fault(line_ending="\n\r")
    with pytest.raises(ValueError):
        Fault(times=0)


# --- Raw continuations (budget forcing) ---------------------------------------------------------

TEMPLATE = f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n<think>\n"
PARTIAL = "Okay, 6 × 7: six sevens. 7, 14, 21, 28"
FORCE_ANSWER = (
    TEMPLATE
    + PARTIAL
    + "\n\nConsidering the limited time, I have to give the solution based on the thinking "
    "directly now.\n</think>\n\n"
)
THINK_LONGER = TEMPLATE + PARTIAL + "\n\nWait,"


def raw_body(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"prompt": prompt, "raw": True, "max_tokens": 4000, **extra}


def completions_body(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": "qwq", "prompt": prompt, "max_tokens": 4000, **extra}


def post_json(server: QwQTestServer, url: str, payload: dict[str, Any]) -> httpx.Response:
    return httpx.post(url, json=payload, headers=auth(server))


def raw_usage(prompt: str, completion: int) -> dict[str, int]:
    prompt_tokens = len(prompt) // 4 + 4
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }


@pytest.mark.parametrize("route", ["native", "gateway"])
def test_native_raw_continuation_after_think_is_the_answer_only(
    server: QwQTestServer, route: str
) -> None:
    url = URLS[route](server)
    response = post_json(server, url, raw_body(FORCE_ANSWER, stream=True))
    events = [json.loads(p) for p in sse_data(response.text) if p != "[DONE]"]
    got = collect(events)
    assert got["text"] == A
    assert got["finish"] == ["stop"]
    assert got["usage"] == raw_usage(FORCE_ANSWER, len(tokens(A)))
    result = post_json(server, url, raw_body(FORCE_ANSWER)).json()["result"]
    assert result["response"] == A
    assert result["usage"] == raw_usage(FORCE_ANSWER, len(tokens(A)))
    recorded = server.requests[0]
    assert recorded.path == urlsplit(url).path
    assert recorded.body is not None and recorded.body["prompt"] == FORCE_ANSWER


def test_native_raw_continuation_inside_think_goes_on_thinking(server: QwQTestServer) -> None:
    server.push(Reply(reasoning=" the product is 42.", shape="reasoning_content"))
    response = post_json(server, URLS["native"](server), raw_body(THINK_LONGER, stream=True))
    events = [json.loads(p) for p in sse_data(response.text) if p != "[DONE]"]
    text = " the product is 42.\n</think>\n\n" + A
    assert collect(events)["text"] == text, "raw text is inline, whatever the reply's shape"
    assert collect(events)["usage"] == raw_usage(THINK_LONGER, len(tokens(text)))
    result = post_json(server, URLS["native"](server), raw_body(THINK_LONGER)).json()["result"]
    assert result["response"] == INLINE


def test_raw_continuation_honours_max_tokens(server: QwQTestServer) -> None:
    result = post_json(server, URLS["native"](server), raw_body(FORCE_ANSWER, max_tokens=2))
    assert result.json()["result"]["response"] == "".join(tokens(A)[:2])
    assert result.json()["result"]["finish_reason"] == "length"


@pytest.mark.parametrize(
    "prompt",
    [
        "Just some text that ends in </think>",
        TEMPLATE.replace("<|im_start|>assistant\n<think>\n", "") + "</think>",
        TEMPLATE + "Done.<|im_end|>\n</think>",
    ],
)
def test_raw_prompt_without_an_open_assistant_turn_is_answered_as_before(
    server: QwQTestServer, prompt: str
) -> None:
    result = post_json(server, URLS["native"](server), raw_body(prompt)).json()["result"]
    assert result["response"] == INLINE


def test_messages_are_never_a_continuation(server: QwQTestServer) -> None:
    payload = {**body(), "raw": True, "prompt": FORCE_ANSWER}
    result = post_json(server, URLS["native"](server), payload).json()["result"]
    assert result["response"] == A, "a raw prompt wins, as on Workers AI"
    result = post(server, "native", raw=True).json()["result"]
    assert result["response"] == INLINE


def completions_url(server: QwQTestServer) -> str:
    return f"{server.openai_base_url}/completions"


def completion_stream(
    server: QwQTestServer, prompt: str, **extra: Any
) -> tuple[str, list[dict[str, Any]]]:
    payload = completions_body(prompt, stream=True, **extra)
    response = post_json(server, completions_url(server), payload)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    payloads = sse_data(response.text)
    return response.text, [json.loads(p) for p in payloads if p != "[DONE]"]


def completion_text(events: list[dict[str, Any]]) -> str:
    return str(collect(events)["text"])


def test_completions_stream_continues_the_prompt(server: QwQTestServer) -> None:
    raw, events = completion_stream(server, FORCE_ANSWER)
    assert raw.endswith("data: [DONE]\n\n")
    assert completion_text(events) == A
    assert len(events) == len(tokens(A))
    ids = {event["id"] for event in events}
    assert len(ids) == 1 and ids.pop().startswith("cmpl-")
    for event in events:
        assert event["object"] == "text_completion"
        assert event["model"] == "qwq"
        assert isinstance(event["created"], int)
        assert "usage" not in event
        (choice,) = event["choices"]
        assert set(choice) == {"index", "text", "logprobs", "finish_reason"}
        assert choice["index"] == 0 and choice["logprobs"] is None
    finishes = [event["choices"][0]["finish_reason"] for event in events]
    assert finishes == [None] * (len(events) - 1) + ["stop"]
    request = server.requests[-1]
    assert request.path == "/v1/completions"
    assert request.body == completions_body(FORCE_ANSWER, stream=True)


def test_completions_stream_inside_think_goes_on_thinking(server: QwQTestServer) -> None:
    server.push(Reply(shape="reasoning"))
    _, events = completion_stream(server, THINK_LONGER)
    assert completion_text(events) == INLINE


def test_completions_include_usage(server: QwQTestServer) -> None:
    _, events = completion_stream(server, FORCE_ANSWER, stream_options={"include_usage": True})
    *text_events, last = events
    assert last["choices"] == []
    assert last["object"] == "text_completion"
    assert last["usage"] == raw_usage(FORCE_ANSWER, len(tokens(A)))
    assert text_events[-1]["choices"][0]["finish_reason"] == "stop"
    server.push(Reply(usage="per_chunk"))
    _, events = completion_stream(server, FORCE_ANSWER)
    counts = [event["usage"]["completion_tokens"] for event in events]
    assert counts == list(range(1, len(tokens(A)) + 1))


def test_completions_max_tokens_ends_with_length(server: QwQTestServer) -> None:
    options = {"include_usage": True}
    _, events = completion_stream(server, THINK_LONGER, max_tokens=4, stream_options=options)
    assert completion_text(events) == "".join(tokens(R)[:4])
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert events[-1]["usage"]["completion_tokens"] == 4
    payload = completions_body(THINK_LONGER, max_tokens=3)
    data = post_json(server, completions_url(server), payload).json()
    assert data["choices"][0]["text"] == "".join(tokens(R)[:3])
    assert data["choices"][0]["finish_reason"] == "length"


def test_completions_not_streamed(server: QwQTestServer) -> None:
    server.push(Reply(tool_calls=[{"name": "f", "arguments": {}}]))
    response = post_json(server, completions_url(server), completions_body(FORCE_ANSWER))
    data = response.json()
    assert data["id"].startswith("cmpl-")
    assert data["object"] == "text_completion"
    assert data["model"] == "qwq"
    assert data["choices"] == [{"index": 0, "text": A, "logprobs": None, "finish_reason": "stop"}]
    assert data["usage"] == raw_usage(FORCE_ANSWER, len(tokens(A)))
    server.push(Reply(usage="none"))
    data = post_json(server, completions_url(server), completions_body("No template.")).json()
    assert data["choices"][0]["text"] == INLINE
    assert "usage" not in data


def test_completions_refused_is_404_with_an_openai_error(server: QwQTestServer) -> None:
    with QwQTestServer(Reply(answer="kept"), completions=False) as refusing:
        response = post_json(refusing, completions_url(refusing), completions_body(FORCE_ANSWER))
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "message": "Invalid URL (POST /v1/completions)",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
        assert refusing.requests[-1].path == "/v1/completions"
        assert (
            post(refusing, "openai").json()["choices"][0]["message"]["content"].endswith("kept")
        ), "a refusal consumes no reply"
    server.completions = False
    assert post_json(server, completions_url(server), completions_body("x")).status_code == 404
    server.completions = True
    assert post_json(server, completions_url(server), completions_body("x")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/client/v4/accounts/test-account/ai/v1/completions",
        "/gateway/v1/test-account/gw/compat/completions",
    ],
)
def test_cloudflare_openai_paths_serve_no_completions(server: QwQTestServer, path: str) -> None:
    response = post_json(server, server.url + path, completions_body(FORCE_ANSWER))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [(Fault(code=3040), 429, "3040"), (Fault(status=503, retry_after=1), 503, "503")],
)
def test_completions_error_faults(
    server: QwQTestServer, fault: Fault, status: int, code: str
) -> None:
    server.push(Reply(fault=fault))
    payload = completions_body(FORCE_ANSWER, stream=True)
    response = post_json(server, completions_url(server), payload)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_completions_stream_faults(server: QwQTestServer) -> None:
    server.push(Reply(fault=Fault(close_without_done=True)))
    raw, events = completion_stream(server, FORCE_ANSWER, stream_options={"include_usage": True})
    assert "[DONE]" not in raw
    assert completion_text(events) == A
    assert all(c["finish_reason"] is None for e in events for c in e["choices"])
    server.push(Reply(fault=Fault(error_after=2)))
    _, events = completion_stream(server, FORCE_ANSWER)
    assert events[-1]["error"]["code"] == 500
    assert completion_text(events[:-1]) == "".join(tokens(A)[:2])
    server.push(Reply(fault=Fault(reset_after=2)))
    seen: list[str] = []
    payload = completions_body(FORCE_ANSWER, stream=True)
    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        httpx.stream("POST", completions_url(server), json=payload, headers=auth(server)) as r,
    ):
        read_events(r, seen)
    assert len(seen) == 2
    server.push(Reply(fault=Fault(stall_after=1)))
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream(
            "POST",
            completions_url(server),
            json=payload,
            headers=auth(server),
            timeout=httpx.Timeout(5, read=0.3),
        ) as r,
    ):
        read_events(r, seen)
    assert server.wait_for_disconnect(1.0)


# --- Long and looping reasoning ------------------------------------------------------------------

PASSAGE = "Wait, let me recount the apples: 3 plus 4 is 7, so 7 apples."


def most_repeated(text: str, width: int = 12) -> int:
    """How often the most frequent run of `width` tokens occurs (whitespace aside)."""
    words = [token.strip() for token in tokens(text)]
    runs = [tuple(words[i : i + width]) for i in range(len(words) - width + 1)]
    return max(Counter(runs).values(), default=0)


@pytest.mark.parametrize("count", [0, 1, 2, 9, 10, 57, 1000, 20_000])
def test_long_reasoning_has_exactly_that_many_tokens(count: int) -> None:
    text = long_reasoning(count, seed=count)
    assert len(tokens(text)) == count
    assert text == text.strip()


@pytest.mark.parametrize("seed", range(8))
def test_long_reasoning_never_repeats_a_passage(seed: int) -> None:
    text = long_reasoning(20_000, seed)
    assert most_repeated(text) < 3
    assert most_repeated(text, 10) == 1
    assert "Wait," in text and "Let me check" in text, "stock phrases, used briefly"


def test_long_reasoning_is_deterministic_per_seed() -> None:
    assert long_reasoning(3000, seed=5) == long_reasoning(3000, seed=5)
    assert long_reasoning(3000, seed=5) != long_reasoning(3000, seed=6)
    longer = long_reasoning(3500, seed=5)
    assert longer.startswith(long_reasoning(3000, seed=5)), "a longer text extends a shorter"
    with pytest.raises(ValueError):
        long_reasoning(-1)


def test_looping_reasoning_is_a_healthy_prefix_then_the_passage() -> None:
    text = looping_reasoning(200, PASSAGE, 5)
    prefix = long_reasoning(200)
    assert text == prefix + (" " + PASSAGE) * 5
    assert len(tokens(text)) == 200 + 5 * len(tokens(PASSAGE))
    assert most_repeated(text) >= 3, "the simple check catches the loop"
    assert (
        looping_reasoning(10, "\n\nHmm, again. ", 2) == long_reasoning(10) + "\n\nHmm, again." * 2
    )
    assert loop_copy("\n\nHmm. ") == "\n\nHmm."
    with pytest.raises(ValueError):
        looping_reasoning(10, "  ", 2)
    with pytest.raises(ValueError):
        Reply(loop_passage=" \n")


def looping_url(server: QwQTestServer, route: str) -> tuple[str, dict[str, Any]]:
    if route == "completions":
        return completions_url(server), completions_body(THINK_LONGER, stream=True)
    return URLS[route](server), body(stream=True)


@pytest.mark.parametrize("route", ["native", "openai", "completions"])
@pytest.mark.parametrize("pace", [None, 2000.0])
def test_loop_goes_on_until_the_client_hangs_up(
    server: QwQTestServer, route: str, pace: float | None
) -> None:
    server.push(Reply(reasoning=long_reasoning(30), loop_passage=PASSAGE, tokens_per_second=pace))
    url, payload = looping_url(server, route)
    payload.pop("max_tokens")
    text = ""
    with httpx.stream("POST", url, json=payload, headers=auth(server), timeout=10) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                text += collect([json.loads(line[5:])])["text"]
                if text.count(PASSAGE) >= 20:
                    break
    assert text.startswith(looping_reasoning(30, PASSAGE, 19))
    assert "</think>" not in text
    assert server.wait_for_disconnect(2.0), "the server saw the client close the stream"


@pytest.mark.parametrize("route", ["native", "openai", "completions"])
def test_loop_stops_at_max_tokens(server: QwQTestServer, route: str) -> None:
    server.push(Reply(reasoning=long_reasoning(30), loop_passage=PASSAGE))
    url, payload = looping_url(server, route)
    payload.update(max_tokens=500, stream_options={"include_usage": True})
    response = post_json(server, url, payload)
    got = collect([json.loads(p) for p in sse_data(response.text) if p != "[DONE]"])
    assert got["text"] == "".join(tokens(looping_reasoning(30, PASSAGE, 100))[:500])
    assert got["finish"] == ["length"]
    assert got["usage"]["completion_tokens"] == 500
    assert not server.wait_for_disconnect(0.05)


def test_loop_not_streamed(server: QwQTestServer) -> None:
    server.push(Reply(reasoning="Hmm.", loop_passage=PASSAGE))
    server.push(Reply(reasoning="Hmm.", loop_passage=PASSAGE))
    result = post(server, max_tokens=20).json()["result"]
    assert result["response"] == "Hmm." + "".join(tokens(loop_copy(PASSAGE) * 2)[:19])
    assert result["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 20
    payload = {k: v for k, v in body().items() if k != "max_tokens"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(URLS["openai"](server), json=payload, headers=auth(server), timeout=0.3)
    assert server.wait_for_disconnect(1.0), "with no max_tokens the answer never comes"


def test_loop_per_chunk_usage_keeps_counting(server: QwQTestServer) -> None:
    server.push(
        Reply(
            reasoning="Hmm.",
            loop_passage=PASSAGE,
            usage="per_chunk",
            reasoning_tokens_in_usage=True,
        )
    )
    counts: list[int] = []
    payload = {k: v for k, v in body(stream=True).items() if k != "max_tokens"}
    with httpx.stream("POST", URLS["native"](server), json=payload, headers=auth(server)) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                usage_so_far = json.loads(line[5:])["usage"]
                assert (
                    usage_so_far["completion_tokens_details"]["reasoning_tokens"]
                    == (usage_so_far["completion_tokens"])
                )
                counts.append(usage_so_far["completion_tokens"])
                if len(counts) == 300:
                    break
    assert counts == list(range(1, 301))
    assert server.wait_for_disconnect(2.0)


# --- Connections, concurrency, lifecycle ---------------------------------------------------------


def test_disconnect_detected_when_client_closes_mid_stream(server: QwQTestServer) -> None:
    stream(server)
    assert not server.wait_for_disconnect(0.05), "a finished stream is no disconnect"
    server.push(Reply(tokens_per_second=200))
    with open_stream(server) as r:
        for index, _ in enumerate(r.iter_lines()):
            if index == 6:
                break
    assert server.wait_for_disconnect(1.0)
    assert server.disconnects == 1
    server.reset_stats()
    assert server.disconnects == 0
    assert not server.wait_for_disconnect(0)


def test_peak_open_counts_concurrent_requests() -> None:
    """Four streams held open at one moment count a peak of four, however slow the machine.

    Each stream stalls after its first event, so the server holds it until its client hangs up,
    and no client hangs up before all four have their first event (the barrier): the four are
    open on the server together, and never more than four. No timing is involved.
    """
    clients = 4
    open_when_all_held: list[int] = []
    statuses: list[int] = []
    errors: list[Exception] = []
    with QwQTestServer(default=Reply(fault=Fault(stall_after=1))) as server:
        all_held = threading.Barrier(
            clients, action=lambda: open_when_all_held.append(server.open_streams), timeout=10
        )

        def client() -> None:
            try:
                with open_stream(server, timeout=10) as response:
                    statuses.append(response.status_code)
                    # Kept in a name: httpx closes the response when its line iterator is freed.
                    lines = response.iter_lines()
                    while not next(lines).startswith("data:"):
                        pass
                    all_held.wait()
            except Exception as exc:
                errors.append(exc)
                all_held.abort()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert statuses == [200] * clients
        assert open_when_all_held == [clients]
        assert server.peak_open == clients
        deadline = time.monotonic() + 10  # the server sees each hang-up in its own time
        while server.open_streams and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.open_streams == 0
        assert server.peak_open == clients
        server.reset_stats()
        assert server.peak_open == 0


def test_stop_closes_stalled_stream_promptly() -> None:
    server = QwQTestServer(Reply(fault=Fault(stall_after=1))).start()
    first_event = threading.Event()
    errors: list[Exception] = []

    def client() -> None:
        try:
            with open_stream(server) as r:
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        first_event.set()
        except httpx.HTTPError as exc:
            errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    assert first_event.wait(2)
    started = time.monotonic()
    server.stop()
    thread.join(2)
    assert time.monotonic() - started < 1.0
    assert not thread.is_alive()
    assert len(errors) == 1
    with pytest.raises(RuntimeError):
        _ = server.url


def test_usable_inside_a_running_event_loop() -> None:
    async def main() -> str:
        with QwQTestServer() as server:
            async with httpx.AsyncClient() as client:
                url = URLS["native"](server)
                response = await client.post(url, json=body(), headers=auth(server))
        return str(response.json()["result"]["response"])

    assert asyncio.run(main()) == INLINE


def test_pytest_fixture(request: pytest.FixtureRequest) -> None:
    try:
        qwq_server = request.getfixturevalue("qwq_server")
    except pytest.FixtureLookupError:
        pytest.skip("the qwq_jupyter pytest11 entry point is not installed")
    assert isinstance(qwq_server, QwQTestServer)
    assert post(qwq_server).status_code == 200


def test_command_line_server_until_interrupted() -> None:
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "qwq_jupyter.testing", "--pace", "1000", "--token", "t"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        try:
            info = {}
            for line in iter(process.stdout.readline, ""):
                if line.startswith("Serving"):
                    break
                key, _, value = line.partition(":")
                info[key] = value.strip()
            response = httpx.post(
                info["openai_base_url"] + "/chat/completions",
                json=body(),
                headers={"Authorization": "Bearer t"},
            )
            assert response.status_code == 200
            assert info["token"] == "t"
            assert info["account_id"] == "test-account"
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(5)
    assert process.returncode == 0
