"""The offline demo's replies: in QwQ's voice, deterministic, and right where it matters."""

from __future__ import annotations

import asyncio
import json
import re
import traceback
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from qwq_jupyter.client import steering
from qwq_jupyter.client.demo import DemoSource, demo_reply
from qwq_jupyter.core.events import AnswerDelta, Finish, ReasoningDelta, ToolCallEvent
from qwq_jupyter.core.template import apply_chat_template


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
