"""The client against the real local server: dialects, retries, faults, cancel, secrets."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from qwq_jupyter import (
    AsyncQwQClient,
    AuthenticationError,
    BadRequestError,
    ContextWindowError,
    Credentials,
    QuotaExceededError,
    QwQClient,
    QwQSettings,
    RateLimitError,
    RequestTimeoutError,
    Retrying,
    ServerError,
)
from qwq_jupyter.core.events import Finish
from qwq_jupyter.testing import Fault, QwQTestServer, Reply

SENTINEL_TOKEN = "tok-SENTINEL-9b1e77c2"
SENTINEL_ACCOUNT = "acct-SENTINEL-3f00"
QUESTION = [{"role": "user", "content": "What is 6 × 7?"}]


@pytest.fixture
def server():
    with QwQTestServer(token=SENTINEL_TOKEN, account_id=SENTINEL_ACCOUNT) as server:
        yield server


def settings_for(server: QwQTestServer, backend: str = "workers-ai", **changes) -> QwQSettings:
    settings = QwQSettings(
        api_base=server.api_base,
        gateway_base=server.gateway_base,
        base_url=server.openai_base_url,
        gateway_id="gw1",
        backend=backend,
        stall_timeout=5.0,
    )
    return settings.override(**changes) if changes else settings


def credentials(server: QwQTestServer) -> Credentials:
    return Credentials(server.account_id, server.token)


class FakeTime:
    """A clock and sleep that never really wait: retry tests take no wall time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run_async(server: QwQTestServer, fake: FakeTime | None = None, **changes):
    fake = fake or FakeTime()
    client = AsyncQwQClient(
        settings_for(server, **changes),
        credentials(server),
        clock=fake.clock,
        sleep=fake.sleep,
        jitter=lambda: 0.5,
    )

    async def collect():
        events = [event async for event in client.stream(QUESTION)]
        await client.aclose()
        return events

    return asyncio.run(collect())


@pytest.mark.parametrize("backend", ["workers-ai", "ai-gateway", "openai"])
@pytest.mark.parametrize("shape", ["inline", "echo", "reasoning_content", "reasoning"])
@pytest.mark.parametrize("stream", [True, False])
def test_every_backend_shape_and_mode(server, backend: str, shape: str, stream: bool) -> None:
    server.push(Reply(reasoning="Six sevens are 42.", answer="**42**", shape=shape))
    client = QwQClient(settings_for(server, backend, stream=stream), credentials(server))
    response = client.complete(QUESTION)
    assert response.reasoning.strip() == "Six sevens are 42."
    assert response.answer == "**42**"
    assert response.finish_reason == "stop"
    assert response.usage.input_tokens is not None and response.usage.output_tokens > 0
    assert response.cost is not None and response.cost > 0


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_request_carries_settings_not_server_defaults(server, backend: str) -> None:
    client = QwQClient(
        settings_for(server, backend, seed=7, presence_penalty=0.5), credentials(server)
    )
    client.complete(QUESTION)
    body = server.last_body
    assert body["temperature"] == 0.6 and body["temperature"] != 0.15
    assert body["max_tokens"] == 16_000 and body["max_tokens"] != 256
    assert (body["top_p"], body["top_k"], body["seed"], body["presence_penalty"]) == (
        0.95,
        40,
        7,
        0.5,
    )
    assert body["messages"] == QUESTION
    assert "frequency_penalty" not in body  # unset parameters are left out
    if backend == "openai":
        assert body["model"] == "@cf/qwen/qwq-32b"
        assert body["stream_options"] == {"include_usage": True}


def test_max_tokens_reaches_the_server(server) -> None:
    response = QwQClient(settings_for(server, max_tokens=5), credentials(server)).complete(QUESTION)
    assert response.finish_reason == "length"
    assert response.usage.output_tokens == 5
    assert response.answer == ""  # cut off while still reasoning


def test_raw_prompt_and_guided_json_and_tools_pass_through(server) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    tools = [{"name": "add", "description": "Add", "parameters": {"type": "object"}}]
    client = QwQClient(settings_for(server, guided_json=schema, tools=tools), credentials(server))
    client.complete(prompt="<|im_start|>user\nhi<|im_end|>\n", raw=True)
    body = server.last_body
    assert body["raw"] is True and body["prompt"].startswith("<|im_start|>")
    assert body["guided_json"] == schema and body["tools"] == tools


def test_openai_dialect_translates_schema_and_tools(server) -> None:
    schema = {"type": "object"}
    tools = [{"name": "add", "parameters": {"type": "object"}}]
    client = QwQClient(
        settings_for(server, "openai", guided_json=schema, tools=tools), credentials(server)
    )
    client.complete(QUESTION)
    body = server.last_body
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert body["tools"] == [{"type": "function", "function": tools[0]}]


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_tool_calls_surface(server, backend: str) -> None:
    call = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    server.push(Reply(answer="", tool_calls=[call]))
    response = QwQClient(settings_for(server, backend), credentials(server)).complete(QUESTION)
    assert response.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]


@pytest.mark.parametrize(
    ("status", "code", "error", "retried"),
    [
        (429, 3040, RateLimitError, True),
        (429, 3036, QuotaExceededError, False),
        (429, 4006, QuotaExceededError, False),
        (401, 10000, AuthenticationError, False),
        (403, 5016, AuthenticationError, False),
        (400, 5006, BadRequestError, False),
        (404, 3042, BadRequestError, False),
        (408, 3007, RequestTimeoutError, True),
        (413, 3010, ContextWindowError, False),
        (500, None, ServerError, True),
        (503, None, ServerError, True),
    ],
)
def test_error_classes_and_retries(server, status, code, error, retried) -> None:
    server.push(Reply(fault=Fault(status=status, code=code, times=2)))
    fake = FakeTime()
    events = run_async(server, fake)
    retries = [e for e in events if isinstance(e, Retrying)]
    finish = events[-1]
    assert isinstance(finish, Finish)
    if retried:
        assert [type(e.error) for e in retries] == [error, error]
        assert finish.reason == "stop" and len(server.requests) == 3
        assert fake.sleeps == [0.75, 1.5]  # equal jitter: half the backoff plus half of the rest
    else:
        assert retries == [] and len(server.requests) == 1
        assert finish.reason == "error" and isinstance(finish.error, error)
        assert "\n" not in str(finish.error)


def test_retry_after_is_honoured(server) -> None:
    server.push(Reply(fault=Fault(status=429, code=3040, retry_after=7)))
    fake = FakeTime()
    events = run_async(server, fake)
    assert fake.sleeps == [7.0] and events[-1].reason == "stop"


def test_retry_after_beyond_the_cap_gives_up(server) -> None:
    server.push(Reply(fault=Fault(status=429, code=3040, retry_after=3600)))
    fake = FakeTime()
    events = run_async(server, fake)
    assert fake.sleeps == [] and events[-1].reason == "error"


def test_attempts_are_bounded(server) -> None:
    server.push(Reply(fault=Fault(status=503, times=50)))
    fake = FakeTime()
    events = run_async(server, fake, max_retries=3)
    assert len(fake.sleeps) == 3 and len(server.requests) == 4
    assert events[-1].reason == "error"


def test_overall_deadline_stops_retrying(server) -> None:
    server.push(Reply(fault=Fault(status=503, times=50)))
    fake = FakeTime()
    events = run_async(server, fake, deadline=2.5, max_retries=20)
    assert sum(fake.sleeps) < 2.5 and events[-1].reason == "error"


def test_reset_before_any_token_is_retried(server) -> None:
    server.push(Reply(fault=Fault(reset_after=0)))
    events = run_async(server)
    assert isinstance(events[0], Retrying) and events[-1].reason == "stop"


def test_failure_after_tokens_keeps_partial_marked_incomplete(server) -> None:
    server.push(Reply(fault=Fault(reset_after=6)))
    client = QwQClient(settings_for(server), credentials(server))
    response = client.complete(QUESTION)
    assert response.finish_reason == "incomplete"
    assert response.reasoning  # what arrived is kept
    assert len(server.requests) == 1  # not silently retried
    assert "connection" in response.error


def test_close_without_done_is_incomplete(server) -> None:
    server.push(Reply(fault=Fault(close_without_done=True)))
    response = QwQClient(settings_for(server), credentials(server)).complete(QUESTION)
    assert response.finish_reason == "incomplete" and response.answer


def test_stall_is_detected(server) -> None:
    server.push(Reply(fault=Fault(stall_after=4)))
    started = time.monotonic()
    response = QwQClient(settings_for(server, stall_timeout=0.3), credentials(server)).complete(
        QUESTION
    )
    assert time.monotonic() - started < 3
    assert response.finish_reason == "incomplete" and "stalled" in response.error
    assert response.reasoning


@pytest.mark.parametrize(
    "fault",
    [
        Fault(malformed=True),
        Fault(byte_per_write=True),
        Fault(line_ending="\r\n"),
        Fault(line_ending="\r"),
        Fault(split_utf8=True),
        Fault(bare_done=True),
    ],
)
def test_hostile_framing_still_decodes(server, fault: Fault) -> None:
    reasoning, answer = "Sechs mal sieben — 42, naïve 🙂 check.", "Réponse : **42** ✓"
    server.push(Reply(reasoning=reasoning, answer=answer, fault=fault))
    response = QwQClient(settings_for(server), credentials(server)).complete(QUESTION)
    assert response.reasoning.strip() == reasoning and response.answer == answer
    assert response.finish_reason == "stop"
    if fault.malformed:
        assert response.malformed_events > 0
    else:
        assert response.malformed_events == 0


def test_usage_per_chunk_is_not_summed(server) -> None:
    server.push(Reply(usage="per_chunk"))
    response = QwQClient(settings_for(server), credentials(server)).complete(QUESTION)
    assert response.usage.output_tokens == response.reasoning_chunks + response.answer_chunks


def test_usage_unknown_is_reported_unknown(server) -> None:
    server.push(Reply(usage="none"))
    response = QwQClient(settings_for(server), credentials(server)).complete(QUESTION)
    assert response.usage.output_tokens is None and response.cost is None
    assert "cost=unknown" in repr(response)


def test_sync_cancel_closes_the_connection(server) -> None:
    server.push(Reply(tokens_per_second=40))
    client = QwQClient(settings_for(server), credentials(server))
    stream = client.stream(QUESTION)
    for seen, _event in enumerate(stream, 1):
        if seen == 3:
            break  # leaving the loop early cancels the call
    assert server.wait_for_disconnect(1.0)
    assert stream.response.finish_reason == "interrupted"
    assert stream.response.reasoning


def test_cancel_from_another_thread(server) -> None:
    server.push(Reply(tokens_per_second=40))
    stream = QwQClient(settings_for(server), credentials(server)).stream(QUESTION)
    threading.Timer(0.3, lambda: stream.cancel(wait=False)).start()
    events = list(stream)
    assert events[-1] == Finish("interrupted")
    assert server.wait_for_disconnect(1.0)


def test_async_task_cancel_closes_the_connection(server) -> None:
    server.push(Reply(tokens_per_second=40))

    async def main() -> None:
        client = AsyncQwQClient(settings_for(server), credentials(server))
        task = asyncio.create_task(client.complete(QUESTION))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert server.wait_for_disconnect(1.0)


def test_missing_credentials_refused_before_any_request(server) -> None:
    client = QwQClient(settings_for(server), Credentials())
    with pytest.raises(Exception, match="set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN"):
        client.complete(QUESTION)
    assert server.requests == []


def test_invalid_override_refused_before_any_request(server) -> None:
    client = QwQClient(settings_for(server), credentials(server))
    with pytest.raises(Exception, match="temperature must be from 0 to 5, got 6"):
        client.complete(QUESTION, temperature=6)
    assert server.requests == []


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_extra_body_fields_pass_through(server, backend: str) -> None:
    extra = {"reasoning_effort": "low", "chat_template_kwargs": {"enable_thinking": True}}
    client = QwQClient(settings_for(server, backend, extra_body=extra), credentials(server))
    client.complete(QUESTION)
    assert server.last_body["reasoning_effort"] == "low"
    assert server.last_body["chat_template_kwargs"] == {"enable_thinking": True}


def test_a_slow_non_streamed_reply_is_not_a_stall(server) -> None:
    # without streaming nothing arrives until the reply is whole: only the deadline applies
    server.push(Reply(latency=1.0))
    client = QwQClient(settings_for(server, stream=False, stall_timeout=0.3), credentials(server))
    assert client.complete(QUESTION).finish_reason == "stop"
    assert len(server.requests) == 1


def test_one_async_client_across_two_event_loops(server) -> None:
    client = AsyncQwQClient(settings_for(server), credentials(server))
    first = asyncio.run(client.complete(QUESTION))
    second = asyncio.run(client.complete(QUESTION))  # a new loop: a new connection pool
    assert first.finish_reason == second.finish_reason == "stop"


def test_an_error_event_mid_stream_keeps_the_partial_as_incomplete(server) -> None:
    server.push(Reply(fault=Fault(error_after=5)))
    response = QwQClient(settings_for(server), credentials(server)).complete(QUESTION)
    assert response.finish_reason == "incomplete"
    assert "internal error while generating" in response.error and response.reasoning


def test_done_without_a_finish_reason_at_max_tokens_is_length(server) -> None:
    server.push(Reply(fault=Fault(no_finish_reason=True)))
    client = QwQClient(settings_for(server, max_tokens=6), credentials(server))
    response = client.complete(QUESTION)
    assert response.finish_reason == "length" and response.answer == ""
    server.push(Reply(fault=Fault(no_finish_reason=True)))
    full = client.complete(QUESTION, max_tokens=4000)
    assert full.finish_reason == "stop" and full.answer  # `</think>` came: a real answer


def test_a_custom_transport_carries_the_call() -> None:
    """`transport=` lets a proxy or a test stand in for the network (here httpx's mock)."""
    import asyncio

    import httpx

    from qwq_jupyter import AsyncQwQClient, Credentials, QwQSettings

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = (
            b'data: {"response": "Six sevens.</think>"}\n\n'
            b'data: {"response": "42", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}\n\n'
            b"data: [DONE]\n\n"
        )
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, stream=httpx.ByteStream(body), headers=headers)

    client = AsyncQwQClient(
        QwQSettings(max_retries=0),
        Credentials("acct-transport", "tok-transport"),
        transport=httpx.MockTransport(answer),
    )
    response = asyncio.run(client.complete([{"role": "user", "content": "6 x 7?"}]))
    assert response.answer == "42" and response.reasoning == "Six sevens."
    assert seen[0].headers["authorization"] == "Bearer tok-transport"
    assert "/accounts/acct-transport/ai/run/@cf/qwen/qwq-32b" in str(seen[0].url)
