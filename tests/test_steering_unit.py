"""`SteeredSource` on scripted event sources: budgets, extensions, caps, meters, failures.

Narrow unit tests with a fake source and a fake clock; the end-to-end tests over HTTP are in
`test_steering.py`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from qwq_jupyter.client.steering import (
    CLOSING,
    MAX_EXTENSIONS,
    SteeredSource,
    Steering,
    sentence_end,
)
from qwq_jupyter.core.builder import ResponseBuilder
from qwq_jupyter.core.errors import ConfigurationError, QwQError
from qwq_jupyter.core.events import (
    AnswerDelta,
    Event,
    Finish,
    LoopFound,
    Meter,
    ReasoningDelta,
    ThinkingCut,
    ThinkingExtended,
    Usage,
    UsageEvent,
)
from qwq_jupyter.core.settings import QwQSettings

TEMPLATE = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n"


class Script:
    """A source answering each request with the next scripted list of events, token by token."""

    def __init__(self, *replies: list[Event]) -> None:
        self.replies = list(replies)
        self.requests: list[Any] = []
        self.closed = 0

    async def event_batches(self, request: Any, settings: Any = None) -> AsyncIterator[list[Event]]:
        self.requests.append(request)
        events = self.replies.pop(0)
        try:
            for event in events:
                yield [event]
        finally:
            self.closed += 1


def reasoning(count: int, word: str = "step") -> list[Event]:
    return [ReasoningDelta(f" {word}{i}.") for i in range(count)]


def answer(text: str = "42") -> list[Event]:
    return [AnswerDelta(text)]


def steering(**changes: Any) -> Steering:
    settings = QwQSettings().override(on_loop="off", **changes)
    return Steering.of(settings, TEMPLATE, input_tokens=100)


def run(source: SteeredSource) -> tuple[list[Event], Any]:
    """All events of one steered call, and the response they add up to."""

    async def collect() -> list[Event]:
        events: list[Event] = []
        async for batch in source.event_batches("first"):  # type: ignore[arg-type]
            events += batch
        return events

    events = asyncio.run(collect())
    builder = ResponseBuilder()
    for event in events:
        builder.add(event)
    return events, builder.response


def continuation_log() -> tuple[list[tuple[str, str, int]], Any]:
    made: list[tuple[str, str, int]] = []

    def continuation(text: str, opens_in: str, max_tokens: int) -> str:
        made.append((text, opens_in, max_tokens))
        return f"continuation {len(made)}"

    return made, continuation


def test_budget_cuts_at_n_tokens_and_asks_for_the_answer() -> None:
    inner = Script(
        [*reasoning(50), *answer("never")],
        [*answer("forced 42"), UsageEvent(Usage(150, 3)), Finish("stop")],
    )
    made, continuation = continuation_log()
    events, response = run(SteeredSource(inner, steering(think_budget=10), continuation))
    assert inner.requests == ["first", "continuation 1"]
    assert inner.closed == 2  # the first call was closed at the budget
    cut = next(e for e in events if isinstance(e, ThinkingCut))
    assert (cut.reason, cut.at_tokens, cut.action, cut.closing) == ("budget", 10, "answer", CLOSING)
    text, opens_in, max_tokens = made[0]
    kept = "".join(f" step{i}." for i in range(10)).strip()
    assert text == f"{TEMPLATE}{kept}\n\n{CLOSING}\n</think>\n\n"
    assert opens_in == "answer" and max_tokens == 16_000 - 10
    assert response.answer == "forced 42" and response.forced and response.calls == 2
    assert response.reasoning == "".join(f" step{i}." for i in range(10))
    # the first call's usage is estimated (cut before the server said), the second reported
    assert response.usage == Usage(100 + 150, 10 + 3, 10, estimated=True)  # reasoning counted
    assert response.finish_reason == "stop"


def test_budget_zero_sends_only_the_answer_request() -> None:
    inner = Script([*answer("quick"), UsageEvent(Usage(30, 1)), Finish("stop")])
    made, continuation = continuation_log()
    _, response = run(SteeredSource(inner, steering(think_budget=0), continuation))
    assert inner.requests == ["continuation 1"]
    assert made[0][0] == f"{TEMPLATE}{CLOSING}\n</think>\n\n"
    assert response.usage == Usage(30, 1) and not response.usage.estimated
    assert response.cut is not None and response.cut.at_tokens == 0


def test_a_finished_reasoning_under_the_budget_is_not_touched() -> None:
    inner = Script([*reasoning(5), *answer("done"), UsageEvent(Usage(9, 6)), Finish("stop")])
    made, continuation = continuation_log()
    _, response = run(SteeredSource(inner, steering(think_budget=50), continuation))
    assert made == [] and response.cut is None and response.calls == 1
    assert response.usage == Usage(9, 6)


def test_think_min_continues_with_wait_then_stops_extending() -> None:
    replies = [[*reasoning(3), *answer("early"), Finish("stop")]] * (MAX_EXTENSIONS + 1)
    replies.append([*answer("unused")])
    inner = Script(*replies)
    made, continuation = continuation_log()
    events, response = run(SteeredSource(inner, steering(think_min=1_000), continuation))
    extended = [e for e in events if isinstance(e, ThinkingExtended)]
    assert [e.count for e in extended] == list(range(1, MAX_EXTENSIONS + 1))
    assert all(text.endswith("\n\nWait,") and opens == "reasoning" for text, opens, _ in made)
    assert response.extensions == MAX_EXTENSIONS and response.answer == "early"
    assert response.reasoning.count("Wait,") == MAX_EXTENSIONS
    assert "early" not in response.reasoning  # the early answers were never shown


def test_answer_now_cuts_at_the_next_batch() -> None:
    inner = Script([*reasoning(30), *answer("never")], [*answer("now"), Finish("stop")])
    _, continuation = continuation_log()
    source = SteeredSource(inner, steering(), continuation)
    assert source.answer_now()
    events, response = run(source)
    cut = next(e for e in events if isinstance(e, ThinkingCut))
    assert cut.reason == "answer_now" and cut.at_tokens == 1
    assert response.answer == "now" and not source.answer_now()  # nothing left to cut


def test_cost_cap_forces_the_answer_while_it_is_affordable() -> None:
    # 100 input tokens at $1/M and output at $1/M: a $0.002 cap leaves room for the prompt,
    # some reasoning, the re-read and the answer reserve.
    settings = dict(max_cost=0.0023, input_price=1.0, output_price=1.0)
    inner = Script([*reasoning(2_000), *answer("never")], [*answer("capped"), Finish("stop")])
    made, continuation = continuation_log()
    events, _ = run(SteeredSource(inner, steering(**settings), continuation))
    cut = next(e for e in events if isinstance(e, ThinkingCut))
    assert cut.reason == "cost" and cut.action == "answer"
    # spent (100 + r) + re-read (100 + r + 32) + the answer reserve (a quarter of the cap,
    # 575, being less than 1,000 tokens) reaches 2,300 at r = 747
    assert cut.at_tokens == 747
    assert made[0][2] <= 2_300 - (100 + 747) - (100 + 747 + 32)  # the answer fits the cap


def test_cost_cap_stop_ends_the_call_without_a_continuation() -> None:
    settings = dict(max_cost=0.0002, input_price=1.0, output_price=1.0, on_budget="stop")
    inner = Script([*reasoning(500), *answer("never")])
    made, continuation = continuation_log()
    _, response = run(SteeredSource(inner, steering(**settings), continuation))
    assert made == [] and response.finish_reason == "interrupted"
    assert response.cut is not None and response.cut.action == "stop"
    assert response.cut.at_tokens == 100  # 100 input + 100 output = $0.0002


def test_meter_reports_spent_and_worst_case() -> None:
    clock = iter(range(1_000)).__next__
    inner = Script([*reasoning(4), *answer("a"), UsageEvent(Usage(100, 5)), Finish("stop")])
    _, continuation = continuation_log()
    settings = dict(input_price=1.0, output_price=1.0, max_tokens=1_000)
    source = SteeredSource(inner, steering(**settings), continuation, clock=lambda: clock())
    events, _ = run(source)
    meters = [e for e in events if isinstance(e, Meter)]
    first = meters[0]
    assert first.reasoning_tokens == 1 and first.spent == pytest.approx(101e-6)
    # the rest of max_tokens, plus re-reading prompt and reasoning if the answer is forced
    assert first.worst == pytest.approx(101e-6 + 999e-6 + (100 + 1 + 32) * 1e-6)
    assert meters[-1].answer_tokens == 1


def test_a_continuation_that_cannot_be_made_keeps_the_reasoning() -> None:
    inner = Script([*reasoning(20)])

    def refuse(text: str, opens_in: str, max_tokens: int) -> Any:
        raise ConfigurationError("this server cannot continue raw text")

    _, response = run(SteeredSource(inner, steering(think_budget=5), refuse))
    assert response.finish_reason == "incomplete" and "cannot continue" in (response.error or "")
    assert response.reasoning.count("step") == 5


def test_a_failing_continuation_is_incomplete_not_an_error() -> None:
    failed = Finish("error", QwQError("404 Not Found"))
    inner = Script([*reasoning(20)], [failed])
    _, continuation = continuation_log()
    _, response = run(SteeredSource(inner, steering(think_budget=5), continuation))
    assert response.finish_reason == "incomplete"
    assert "the answer could not be asked for: 404 Not Found" in (response.error or "")


def test_loop_found_forces_the_answer_from_before_the_loop() -> None:
    passage = (
        " Let me count again: s, t, r, a, w, b, e, r, r, y. That is three r's, but people often"
        " say two, so did I double count somewhere? I should check it letter by letter."
    )
    healthy = [ReasoningDelta(f" fact{i} holds.") for i in range(40)]
    looping = [ReasoningDelta(token) for token in re.findall(r"\s*\S+", passage * 8)]
    inner = Script([*healthy, *looping], [*answer("3"), Finish("stop")])
    made, continuation = continuation_log()
    settings = QwQSettings()
    source = SteeredSource(inner, Steering.of(settings, TEMPLATE, 100), continuation)
    events, response = run(source)
    found = next(e for e in events if isinstance(e, LoopFound))
    assert found.loop.action == "answer" and response.loop == found.loop
    text = made[0][0]
    assert "fact39 holds." in text and text.count("letter by letter") <= 1
    assert response.answer == "3"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(think_budget=500, max_tokens=400), "think_budget must be below max_tokens"),
        (dict(think_min=900, think_budget=500), "think_min (900) must not be above"),
        (dict(think_budget=5, stream=False), "need stream=True"),
    ],
)
def test_settings_that_cannot_work_are_refused_in_one_line(changes, message) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Steering.of(QwQSettings().override(**changes), TEMPLATE, 10)


def test_worst_case_counts_the_continuations_and_the_cap() -> None:
    s = steering(max_tokens=1_000, input_price=1.0, output_price=1.0)
    assert s.worst_case() == pytest.approx((100 + (100 + 1_000) + 1_000) * 1e-6)
    s = steering(max_tokens=1_000, think_min=10, input_price=1.0, output_price=1.0)
    assert s.worst_case() == pytest.approx((100 + 4 * 1_100 + 1_000) * 1e-6)
    assert steering(max_cost=0.0001).worst_case() == 0.0001


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("One. Two thr", "One."),
        ("Line one\nhalf a li", "Line one\n"),
        ("no sentence end here at all", "no sentence end here at"),
        ("", ""),
    ],
)
def test_partial_reasoning_is_cut_after_a_finished_thought(text, kept) -> None:
    assert text[: sentence_end(text)] == kept
