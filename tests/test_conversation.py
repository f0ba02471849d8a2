"""Conversations: history without reasoning, the window, calibration, save/load."""

from __future__ import annotations

import pytest

from qwq_jupyter import ContextWindowError
from qwq_jupyter.core.events import Response, Usage
from qwq_jupyter.session.conversation import (
    Conversation,
    ConversationStore,
    TokenEstimator,
    Turn,
    fit_to_window,
)


def turn(prompt: str, answer: str, reason: str = "stop", **extra) -> Turn:
    return Turn(prompt, Response(answer=answer, reasoning="THOUGHT", finish_reason=reason), **extra)


def test_history_holds_answers_only_and_skips_cut_off_turns() -> None:
    conversation = Conversation(
        "c",
        "sys",
        [
            turn("q1", "a1"),
            turn("q2", "a2", "interrupted"),
            turn("q3", "", "length"),
            turn("q4", "a4"),
        ],
    )
    assert conversation.history() == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q4"},
        {"role": "assistant", "content": "a4"},
    ]
    conversation.turns[1].keep = True
    assert {"role": "assistant", "content": "a2"} in conversation.history()


def test_slot_for_replaces_the_same_cell_unless_append() -> None:
    conversation = Conversation(
        "c", turns=[turn("a", "1", cell_id="x"), turn("b", "2", cell_id="y")]
    )
    assert conversation.slot_for("x") == 0
    assert conversation.slot_for("x", append=True) == 2
    assert conversation.slot_for(None) == 2
    assert conversation.history(before=0) == []


def messages(turns: int, size: int) -> list[dict]:
    out = [{"role": "system", "content": "s"}]
    for i in range(turns):
        out += [
            {"role": "user", "content": f"q{i} " + "x" * size},
            {"role": "assistant", "content": "y" * size},
        ]
    return [*out, {"role": "user", "content": "now"}]


def test_oldest_turns_go_first_with_a_notice() -> None:
    estimator = TokenEstimator(chars_per_token=4)
    fit = fit_to_window(messages(10, 4000), 8000, 24_000, estimator)
    assert fit.dropped_turns > 0
    assert fit.messages[0]["role"] == "system" and fit.messages[-1]["content"] == "now"
    kept_first = fit.messages[1]["content"]
    assert kept_first.startswith(f"q{fit.dropped_turns} ")
    assert fit.input_tokens + fit.max_tokens <= 24_000
    assert "oldest" in fit.notices()[0]


def test_max_tokens_is_clamped_not_refused() -> None:
    estimator = TokenEstimator(chars_per_token=4)
    fit = fit_to_window([{"role": "user", "content": "x" * 40_000}], 16_000, 24_000, estimator)
    assert fit.clamped_from == 16_000 and fit.input_tokens + fit.max_tokens <= 24_000
    assert "max_tokens lowered from 16,000" in fit.notices()[0]


def test_a_prompt_too_big_for_the_window_is_refused_before_sending() -> None:
    with pytest.raises(ContextWindowError, match="does not fit the 24,000-token context window"):
        fit_to_window([{"role": "user", "content": "x" * 100_000}], 1000, 24_000, TokenEstimator(4))


def test_calibration_from_reported_counts() -> None:
    estimator = TokenEstimator()
    msgs = [{"role": "user", "content": "word " * 400}]
    before = estimator.estimate(msgs)
    estimator.calibrate(msgs, reported_tokens=408)  # the server said: 5 chars per token here
    after = estimator.estimate(msgs)
    assert after < before and abs(after - 408) <= 2


def test_save_load_round_trip(tmp_path) -> None:
    store = ConversationStore()
    conversation = store.get("lab", system_prompt="be brief")
    response = Response(
        answer="a",
        reasoning="r",
        usage=Usage(1, 2, 1),
        finish_reason="length",
        time_to_first_token=0.1,
        thinking_time=0.2,
        total_time=0.3,
        settings={"temperature": 0.6},
    )
    conversation.turns.append(Turn("q", response, cell_id="c1", keep=True))
    store.current = "lab"
    path = store.save(tmp_path / "c.json")
    loaded = ConversationStore()
    assert loaded.load(path) == ["lab"]
    assert loaded.current == "lab"
    assert loaded.get("lab").to_dict() == conversation.to_dict()


BAD_LOOP = {"start": 0, "period": 1, "repeats": 3, "found_at": 1, "start_char": 0, "action": ""}


def _steered_response() -> Response:
    from qwq_jupyter.core.events import Loop, ThinkingCut

    return Response(
        answer="25",
        reasoning="Counting primes by decade.",
        usage=Usage(300, 220, 200, estimated=True),
        finish_reason="stop",
        cut=ThinkingCut("loop", 200, "answer", "I keep going round in circles."),
        extensions=1,
        loop=Loop(40, 61, 3.2, 200, 180, "answer"),
        calls=3,
    )


def test_a_steered_turn_saves_and_loads_whole(tmp_path) -> None:
    from qwq_jupyter.session.conversation import ConversationStore, Turn

    store = ConversationStore()
    store.get("primes").turns.append(Turn("How many primes below 100?", _steered_response()))
    store.save(tmp_path / "chat.json")
    loaded = ConversationStore()
    loaded.load(tmp_path / "chat.json")
    response = loaded.get("primes").turns[0].response
    assert response.to_dict() == _steered_response().to_dict()
    assert response.usage.estimated and response.forced and response.loop.period == 61


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"cut": {"reason": "budget"}}, "cut must have the fields"),
        ({"cut": {"reason": "whim", "at_tokens": 1, "action": "answer", "closing": ""}}, "unknown"),
        ({"loop": {**BAD_LOOP, "start": "0"}}, "loop.start must be an integer"),
        ({"calls": "two"}, "calls must be an integer"),
        ({"usage": {"estimated": "yes"}}, "usage.estimated must be"),
    ],
)
def test_a_hostile_saved_steering_record_is_refused_in_one_line(tmp_path, change, says) -> None:
    import json

    from qwq_jupyter import ConfigurationError
    from qwq_jupyter.session.conversation import ConversationStore, Turn

    store = ConversationStore()
    store.get("x").turns.append(Turn("q", _steered_response()))
    path = tmp_path / "chat.json"
    store.save(path)
    data = json.loads(path.read_text())
    data["conversations"][0]["turns"][0]["response"].update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match=says) as refused:
        ConversationStore().load(path)
    assert "\n" not in str(refused.value)
