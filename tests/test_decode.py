"""From payloads to events: reasoning shapes, usage, tool calls, finish reasons."""

from __future__ import annotations

import json

import pytest

from qwq_jupyter import AnswerDelta, Finish, ReasoningDelta, ToolCallEvent, UsageEvent
from qwq_jupyter.core.builder import ResponseBuilder
from qwq_jupyter.core.errors import IncompleteStreamError
from qwq_jupyter.wire.decode import EventDecoder


def run(payloads: list[object], *, done: bool = True):
    decoder = EventDecoder()
    events = []
    for payload in payloads:
        events += decoder.feed(payload if isinstance(payload, str) else json.dumps(payload))
    if done:
        events += decoder.feed("[DONE]")
    events += decoder.end()
    builder = ResponseBuilder()
    for event in events:
        builder.add(event)
    return events, builder.response


def native(text: str, **extra: object) -> dict:
    return {"response": text, "p": "padding-xyz", **extra}


def openai(**delta: object) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def test_native_inline_reasoning_without_opening_tag() -> None:
    _, response = run([native("Two plus"), native(" two.</thi"), native("nk>\n\n4")])
    assert (response.reasoning, response.answer, response.finish_reason) == (
        "Two plus two.",
        "4",
        "stop",
    )


def test_native_echoed_think() -> None:
    _, response = run([native("<think>\n"), native("hm</think>"), native("4")])
    assert (response.reasoning, response.answer) == ("\nhm", "4")


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_separate_reasoning_field(field: str) -> None:
    payloads = [openai(role="assistant"), openai(**{field: "think"}), openai(content="answer")]
    events, response = run(payloads)
    assert (response.reasoning, response.answer) == ("think", "answer")
    assert [type(e) for e in events] == [ReasoningDelta, AnswerDelta, Finish]


def test_field_mode_keeps_literal_close_tag_in_answer() -> None:
    _, response = run([openai(reasoning_content="r"), openai(content="a </think> b")])
    assert response.answer == "a </think> b"


def test_last_usage_wins_never_summed() -> None:
    usages = [
        {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": 9 + n} for n in (1, 2, 3)
    ]
    payloads = [
        native(f"t{i}</think>" if i == 1 else f"t{i}", usage=u) for i, u in enumerate(usages)
    ]
    payloads.append(native("", usage={"prompt_tokens": 9, "completion_tokens": 3, "neurons": 1.5}))
    _, response = run(payloads)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 3)


def test_usage_unknown_when_not_sent() -> None:
    _, response = run([native("r</think>a")])
    assert response.usage.input_tokens is None and response.cost is None
    assert response.reasoning_tokens is None


def test_reasoning_tokens_reported_or_estimated() -> None:
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 10,
        "completion_tokens_details": {"reasoning_tokens": 7},
    }
    _, response = run([native("r</think>a", usage=usage)])
    assert (response.reasoning_tokens, response.answer_tokens, response.tokens_estimated) == (
        7,
        3,
        False,
    )
    _, estimated = run(
        [native("r"), native("r"), native("r</think>a"), native("", usage={"completion_tokens": 8})]
    )
    assert estimated.tokens_estimated and estimated.reasoning_tokens + estimated.answer_tokens == 8


def test_malformed_events_are_skipped_and_counted() -> None:
    events, response = run([native("a</think>"), "{not json", "[1, 2]", native("b")])
    assert response.answer == "b" and response.malformed_events == 2
    assert isinstance(events[-1], Finish)


@pytest.mark.parametrize("reason", ["length", "tool_calls", "stop"])
def test_finish_reasons(reason: str) -> None:
    _, response = run([native("thinking", finish_reason=reason)], done=False)
    assert response.finish_reason == reason


def test_closed_without_done_is_incomplete() -> None:
    _, response = run([native("half a thought")], done=False)
    assert response.finish_reason == "incomplete"
    assert "ended before the reply was finished" in response.error


def test_closed_before_any_token_raises_to_allow_a_retry() -> None:
    decoder = EventDecoder()
    with pytest.raises(IncompleteStreamError):
        decoder.end()


def test_explicit_stop_without_close_tag_means_it_was_all_answer() -> None:
    _, response = run([native("Just an answer.", finish_reason="stop")])
    assert (response.reasoning, response.answer) == ("", "Just an answer.")


def test_done_without_a_reason_or_close_tag_is_an_answer() -> None:
    # [DONE] with no reason and no sign of max_tokens: it finished normally (`stop`)
    events, response = run([native("Just "), native("an answer.")])
    assert (response.reasoning, response.answer, response.finish_reason) == (
        "",
        "Just an answer.",
        "stop",
    )
    assert [type(e) for e in events] == [ReasoningDelta, ReasoningDelta, Finish]
    assert events[-1].answer_only


@pytest.mark.parametrize(
    ("payloads", "done", "reason"),
    [
        ([native("Still thinking", finish_reason="length")], True, "length"),
        ([native("Still thinking")], False, "incomplete"),
        ([native("Still thinking", finish_reason="content_filter")], True, "incomplete"),
        (
            [native("Still thinking", tool_calls=[{"name": "f"}], finish_reason="tool_calls")],
            True,
            "tool_calls",
        ),
    ],
)
def test_unclosed_reasoning_not_stopped_stays_reasoning(payloads, done: bool, reason: str) -> None:
    events, response = run(payloads, done=done)
    assert response.finish_reason == reason
    assert (response.reasoning, response.answer) == ("Still thinking", "")
    assert not events[-1].answer_only


def test_separate_field_reasoning_alone_stays_reasoning() -> None:
    events, response = run([openai(reasoning_content="only thought")])
    assert (response.reasoning, response.answer, response.finish_reason) == (
        "only thought",
        "",
        "stop",
    )
    assert not events[-1].answer_only


def test_echoed_think_never_closed_is_an_answer_without_the_tag() -> None:
    _, response = run(
        [native("<think>\n"), native("Plain"), native(" reply", finish_reason="stop")]
    )
    assert (response.reasoning, response.answer) == ("", "\nPlain reply")


def test_unclosed_reasoning_filling_max_tokens_without_usage_is_length() -> None:
    # No finish reason and no usage: as many chunks as max_tokens allows means cut off
    decoder = EventDecoder(max_tokens=3)
    events = []
    for piece in ("a", " b", " c"):
        events += decoder.feed(json.dumps(native(piece)))
    events += decoder.feed("[DONE]") + decoder.end()
    assert events[-1] == Finish("length")
    fewer = EventDecoder(max_tokens=4)
    for piece in ("a", " b", " c"):
        fewer.feed(json.dumps(native(piece)))
    fewer.feed("[DONE]")
    assert fewer.end()[-1] == Finish("stop", answer_only=True)


def test_chunk_count_never_overrides_a_closed_reply() -> None:
    # With `</think>` seen the answer is real: the chunk count says nothing about max_tokens
    decoder = EventDecoder(max_tokens=3)
    for piece in ("r</think>", "a", " b"):
        decoder.feed(json.dumps(native(piece)))
    decoder.feed("[DONE]")
    assert decoder.end()[-1] == Finish("stop")


def test_done_without_reason_after_max_tokens_is_length() -> None:
    decoder = EventDecoder(max_tokens=3)
    events = []
    for piece in ("a", " b", " c"):
        events += decoder.feed(json.dumps(native(piece)))
    events += decoder.feed(
        json.dumps(native("", usage={"prompt_tokens": 1, "completion_tokens": 3}))
    )
    events += decoder.feed("[DONE]") + decoder.end()
    builder = ResponseBuilder()
    for event in events:
        builder.add(event)
    assert builder.response.finish_reason == "length"
    assert builder.response.answer == "" and builder.response.reasoning == "a b c"


def test_unknown_finish_reason_is_not_a_finished_answer() -> None:
    _, response = run([native("r</think>partial", finish_reason="content_filter")], done=False)
    assert response.finish_reason == "incomplete" and "content_filter" in response.error


@pytest.mark.parametrize(
    "payload",
    [
        {"error": {"message": "model crashed", "code": 500}},
        {"success": False, "errors": [{"code": 3040, "message": "busy"}]},
    ],
)
def test_error_event_mid_stream_raises(payload: dict) -> None:
    from qwq_jupyter.core.errors import ServerReportedError

    decoder = EventDecoder()
    decoder.feed(json.dumps(native("some reasoning")))
    with pytest.raises(ServerReportedError, match="error mid-reply"):
        decoder.feed(json.dumps(payload))


@pytest.mark.parametrize(
    "payload",
    [
        {"response": ["not", "text"]},
        {"choices": [{"delta": {"content": ""}, "finish_reason": ["odd"]}]},
        {"response": "", "tool_calls": [{"name": 5, "arguments": {"a": 1}}]},
        {"choices": "nope"},
    ],
)
def test_odd_but_valid_json_is_skipped_not_fatal(payload: dict) -> None:
    events, response = run([native("r</think>"), payload, native("a")])
    assert response.answer == "a" and isinstance(events[-1], Finish)


def test_native_tool_calls_whole() -> None:
    call = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    events, response = run(
        [native("r</think>"), native("", tool_calls=[call], finish_reason="tool_calls")]
    )
    assert [c.to_dict() for c in response.tool_calls] == [{**call, "id": None}]
    assert response.finish_reason == "tool_calls"
    assert any(isinstance(e, ToolCallEvent) for e in events)


def test_openai_tool_call_fragments() -> None:
    first = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "add", "arguments": '{"a": '},
    }
    second = {"index": 0, "function": {"arguments": "1}"}}
    _, response = run(
        [openai(reasoning="r"), openai(tool_calls=[first]), openai(tool_calls=[second])]
    )
    assert response.tool_calls[0].to_dict() == {"name": "add", "arguments": {"a": 1}, "id": "c1"}


def test_non_streamed_native_envelope() -> None:
    decoder = EventDecoder()
    body = {
        "result": {
            "response": "why</think>\n\nbecause",
            "usage": {"prompt_tokens": 3, "completion_tokens": 4},
        },
        "success": True,
        "errors": [],
    }
    events = decoder.feed_whole(body) + decoder.end()
    assert [type(e) for e in events] == [ReasoningDelta, AnswerDelta, UsageEvent, Finish]


def test_non_streamed_openai_shape_inside_result() -> None:
    decoder = EventDecoder()
    body = {
        "result": {
            "choices": [
                {"message": {"content": "a", "reasoning_content": "r"}, "finish_reason": "stop"}
            ]
        }
    }
    events = decoder.feed_whole(body) + decoder.end()
    assert [type(e) for e in events] == [ReasoningDelta, AnswerDelta, Finish]
