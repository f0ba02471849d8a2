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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from qwq_jupyter.testing import Fault, QwQTestServer, RecordedRequest, Reply

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


def stream(server: QwQTestServer, route: str = "native", **extra: Any) -> tuple[str, list[dict]]:
    """Stream a completion; returns the raw body and the parsed events (without [DONE])."""
    response = post(server, route, stream=True, **extra)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    data = sse_data(response.text)
    return response.text, [json.loads(payload) for payload in data if payload != "[DONE]"]


def collect(events: list[dict]) -> dict[str, Any]:
    """Reassemble text, reasoning, finish reasons, last usage and tool calls from events."""
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
            delta = choice["delta"]
            out["text"] += delta.get("content") or ""
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
        return response.json()["result"]["response"]

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
