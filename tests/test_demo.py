"""The offline demo's replies: in QwQ's voice, deterministic, and right where it matters."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import traceback
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, Literal

import pandas as pd
import pytest

from qwq_jupyter.client import steering
from qwq_jupyter.client.demo import DemoSource, demo_reply
from qwq_jupyter.client.stream import QwQClient
from qwq_jupyter.core.events import (
    AnswerDelta,
    Finish,
    ReasoningDelta,
    ToolCall,
    ToolCallEvent,
    UsageEvent,
)
from qwq_jupyter.core.settings import QwQSettings
from qwq_jupyter.core.template import apply_chat_template
from qwq_jupyter.core.tool_schema import mismatch
from qwq_jupyter.core.tools import Tool, run_tool, tools_from
from qwq_jupyter.wire.tool_messages import native_messages, round_messages


def body(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": prompt}], **extra}


def events(request_body: dict[str, Any]) -> list[Any]:
    async def collect() -> list[Any]:
        request = SimpleNamespace(body=request_body)
        return [e async for batch in DemoSource(pace=None).event_batches(request) for e in batch]

    return asyncio.run(collect())


def test_same_prompt_and_seed_give_the_same_reply() -> None:
    first = demo_reply(body("What is 17 × 23?", seed=7, temperature=0.6))
    again = demo_reply(body("What is 17 × 23?", seed=7, temperature=0.6))
    assert (first.reasoning, first.answer) == (again.reasoning, again.answer)


def test_seed_and_temperature_change_the_reasoning() -> None:
    prompt = "Why is the sum of two odd numbers always even?"
    seeds = {demo_reply(body(prompt, seed=s, temperature=0.6)).reasoning for s in range(6)}
    assert len(seeds) > 1
    temperatures = {demo_reply(body(prompt, seed=1, temperature=t)).reasoning for t in (0.2, 1.0)}
    assert len(temperatures) == 2


def test_reasoning_is_long_first_person_and_checks_itself() -> None:
    reply = demo_reply(body("What is 17 × 23?", seed=3))
    assert len(reply.reasoning.split()) >= 100
    assert reply.reasoning.startswith(("Okay", "Alright", "Hmm"))
    assert any(word in reply.reasoning for word in ("Wait", "Let me"))


@pytest.mark.parametrize(
    ("prompt", "result"),
    [
        ("What is 17 × 23?", "391"),
        ("What is 36 × 25? Show a quick mental-math shortcut.", "900"),
        ("What is 12 x 12?", "144"),
        ("compute 48 * 25", "1200"),
        ("What is 19 times 21?", "399"),
        ("What is 345 + 678?", "1023"),
        ("What is 1000 - 1?", "999"),
    ],
)
def test_arithmetic_is_computed(prompt: str, result: str) -> None:
    for seed in range(4):
        reply = demo_reply(body(prompt, seed=seed, temperature=1.0))
        assert f"**{result}**" in reply.answer
        assert reply.reasoning.rstrip().endswith(f"{result}.")


def test_the_25_shortcut_is_shown() -> None:
    reply = demo_reply(body("What is 36 × 25? Show a quick mental-math shortcut."))
    assert "100 ÷ 4" in reply.answer and "3600" in reply.answer


@pytest.mark.parametrize(
    ("review", "label"),
    [
        ("Arrived quickly and works perfectly. Love it!", "Positive"),
        ("Stopped working after two days. A waste of money.", "Negative"),
        ("Great sound, but the battery barely lasts an afternoon.", "Mixed"),
        ("Exactly as described; I would buy it again.", "Positive"),
        ("The app keeps crashing and support never replied.", "Negative"),
        ("Nice design, flimsy hinges.", "Mixed"),
    ],
)
def test_review_sentiment(review: str, label: str) -> None:
    template = "Classify the sentiment of this review as positive, negative or mixed: "
    answer = demo_reply(body(template + review)).answer
    assert answer.startswith(f"**{label}**") and len(answer) < 200


def sales() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": ["North", "South", "North", "South"],
            "month": ["2024-01", "2024-01", "2024-02", "2024-02"],
            "units": [1, 2, 3, 4],
            "revenue": [10.0, 20.0, None, 40.0],
        }
    )


def code_of(answer: str) -> str:
    return answer.split("```python\n", 1)[1].split("```", 1)[0]


def test_data_code_runs_on_the_prompts_columns() -> None:
    import qwq_jupyter

    df = sales()
    prompt = f"My table:\n{qwq_jupyter.summarize(df)}\nHow should I compare the regions?"
    code = code_of(demo_reply(body(prompt)).answer)
    assert 'groupby("region")' in code
    result = eval(code, {"df": df})
    assert list(result.index) == ["North", "South"] and result.loc["North", "revenue"] == 10.0


def test_plot_code_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    df = sales()
    for ask in ("plots revenue by month, one line per region", "plot revenue by region"):
        prompt = f"The columns of `df` are {list(df.columns)}. Write pandas code that {ask}."
        code = code_of(demo_reply(body(prompt)).answer)
        assert '"revenue"' in code and ".plot(" in code
        exec(code, {"df": df})


def test_explain_names_the_misspelt_column() -> None:
    df = sales()
    try:
        df.groupby("region")["revenu"].sum()
    except KeyError:
        trace = traceback.format_exc()
    prompt = (
        "Explain the cause of this Python error and how to fix it. Be concise.\n\n"
        'The cell that failed:\n```python\ndf.groupby("region")["revenu"].sum()\n```\n\n'
        f"columns: {list(df.columns)}\n\nThe traceback:\n```\n{trace}\n```"
    )
    answer = demo_reply(body(prompt)).answer
    assert "the column is called `revenue`, not `revenu`" in answer
    assert 'df.groupby("region")["revenue"].sum()' in answer


def test_explain_name_and_zero_division_errors() -> None:
    name = "Traceback (most recent call last):\nNameError: name 'totl' is not defined"
    prompt = f"Explain this.\n```python\ntotal = 3\nprint(totl)\n```\n{name}"
    assert "`total`, not `totl`" in demo_reply(body(prompt)).answer
    zero = "Traceback (most recent call last):\nZeroDivisionError: division by zero"
    assert "zero" in demo_reply(body(f"Explain this.\n{zero}")).answer


def test_json_fits_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["positive", "negative", "mixed"]},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    request = body("Is this mixed? Good but slow.", guided_json=schema)
    value = json.loads(demo_reply(request).answer)
    assert value["label"] == "mixed" and isinstance(value["score"], float)
    assert isinstance(value["tags"], list) and all(isinstance(t, str) for t in value["tags"])


WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def test_a_tool_is_called_when_tools_are_given() -> None:
    request = body(
        "What's the weather in Paris?", tools=[{"type": "function", "function": WEATHER}]
    )
    seen = events(request)
    (call,) = [e.call for e in seen if isinstance(e, ToolCallEvent)]
    assert call.name == "get_weather" and call.arguments == {"city": "Paris"}
    assert seen[-1] == Finish("tool_calls")


def test_the_loop_prompt_runs_to_max_tokens() -> None:
    seen = events(body('How many r\'s are in "strawberry"? Careful, this one makes QwQ loop.',
                       max_tokens=300))  # fmt: skip
    assert seen[-1] == Finish("length")
    assert seen[-2].usage.output_tokens == 300


def test_the_bat_and_ball_changes_its_mind() -> None:
    prompt = "A bat and a ball cost $1.10. The bat costs $1.00 more than the ball. The ball?"
    reply = demo_reply(body(prompt))
    assert "10 cents" in reply.reasoning and "Wait, that's wrong" in reply.reasoning
    assert "**5 cents**" in reply.answer


def test_a_puzzle_thinks_long() -> None:
    prompt = "Puzzle: a farmer, a wolf, a goat and a cabbage must cross a river. How?"
    simple = demo_reply(body("What is 17 × 23?"))
    puzzle = demo_reply(body(prompt))
    assert len(puzzle.reasoning.split()) > 2 * len(simple.reasoning.split())
    assert "goat" in puzzle.answer.lower()


@pytest.mark.parametrize(
    "prompt",
    [
        "What is 17 × 23?",
        "Suggest a name for our classroom hamster. One word only.",
        "Tell me about the moon.",
        "Classify the sentiment of this review as positive, negative or mixed: Fine.",
    ],
)
def test_answers_carry_no_demo_notice(prompt: str) -> None:
    answer = demo_reply(body(prompt)).answer
    assert answer and "Scripted" not in answer and "offline demo" not in answer


# Budget forcing: raw continuations in QwQ's template, as the client sends them.

CLOSING = f"\n\n{steering.CLOSING}\n</think>\n\n"  # what the client sends after the reasoning
BAT = "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost?"  # noqa: E501
RIVER = (
    "Puzzle: a farmer must take a wolf, a goat and a cabbage across a river. His boat holds him "
    "and one of them. Left alone, the wolf eats the goat and the goat eats the cabbage. How "
    "does he get them all across?"
)
MONTY = (
    "Monty Hall: you pick door 1 of three. Behind one door is a car, behind the others goats. "
    "The host, who knows where the car is, opens door 3 to show a goat and offers you door 2. "
    "Should you switch?"
)
STRAWBERRY = (
    'How many r\'s are in "strawberry"? Count carefully; this kind of question can make a '
    "reasoning model loop."
)
TOKEN = re.compile(r"\s*\S+")


def raw(prompt: str, thinking: str, **extra: Any) -> dict[str, Any]:
    """The continuation's body: the template, then `thinking` after `<think>\\n`."""
    text = apply_chat_template([{"role": "user", "content": prompt}]) + thinking
    return {"prompt": text, "raw": True, "stream": True, "max_tokens": 2000, **extra}


def partial(prompt: str, count: int, **extra: Any) -> str:
    """The first `count` reasoning tokens of the chat reply, as the client collected them."""
    return "".join(TOKEN.findall(demo_reply(body(prompt, **extra)).reasoning)[:count]).strip()


def reached_at(prompt: str, clue: str, **extra: Any) -> int:
    """How many reasoning tokens it takes for `clue` to appear."""
    seen = ""
    for count, token in enumerate(TOKEN.findall(demo_reply(body(prompt, **extra)).reasoning), 1):
        seen += token
        if clue in seen:
            return count
    raise AssertionError(clue)


def forced(prompt: str, count: int | None, **extra: Any) -> str:
    """The answer streamed after `count` reasoning tokens (None: all) and `</think>`."""
    if count == 0:
        thinking = CLOSING.lstrip()  # budget 0: no reasoning at all
    else:
        full = demo_reply(body(prompt, **extra)).reasoning
        thinking = (partial(prompt, count, **extra) if count else full) + CLOSING
    seen = events(raw(prompt, thinking, **extra))
    assert not any(isinstance(e, ReasoningDelta) for e in seen)  # only the answer
    assert seen[-1] == Finish("stop")
    return "".join(e.text for e in seen if isinstance(e, AnswerDelta))


@pytest.mark.parametrize(
    ("prompt", "clue", "before", "after"),
    [
        (BAT, "0.05", "**$0.10**", "**5 cents**"),  # the trap, then the worked answer
        (STRAWBERRY, "three", "**2**", "**3**"),
        (RIVER, "goat back", "haven't found a way", "Seven crossings"),  # stuck at the dead end
        (MONTY, "2/3", "Probably **switch**", "probability **2/3**"),
    ],
)
def test_a_forced_answer_depends_on_whether_the_thinking_got_there(
    prompt: str, clue: str, before: str, after: str
) -> None:
    for seed in (None, 1, 2):
        conclusion = reached_at(prompt, clue, seed=seed)
        assert before in forced(prompt, conclusion - 1, seed=seed)
        assert after in forced(prompt, conclusion, seed=seed)
        assert after in forced(prompt, None, seed=seed)


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_a_product_forced_early_is_an_estimate_or_a_slip(seed: int | None) -> None:
    prompt = "What is 17 × 23?"
    none = forced(prompt, 0, seed=seed)
    assert "About **400**" in none and "estimate" in none
    split = reached_at(prompt, "23 × 7 = 161", seed=seed)
    assert "About **400**" in forced(prompt, split - 1, seed=seed)
    slip = forced(prompt, reached_at(prompt, "391", seed=seed) - 1, seed=seed)
    assert "**401**" in slip and "I think" in slip  # a slip in the adding, said unsure
    done = forced(prompt, reached_at(prompt, "391", seed=seed), seed=seed)
    assert done == demo_reply(body(prompt, seed=seed)).answer and "**391**" in done


def test_a_product_asked_again_keeps_the_earlier_answer() -> None:
    turns = ("What is 17 × 23?", "17 × 23 = **391**", "And what is 23 × 17? Is it the same?")
    roles = ("user", "assistant", "user")
    history = [{"role": r, "content": c} for r, c in zip(roles, turns, strict=True)]
    request = {"prompt": apply_chat_template(history) + CLOSING.lstrip(), "raw": True}
    assert "**391**" in demo_reply(request).answer


@pytest.mark.parametrize(
    ("prompt", "budgets"),
    [
        (RIVER, {0: "Come back and take the **wolf**", 200: "Come back and take the **wolf**",
                 1000: "Bring the **goat** back"}),
        (MONTY, {0: "**50/50**", 200: "Probably **switch**", 1000: "probability **2/3**"}),
        (BAT, {0: "**$0.10**", 200: "**5 cents**", 1000: "**5 cents**"}),
        (STRAWBERRY, {0: "**2**", 200: "**3**"}),
        ("What is 17 × 23?", {0: "About **400**", 200: "**391**", 1000: "**391**"}),
    ],
)  # fmt: skip
def test_the_budgets_of_the_teaching_notebook(prompt: str, budgets: dict[int, str]) -> None:
    for budget, expected in budgets.items():
        assert expected in forced(prompt, budget), budget


def test_other_replies_forced_early_are_shorter_or_first_impressions() -> None:
    review = "Classify the sentiment of this review as positive, negative or mixed: "
    mixed = review + "Great sound, but the battery barely lasts an afternoon."
    assert forced(mixed, 0).startswith("**Positive**")  # the first impression, not "mixed"
    assert forced(mixed, None).startswith("**Mixed**")
    moon = "Tell me about the moon."
    assert forced(moon, 0) == "I can't answer this one offline."
    assert forced(moon, None) == demo_reply(body(moon)).answer
    odd = "Why is the sum of two odd numbers always even?"
    assert "2(a + b + 1)" not in forced(odd, 0) and "2(a + b + 1)" in forced(odd, None)


def test_forced_answers_are_deterministic() -> None:
    for prompt in (BAT, "What is 17 × 23?", STRAWBERRY, MONTY):
        for count in (0, 30, None):
            assert forced(prompt, count, seed=5) == forced(prompt, count, seed=5)


def wait_events(prompt: str, thinking: str, **extra: Any) -> tuple[list[str], str]:
    seen = events(raw(prompt, thinking + "\n\nWait,", **extra))
    kinds = [type(e).__name__ for e in seen if isinstance(e, ReasoningDelta | AnswerDelta)]
    assert kinds == sorted(kinds, key=lambda k: k != "ReasoningDelta")  # reasoning first
    assert seen[-1] == Finish("stop")
    reasoning = [e.text for e in seen if isinstance(e, ReasoningDelta)]
    return reasoning, "".join(e.text for e in seen if isinstance(e, AnswerDelta))


@pytest.mark.parametrize(
    "prompt", [BAT, "What is 17 × 23?", MONTY, RIVER, "Tell me about the moon."]
)
def test_wait_rechecks_then_answers(prompt: str) -> None:
    checks = set()
    for seed in range(6):
        full = demo_reply(body(prompt, seed=seed))
        reasoning, answer = wait_events(prompt, full.reasoning, seed=seed)
        text = "".join(reasoning)
        assert re.match(r" [a-z]", text), text  # goes on from "Wait," mid-sentence
        assert 10 <= len(reasoning) <= 120 and answer == full.answer
        checks.add(text.split("\n\n")[0])
        again, _ = wait_events(prompt, full.reasoning + "\n\nWait," + text, seed=seed)
        assert "".join(again).split("\n\n")[0] != text.split("\n\n")[0]  # another check
    assert len(checks) > 1  # the voice's seed varies the check


def test_wait_rechecks_what_was_worked_out() -> None:
    for prompt, result in ((BAT, "5"), ("What is 17 × 23?", "391"), (MONTY, "/3")):
        reasoning, _ = wait_events(prompt, demo_reply(body(prompt)).reasoning)
        assert result in "".join(reasoning)


def test_wait_before_the_conclusion_thinks_it_through() -> None:
    cut = reached_at(BAT, "0.05") - 1
    reasoning, answer = wait_events(BAT, partial(BAT, cut))
    assert "".join(reasoning).startswith(" I hadn't finished") and "0.05" in "".join(reasoning)
    assert "**5 cents**" in answer


def test_reasoning_cut_without_a_closing_goes_on_where_it_stopped() -> None:
    full = demo_reply(body(MONTY, seed=2))
    start = partial(MONTY, 300, seed=2)
    reply = demo_reply(raw(MONTY, start, seed=2))
    assert start + reply.reasoning == full.reasoning and reply.answer == full.answer


def test_a_raw_prompt_in_the_template_is_answered_like_the_chat() -> None:
    for prompt in (BAT, "What is 17 × 23?", "Tell me about the moon.", RIVER):
        for seed in (None, 4):
            chat = demo_reply(body(prompt, seed=seed, temperature=0.8))
            templated = demo_reply(raw(prompt, "", seed=seed, temperature=0.8))
            assert (templated.reasoning, templated.answer) == (chat.reasoning, chat.answer)
    plain = demo_reply({"prompt": "What is 17 × 23?", "raw": True})  # no template: as before
    assert plain.answer == "17 × 23 = **391**"


def test_tools_and_json_work_raw() -> None:
    tools = [{"type": "function", "function": WEATHER}]
    for thinking in ("", CLOSING.lstrip()):
        seen = events(raw("What's the weather in Paris?", thinking, tools=tools))
        (call,) = [e.call for e in seen if isinstance(e, ToolCallEvent)]
        assert call.arguments == {"city": "Paris"} and seen[-1] == Finish("tool_calls")
    schema = {"type": "object", "properties": {"score": {"type": "number"}}}
    for thinking in ("", CLOSING.lstrip(), "Okay." + CLOSING):
        answer = demo_reply(raw("Rate it: good but slow.", thinking, guided_json=schema)).answer
        assert isinstance(json.loads(answer)["score"], float)


def test_usage_of_a_continuation() -> None:
    request = raw(BAT, partial(BAT, 50) + CLOSING)
    *pieces, usage, _ = events(request)
    assert usage.usage.input_tokens == len(request["prompt"]) // 4
    assert usage.usage.output_tokens == len(pieces)  # one token per delta


@pytest.mark.parametrize(
    ("prompt", "fewest", "most"),
    [(RIVER, 1050, 1400), (MONTY, 1050, 1400), (BAT, 100, 400), ("What is 17 × 23?", 100, 400)],
)
def test_the_puzzles_think_long_and_the_sums_short(prompt: str, fewest: int, most: int) -> None:
    for seed in range(5):
        for temperature in (0.2, 0.6, 1.0):
            reasoning = demo_reply(body(prompt, seed=seed, temperature=temperature)).reasoning
            assert fewest < len(TOKEN.findall(reasoning)) < most
            paragraphs = reasoning.split("\n\n")
            assert fewest < 1000 or len(set(paragraphs)) == len(paragraphs)  # nothing repeats
    if fewest > 1000:  # with structure: a backtrack and a self-check
        reasoning = demo_reply(body(prompt)).reasoning
        assert "Wait" in reasoning and "Hmm" in reasoning
        assert any(check in reasoning for check in ("check", "make sure", "verify", "slip"))


def test_the_loop_repeats_one_passage() -> None:
    reasoning = demo_reply(body(STRAWBERRY, max_tokens=1000)).reasoning
    _opener, first, *passages = reasoning.split("\n\n")
    assert len(passages) >= 15 and len(set(passages)) == 1
    assert "Let me count again" in passages[0] and "three" in first
    assert len(TOKEN.findall(reasoning)) > 1000


# A vote over seeds (`%%qwq --vote N`): a few questions have a tempting wrong turn that some
# seeds take, with reasoning that leads to it.

SLIPS = [
    ("What is 17 × 23?", "391", {"381", "401"}),
    (BAT, "5 cents", {"10 cents"}),
    (MONTY, "Switch.", {"It doesn't matter."}),
]


def bold(prompt: str, seed: int | None, temperature: float = 0.6) -> str:
    """The first bold text of the demo's answer: its conclusion."""
    return demo_reply(body(prompt, seed=seed, temperature=temperature)).answer.split("**")[1]


@pytest.mark.parametrize(("prompt", "right", "wrong"), SLIPS)
def test_a_vote_over_eight_seeds_has_a_majority_not_unanimity(
    prompt: str, right: str, wrong: set[str]
) -> None:
    answers = [bold(prompt, seed) for seed in range(1, 9)]
    assert answers.count(right) >= 5 and set(answers) - {right} and set(answers) <= {right, *wrong}
    assert bold(prompt, None) == right  # no seed: the scripted reply the notebooks show
    assert [bold(prompt, seed) for seed in (1, 2)] == [right, right]  # as the tests above ask


@pytest.mark.parametrize(("prompt", "right", "wrong"), SLIPS)
def test_hotter_means_more_disagreement(prompt: str, right: str, wrong: set[str]) -> None:
    slipped = {
        t: {s for s in range(1, 101) if bold(prompt, s, t) != right} for t in (0.0, 0.2, 0.6, 1.0)
    }
    assert slipped[0.0] == set()
    assert slipped[0.2] <= slipped[0.6] <= slipped[1.0]  # a seed that slips, slips hotter too
    assert len(slipped[0.2]) < len(slipped[0.6]) < len(slipped[1.0])
    assert 8 <= len(slipped[0.6]) <= 35  # about one seed in five
    assert all(bold(prompt, s, 1.0) in wrong for s in slipped[1.0])


def slipped_seeds(prompt: str, right: str) -> list[int]:
    return [seed for seed in range(1, 41) if bold(prompt, seed) != right]


def test_a_slipped_product_reasoned_its_way_there() -> None:
    prompt = "What is 17 × 23?"
    seeds = slipped_seeds(prompt, "391")
    assert {bold(prompt, s) for s in seeds} == {"381", "401"}  # a carry dropped, or one extra
    for seed in seeds:
        reply = demo_reply(body(prompt, seed=seed))
        wrong = bold(prompt, seed)
        assert f"230 + 161 = {wrong}." in reply.reasoning and "391" not in reply.reasoning
        assert reply.reasoning.rstrip().endswith(f"So 17 × 23 = {wrong}.")
        # its checks cannot catch it: the last digit and the size both fit
        assert f"so does {wrong}" in reply.reasoning or f"so {wrong} is in" in reply.reasoning
        assert forced(prompt, None, seed=seed) == reply.answer
        reasoning, answer = wait_events(prompt, reply.reasoning, seed=seed)
        assert answer == reply.answer and "391" not in "".join(reasoning)
    # the slip belongs to the problem and the seed, not to the wording
    assert [bold("Compute 23 x 17, please.", s) for s in seeds] == [bold(prompt, s) for s in seeds]


def test_a_trapped_bat_and_ball_never_rechecks() -> None:
    for seed in slipped_seeds(BAT, "5 cents"):
        reply = demo_reply(body(BAT, seed=seed))
        assert "10 cents" in reply.reasoning and "0.05" not in reply.reasoning
        assert "Wait, that's wrong" not in reply.reasoning
        assert reply.answer == "The ball costs **10 cents** ($0.10), and the bat $1.00."
        assert forced(BAT, None, seed=seed) == reply.answer


def test_a_slipped_monty_hall_counts_the_host_opening_your_door() -> None:
    seeds = slipped_seeds(MONTY, "Switch.")
    assert seeds
    for seed in seeds:
        reply = demo_reply(body(MONTY, seed=seed))
        assert "(car 2, opens 1)" in reply.reasoning  # the slip, there to be seen
        assert "P(car 2 | opens 3) = (1/6) / (1/3) = 1/2" in reply.reasoning
        assert "probability **1/2** each" in reply.answer
        assert forced(MONTY, None, seed=seed) == reply.answer
        assert "**50/50**" in forced(MONTY, 0, seed=seed)  # cut at once: the first instinct


def test_products_a_head_does_easily_never_slip() -> None:
    for prompt, result in (("What is 12 x 12?", "144"), ("What is 19 times 21?", "399"),
                           ("compute 48 * 25", "1200"), ("What is 6 × 7?", "42")):  # fmt: skip
        assert {bold(prompt, s, 1.0) for s in range(1, 41)} == {result}


# Tools: the demo calls the ones that fit, with arguments from the question and the schema,
# all in one round, and then answers from what they returned.

SALES = pd.DataFrame(
    {
        "region": ["North", "South", "East", "North", "South", "North"],
        "month": ["2024-01", "2024-01", "2024-01", "2024-02", "2024-02", "2024-02"],
        "units": [10, 20, 30, 40, 50, 60],
        "revenue": [100.0, 200.0, 300.0, None, 500.0, 650.0],
    }
)


def count_rows(column: Literal["region", "month"], value: str) -> int:
    """Count the rows of the sales table whose column equals a value.

    Args:
        column: The column to filter on.
        value: The value to look for.
    """
    return int((SALES[column] == value).sum())


def group_mean(
    by: Literal["region", "month"], column: Literal["units", "revenue"] = "revenue"
) -> dict[str, float]:
    """Mean of a numeric column for each group, skipping missing values.

    Args:
        by: The column to group by.
        column: The numeric column to average.
    """
    means = SALES.groupby(by)[column].mean()
    return {str(group): round(float(mean), 2) for group, mean in means.items()}


def best_sellers(n: int = 3, ascending: bool = False) -> list[str]:
    """The regions that sold the most units, best first."""
    totals = SALES.groupby("region")["units"].sum().sort_values(ascending=ascending)
    return list(totals.index[:n])


FORECAST = {
    "name": "forecast",
    "description": "The weather forecast for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
            "units": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        },
        "required": ["city", "days", "units"],
    },
}
CONVERT = {
    "name": "convert_currency",
    "description": "Convert an amount of money to another currency.",
    "parameters": {
        "type": "object",
        "properties": {
            "amount": {"type": "number"},
            "to": {"type": "string", "enum": ["EUR", "GBP", "JPY"]},
        },
        "required": ["amount", "to"],
    },
}


def offered(*given: Any) -> list[Tool]:
    return tools_from(list(given))


def calls_for(prompt: str, tools: list[Tool], **extra: Any) -> list[ToolCall]:
    """The demo's calls, as a server sends them: one event each, then the finish; each valid."""
    seen = events(body(prompt, tools=[tool.schema() for tool in tools], **extra))
    calls = [e.call for e in seen if isinstance(e, ToolCallEvent)]
    assert seen[-1] == Finish("tool_calls") and isinstance(seen[-2], UsageEvent)
    assert [type(e) for e in seen[-2 - len(calls) : -2]] == [ToolCallEvent] * len(calls)
    assert [c.id for c in calls] == [f"call_demo_{n}" for n in range(len(calls))]
    by_name = {tool.name: tool for tool in tools}
    for call in calls:
        by_name[call.name].check_arguments(call.arguments)  # raises if the schema says no
        assert mismatch(call.arguments, by_name[call.name].parameters, "") is None
    return calls


SALES_TOOLS = offered(count_rows, group_mean, best_sellers)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "How many rows are from the North region, and what is the mean revenue per month?",
            [("count_rows", {"column": "region", "value": "North"}),
             ("group_mean", {"by": "month", "column": "revenue"})],
        ),
        ("What are the average units by region?",
         [("group_mean", {"by": "region", "column": "units"})]),
        ("What's the mean per month?", [("group_mean", {"by": "month"})]),  # default left out
        ('How many rows have the month "2024-02"?',
         [("count_rows", {"column": "month", "value": "2024-02"})]),
        ("Which 2 regions are the best sellers?", [("best_sellers", {"n": 2})]),
        ("Who are the best sellers?", [("best_sellers", {})]),  # no evidence: nothing sent
        ("Tell me a joke.", [("count_rows", {"column": "region", "value": "example"})]),
    ],
)  # fmt: skip
def test_the_fitting_tools_are_called_with_arguments_from_the_question(
    prompt: str, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    calls = calls_for(prompt, SALES_TOOLS)
    assert [(c.name, c.arguments) for c in calls] == expected


@pytest.mark.parametrize(
    ("prompt", "arguments"),
    [
        ("What's the weather in Paris for the next 10 days?",
         {"city": "Paris", "days": 10, "units": "celsius"}),  # the default
        ("Forecast for New York, in Fahrenheit please.",
         {"city": "New York", "days": 1, "units": "fahrenheit"}),  # no number: 1
        ("What's the weather going to be?", {"city": "London", "days": 1, "units": "celsius"}),
        ("Forecast 30 days for Oslo", {"city": "Oslo", "days": 1, "units": "celsius"}),  # > max
    ],
)  # fmt: skip
def test_arguments_come_from_the_schema_where_the_question_is_silent(
    prompt: str, arguments: dict[str, Any]
) -> None:
    tools = offered(FORECAST, CONVERT)
    [call] = calls_for(prompt, tools)
    assert (call.name, call.arguments) == ("forecast", arguments)


def test_numbers_and_enums_are_read_case_insensitively() -> None:
    calls = calls_for("Convert 12.5 dollars to eur, and what's the weather in Rome?",
                      offered(FORECAST, CONVERT))  # fmt: skip
    assert [(c.name, c.arguments) for c in calls] == [
        ("forecast", {"city": "Rome", "days": 1, "units": "celsius"}),
        ("convert_currency", {"amount": 12.5, "to": "EUR"}),
    ]


def test_the_reasoning_says_which_tools_fit_and_why() -> None:
    prompt = "How many rows are from the North region, and what is the mean revenue per month?"
    request = body(prompt, tools=[tool.schema() for tool in SALES_TOOLS])
    reply = demo_reply(request)
    assert reply.answer == "" and reply.reasoning.startswith(("Okay", "Alright", "Hmm"))
    assert "`count_rows` fits" in reply.reasoning and "`group_mean` fits" in reply.reasoning
    assert '`count_rows(column="region", value="North")`' in reply.reasoning
    assert "`best_sellers` doesn't seem needed" in reply.reasoning
    assert len(reply.reasoning.split()) < 250  # brief
    assert demo_reply(request) == reply  # deterministic
    again = demo_reply({**request, "seed": 3, "temperature": 1.0})
    assert again.tool_calls == reply.tool_calls


def after_round(prompt: str, calls: list[ToolCall], tools: list[Tool]) -> dict[str, Any]:
    """The next request after a round, as the client sends it to the demo (Workers AI's shape)."""
    messages = [{"role": "user", "content": prompt}, *round_messages(calls)]
    return {"messages": native_messages(messages), "tools": [t.schema() for t in tools]}


def test_the_answer_quotes_each_result() -> None:
    prompt = "How many rows are from the North region, and what is the mean revenue per month?"
    asked = calls_for(prompt, SALES_TOOLS)
    ran = [replace(c, result=run_tool(t, c.arguments).result) for c, t in
           zip(asked, offered(count_rows, group_mean), strict=True)]  # fmt: skip
    seen = events(after_round(prompt, ran, SALES_TOOLS))
    assert not any(isinstance(e, ToolCallEvent) for e in seen) and seen[-1] == Finish("stop")
    answer = "".join(e.text for e in seen if isinstance(e, AnswerDelta))
    reasoning = "".join(e.text for e in seen if isinstance(e, ReasoningDelta))
    north = (SALES["region"] == "North").sum()
    means = SALES.dropna().groupby("month")["revenue"].mean()
    assert f"**{north}**" in answer
    for month, mean in means.items():
        assert f'"{month}": {round(mean, 2)}' in answer and f'"{month}"' in reasoning
    assert '`count_rows(column="region", value="North")` returned' in answer


def test_a_failed_tool_is_reported_not_called_again() -> None:
    prompt = "What is the mean revenue per month?"
    [call] = calls_for(prompt, SALES_TOOLS)
    failed = replace(call, error="KeyError: 'revenue'")
    reply = demo_reply(after_round(prompt, [failed], SALES_TOOLS))
    assert reply.tool_calls == ()
    assert "failed with `KeyError: 'revenue'`" in reply.answer
    assert "fix the tool" in reply.answer and "KeyError" in reply.reasoning


def test_long_results_are_quoted_bounded() -> None:
    prompt = "How many rows are from the North region?"
    [call] = calls_for(prompt, SALES_TOOLS)
    long = "\n".join(f"row {n}: North" for n in range(2000))
    reply = demo_reply(after_round(prompt, [replace(call, result=long)], SALES_TOOLS))
    assert len(reply.answer) < 700 and len(reply.reasoning) < 1500
    assert "row 0: North" in reply.answer and "row 1999" not in reply.answer
    assert f"cut: {len(long):,} characters in all" in reply.answer
    assert "```\nrow 0: North" in reply.answer  # several lines: a code block


def test_a_continuation_after_results_answers_from_them() -> None:
    prompt = "How many rows are from the North region?"
    [call] = calls_for(prompt, SALES_TOOLS)
    history = [{"role": "user", "content": prompt}, *round_messages([replace(call, result="3")])]
    text = apply_chat_template(history, [t.schema() for t in SALES_TOOLS]) + CLOSING.lstrip()
    answer = demo_reply({"prompt": text, "raw": True}).answer
    assert '`count_rows(column="region", value="North")` returned **3**' in answer


def test_tools_run_through_the_client_and_the_answer_has_their_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qwq_jupyter.client import client as client_module

    monkeypatch.setattr(client_module, "DemoSource", functools.partial(DemoSource, pace=None))
    client = QwQClient(QwQSettings(backend="demo", tools=[count_rows, group_mean]))
    question = [{"role": "user", "content": "How many rows come from the South region, "
                 "and what are the mean units per month?"}]  # fmt: skip
    south = str((SALES["region"] == "South").sum())
    means = json.dumps(SALES.groupby("month")["units"].mean().round(2).to_dict())
    try:
        for read in ("complete", "stream"):
            if read == "complete":
                response = client.complete(question)
            else:
                stream = client.stream(question)
                kinds = [type(event).__name__ for event in stream]
                assert kinds.index("ToolsRequested") < kinds.index("ToolResult")
                response = stream.response
            ran = [(c.name, c.arguments, c.status, c.result) for c in response.tool_calls]
            assert ran == [
                ("count_rows", {"column": "region", "value": "South"}, "ran", south),
                ("group_mean", {"by": "month", "column": "units"}, "ran", means),
            ]
            assert f"**{south}**" in response.answer and means in response.answer
            assert response.finish_reason == "stop" and response.tool_rounds == 1
            assert response.calls == 2
    finally:
        client.close()
