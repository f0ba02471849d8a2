"""An inline-shape reply that ends without `</think>`: an answer if it stopped, else reasoning.

QwQ's chat template opens `<think>` in the prompt, so the inline text streams as reasoning until
`</think>`. A model that does not think, or a server that strips the thinking, never sends it:
such a reply that finishes normally (`stop`) is the answer, shown and kept in history. One cut
off by max_tokens (`length`) is reasoning that never reached its answer. All against the real
local server, streamed and not, in both dialects.
"""

from __future__ import annotations

import io
import json

import pytest
from IPython.utils.capture import capture_output
from shells import ask, command, session

from qwq_jupyter import AnswerDelta, Credentials, QwQClient, QwQSettings, ReasoningDelta
from qwq_jupyter.core.template import GENERATION_PROMPT
from qwq_jupyter.notebook.view import NotebookView
from qwq_jupyter.session.session import Session
from qwq_jupyter.testing import Fault, QwQTestServer, Reply

QUESTION = [{"role": "user", "content": "Say hello."}]
PIECES = ["Hello", " there,", " no", " thinking", " here."]
TEXT = "".join(PIECES)
BACKENDS = {"workers-ai": "native", "openai": "openai"}


@pytest.fixture
def server():
    with QwQTestServer() as server:
        yield server


def client_for(server: QwQTestServer, backend: str = "workers-ai", **changes) -> QwQClient:
    settings = QwQSettings(
        api_base=server.api_base,
        gateway_base=server.gateway_base,
        base_url=server.openai_base_url,
        backend=backend,
        stall_timeout=5.0,
        **changes,
    )
    return QwQClient(settings, Credentials(server.account_id, server.token))


def unclosed(dialect: str, finish_reason: str | None, *, stream: bool = True) -> Reply:
    """A reply whose text never holds `</think>`, ending with `finish_reason` (None: unsaid)."""
    usage = {"prompt_tokens": 5, "completion_tokens": len(PIECES), "total_tokens": 5 + len(PIECES)}
    if not stream:
        if dialect == "native":
            result = {"response": TEXT, "usage": usage}
            if finish_reason:
                result["finish_reason"] = finish_reason
            body = {"result": result, "success": True, "errors": [], "messages": []}
        else:
            message = {"role": "assistant", "content": TEXT}
            choice = {"index": 0, "message": message, "finish_reason": finish_reason}
            body = {"object": "chat.completion", "choices": [choice], "usage": usage}
        return Reply(fault=Fault(raw_body=json.dumps(body).encode()))
    if dialect == "native":
        events: list[dict] = [{"response": piece, "p": "pad"} for piece in PIECES]
        if finish_reason:
            events[-1]["finish_reason"] = finish_reason
        events.append({"response": "", "usage": usage})
    else:
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        events += [
            {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            for piece in PIECES
        ]
        events[-1]["choices"][0]["finish_reason"] = finish_reason
        events.append({"choices": [], "usage": usage})
    return Reply(fault=Fault(events=[json.dumps(event) for event in events]))


def test_the_template_opens_think_so_unclosed_text_streams_as_reasoning() -> None:
    assert GENERATION_PROMPT.endswith("<think>\n")


# --- The client: streamed, non-streamed, both dialects --------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("finish_reason", ["stop", None])
def test_a_stream_that_stops_without_close_tag_is_the_answer(
    server, backend: str, finish_reason: str | None
) -> None:
    server.push(unclosed(BACKENDS[backend], finish_reason))
    stream = client_for(server, backend).stream(QUESTION)
    live = list(stream)
    # Shown live as reasoning (it could still have been thinking) ...
    assert "".join(e.text for e in live if isinstance(e, ReasoningDelta)) == TEXT
    assert not any(isinstance(e, AnswerDelta) for e in live)
    # ... and the finished response takes it as the answer
    response = stream.response
    assert (response.answer, response.reasoning, response.finish_reason) == (TEXT, "", "stop")
    assert response.complete and response.thinking_time is None
    assert (response.answer_chunks, response.reasoning_chunks) == (len(PIECES), 0)
    assert (response.reasoning_tokens, response.answer_tokens) == (0, len(PIECES))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("finish_reason", ["stop", None])
def test_a_whole_reply_that_stops_without_close_tag_is_the_answer(
    server, backend: str, finish_reason: str | None
) -> None:
    server.push(unclosed(BACKENDS[backend], finish_reason, stream=False))
    response = client_for(server, backend).complete(QUESTION, stream=False)
    assert server.last_body["stream"] is False
    assert (response.answer, response.reasoning, response.finish_reason) == (TEXT, "", "stop")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_that_says_length_without_close_tag_stays_reasoning(
    server, backend: str, stream: bool
) -> None:
    server.push(unclosed(BACKENDS[backend], "length", stream=stream))
    response = client_for(server, backend).complete(QUESTION, stream=stream)
    assert (response.answer, response.reasoning, response.finish_reason) == ("", TEXT, "length")
    assert not response.complete


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_cut_at_max_tokens_while_thinking_stays_reasoning(
    server, backend: str, stream: bool
) -> None:
    server.push(Reply(reasoning="First I add. Then I carry the one.", answer="It is 4."))
    response = client_for(server, backend, max_tokens=4).complete(QUESTION, stream=stream)
    assert (response.answer, response.finish_reason) == ("", "length")
    assert response.reasoning.startswith("First I add.") and "carry" not in response.reasoning


def test_cut_off_with_no_reason_and_no_usage_stays_reasoning(server) -> None:
    # Nothing says why it ended: filling max_tokens is what tells a cut-off from an answer
    server.push(Reply(usage="none", fault=Fault(no_finish_reason=True)))
    response = client_for(server, max_tokens=6).complete(QUESTION)
    assert response.usage.output_tokens is None
    assert (response.answer, response.finish_reason) == ("", "length")
    assert response.reasoning.startswith("Okay, the user")


def test_a_thinking_reply_is_unchanged(server) -> None:
    server.push(Reply(reasoning="Hmm, a greeting.", answer="Hello!"))
    response = client_for(server).complete(QUESTION)
    assert (response.reasoning.strip(), response.answer) == ("Hmm, a greeting.", "Hello!")


# --- The session: the live view is replaced, the turn is history ----------------------------------


def test_notebook_output_ends_with_the_answer_and_the_turn_is_kept(shell, qwq_env) -> None:
    settings = QwQSettings(api_base=qwq_env.api_base, stall_timeout=5.0)
    state = Session(settings, Credentials(qwq_env.account_id, qwq_env.token))
    qwq_env.push(unclosed("native", "stop"))
    live = io.StringIO()
    with capture_output() as captured:
        response = state.run(state.ask("Say hello.", settings), NotebookView(out=live))
    assert "thinking" in live.getvalue()  # streamed live as (grey) reasoning
    (final,) = captured.outputs  # the live text was cleared: only the final output remains
    html = final.data["text/html"]
    assert "qwq-answer" in html and "no thinking here." in html
    assert "qwq-reasoning" not in html
    assert (response.answer, response.reasoning) == (TEXT, "")
    assert state.conversation().history() == [
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": TEXT},
    ]
    state.close()


@pytest.mark.parametrize("flags", ["", "--no-stream"])
def test_the_answer_goes_back_as_history(shell, qwq_env, flags: str) -> None:
    qwq_env.push(unclosed("native", "stop", stream=not flags))
    value, out = ask(shell, "Say hello.", flags)
    assert (value.answer, value.reasoning, value.finish_reason) == (TEXT, "", "stop")
    assert "no thinking here." in out
    ask(shell, "And again?")
    assert qwq_env.last_body["messages"] == [
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": TEXT},
        {"role": "user", "content": "And again?"},
    ]


def test_reasoning_cut_off_is_not_history(shell, qwq_env) -> None:
    qwq_env.push(unclosed("native", "length"))
    value, out = ask(shell, "Say hello.")
    assert (value.answer, value.finish_reason) == ("", "length")
    assert "while still reasoning" in out
    ask(shell, "And again?")
    assert qwq_env.last_body["messages"] == [{"role": "user", "content": "And again?"}]


def test_a_recorded_unclosed_answer_replays_as_the_answer(
    shell, qwq_env, tmp_path, monkeypatch
) -> None:
    cassette = tmp_path / "tape.json"
    command(shell, f"record {cassette}")
    qwq_env.push(unclosed("native", None))
    recorded, _ = ask(shell, "Say hello.", "--no-history")
    command(shell, "record off")
    assert recorded.answer == TEXT
    qwq_env.stop()
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    session(shell)._client = None
    command(shell, f"replay {cassette} 0")
    replayed, _ = ask(shell, "Say hello.", "--no-history")
    command(shell, "replay off")
    assert (replayed.answer, replayed.reasoning, replayed.finish_reason) == (TEXT, "", "stop")
