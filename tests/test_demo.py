"""The offline demo's replies: in QwQ's voice, deterministic, and right where it matters."""

from __future__ import annotations

import asyncio
import json
import traceback
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from qwq_jupyter.client.demo import DemoSource, demo_reply
from qwq_jupyter.core.events import Finish, ToolCallEvent


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


def test_a_tool_is_called_when_tools_are_given() -> None:
    weather = {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    request = body(
        "What's the weather in Paris?", tools=[{"type": "function", "function": weather}]
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
