"""The offline demo: replies answered in-process, as `backend = 'demo'`.

No server and no key: `DemoSource` is a source of events like the HTTP client and the
cassette, so a demo call goes through the same stream, views and turns as a real one. The
replies imitate QwQ: reasoning first, in its voice (step by step, checking itself, sometimes
backtracking), then an answer that follows from it. They are right where the shipped notebooks
need it (arithmetic, review sentiment, pandas code on the prompt's columns, the cause of an
error), deterministic per prompt, seed and temperature, and vary with the seed and temperature.
The session's banner says once per output that the reply is scripted.

A raw prompt in QwQ's template (budget forcing's continuation: the thinking so far, then
`</think>` or "Wait,") is read back into its turns and answered from where the thinking
stopped, as `demo_continue` says. The arithmetic, data and error replies are in `demo_data`,
the classic puzzles in `demo_replies`, tool calls and answers from their results in
`demo_tools`; the short ones (reviews, names, set questions, JSON, anything else) are here.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.events import (
    AnswerDelta,
    Event,
    Finish,
    ReasoningDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)
from .demo_continue import RawPrompt, continuation, parse_template
from .demo_data import arithmetic, data_reply, explain_reply
from .demo_replies import bat_and_ball, loop, monty_hall, river_crossing
from .demo_tools import from_template, tool_script
from .demo_voice import Script, Voice

if TYPE_CHECKING:
    from ..core.settings import QwQSettings
    from ..wire.request import HTTPRequest

__all__ = ["DemoReply", "DemoSource", "demo_reply"]

#: Tokens a second the demo streams at: about the pace of the real model.
DEMO_PACE = 60.0
_TOKEN = re.compile(r"\s*\S+")
#: The longest loop the demo writes when the request sets no `max_tokens`.
_LOOP_CAP = 16_000


@dataclass(frozen=True)
class DemoReply:
    reasoning: str
    answer: str
    pace: float | None = DEMO_PACE
    tool_calls: tuple[ToolCall, ...] = ()


class DemoSource:
    """Answers a request with a scripted reply, token by token at the demo's pace."""

    def __init__(self, pace: float | None = DEMO_PACE) -> None:
        self._pace = pace

    async def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]:
        reply = demo_reply(request.body, pace=self._pace)
        delay = 1 / reply.pace if reply.pace else 0.0
        limit = request.body.get("max_tokens")
        limit = limit if isinstance(limit, int) and limit > 0 else None
        count = 0
        prompt_tokens = len(str(request.body.get("messages") or request.body.get("prompt"))) // 4
        for kind, text in (("reasoning", reply.reasoning), ("answer", reply.answer)):
            for token in _TOKEN.findall(text):
                if limit is not None and count >= limit:  # as a server stops at max_tokens
                    yield [UsageEvent(Usage(prompt_tokens, count)), Finish("length")]
                    return
                if delay:
                    await asyncio.sleep(delay)
                count += 1
                yield [ReasoningDelta(token) if kind == "reasoning" else AnswerDelta(token)]
        if reply.tool_calls:  # as a server sends them: one event a call, then the finish
            for call in reply.tool_calls:
                count += len(_TOKEN.findall(json.dumps(call.arguments)))
                yield [ToolCallEvent(call)]
            yield [UsageEvent(Usage(prompt_tokens, count)), Finish("tool_calls")]
            return
        yield [UsageEvent(Usage(prompt_tokens, count)), Finish("stop")]


def demo_reply(body: dict[str, Any], *, pace: float | None = DEMO_PACE) -> DemoReply:
    """A reply to the last user message of `body`, chosen by what it asks.

    A raw prompt in the chat template is answered as its turns would be; when it opens the
    model's turn with some thinking, the reply continues from there.
    """
    raw = _template(body)
    if raw is not None:
        body = {k: v for k, v in body.items() if k not in ("prompt", "raw")}
        body["messages"] = from_template(raw.messages)
    prompt = _last_user_text(body)
    voice = Voice(prompt, body)
    script, calls = _script(prompt, body, voice)
    if raw is None or raw.mode == "fresh":
        return DemoReply(script.reasoning, script.answer, pace, calls)
    reasoning, answer = continuation(script, raw, voice)
    return DemoReply(reasoning, answer, pace, calls)


def _template(body: dict[str, Any]) -> RawPrompt | None:
    prompt = body.get("prompt")
    if body.get("messages") or not isinstance(prompt, str):
        return None
    return parse_template(prompt)


def _script(prompt: str, body: dict[str, Any], voice: Voice) -> tuple[Script, tuple[ToolCall, ...]]:
    schema = body.get("guided_json") or (body.get("response_format") or {}).get("json_schema", {})
    if isinstance(schema, dict) and "schema" in schema:
        schema = schema["schema"]
    if schema and isinstance(schema, dict):
        return _json_reply(prompt, schema, voice), ()
    if found := tool_script(prompt, body, voice):
        return found
    return _reply(prompt, body, voice), ()


def _reply(prompt: str, body: dict[str, Any], voice: Voice) -> Script:
    lowered = prompt.lower()
    history = " ".join(
        str(m.get("content") or "") for m in body.get("messages") or [] if isinstance(m, dict)
    )
    limit = body.get("max_tokens")
    budget = limit if isinstance(limit, int) and limit > 0 else _LOOP_CAP
    if "traceback" in lowered and (found := explain_reply(prompt, voice)):
        return found
    if "sentiment" in lowered:
        return _sentiment(prompt, voice)
    if re.search(r"\bloop", lowered) or "strawberry" in lowered:
        return loop(voice, min(budget, _LOOP_CAP))
    if "bat" in lowered and "ball" in lowered:
        return bat_and_ball(voice)
    if "monty" in lowered or ("door" in lowered and re.search(r"\b(?:switch|car)\b", lowered)):
        return monty_hall(voice)
    if any(word in lowered for word in ("puzzle", "river", "goat", "cabbage")):
        return river_crossing(voice)
    if found := data_reply(prompt, voice):
        return found
    if found := arithmetic(prompt, voice, history):
        return found
    if found := _set_answer(prompt, voice):
        return found
    if "name" in lowered and any(w in lowered for w in ("suggest", "give", "pick", "idea")):
        return _named(prompt, voice)
    return _generic(prompt, voice)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return str(body.get("prompt") or "")


_POSITIVE = (
    "love", "great", "perfect", "excellent", "quickly", "fast", "nice", "good", "happy",
    "exactly as described", "buy it again", "recommend", "amazing", "works well", "easy",
)  # fmt: skip
_NEGATIVE = (
    "stopped working", "waste", "broke", "crash", "never replied", "flimsy", "barely",
    "poor", "bad", "terrible", "refund", "slow", "disappoint", "awful", "doesn't work",
)  # fmt: skip
_CONTRAST = ("but", "although", "though", "however", "yet")


def _sentiment(prompt: str, voice: Voice) -> Script:
    """Positive, negative or mixed, from a small lexicon; the answer is the label and why."""
    review = prompt.split(":", 1)[1].strip() if ":" in prompt else prompt
    lowered = review.lower()
    good = [word for word in _POSITIVE if word in lowered]
    bad = [word for word in _NEGATIVE if word in lowered]
    contrast = [w for w in _CONTRAST if re.search(rf"\b{w}\b", lowered)]
    if (good and bad) or (contrast and (good or bad)):
        label = "mixed"
    elif bad:
        label = "negative"
    elif good:
        label = "positive"
    else:
        label = "mixed" if contrast else "neutral"
    quoted = ", ".join(f"“{w}”" for w in good) or "nothing clearly positive"
    steps = [
        voice.opener(f'I need to classify the sentiment of this review: "{review}"'),
        f"The options are positive, negative or mixed. Let me look for praise first: {quoted}.",
        f"Now complaints: {', '.join(f'“{w}”' for w in bad) or 'I don’t see any'}.",
    ]
    if contrast:
        steps.append(
            f"There's a “{contrast[0]}” in there, which usually turns the sentence: one part "
            "praises, the other complains."
        )
    if label == "mixed" and good and bad:
        steps.append(
            "So it has both. Could it still count as mostly one side? Hmm, no — neither part "
            "outweighs the other, so mixed fits best."
        )
    elif label != "mixed" and voice.chance(0.4):
        steps.append(
            f"{voice.check()} Is there any sarcasm that would flip it? Reading it again... "
            f"no, it reads straight. So {label}."
        )
    steps.append(f"{voice.check()} The review is {label}, I'm fairly sure. {voice.closer()}")
    reasons = {
        "positive": f"it praises the product ({quoted})",
        "negative": f"it only complains ({', '.join(f'“{w}”' for w in bad)})",
        "mixed": "it praises one thing and complains about another",
        "neutral": "it states facts without praise or complaint",
    }
    answer = f"**{label.capitalize()}**: {reasons[label]}."
    first = "positive" if good else "negative" if bad else "neutral"  # a first impression
    hasty = f"**{first.capitalize()}**, at first glance: {reasons[first].split(' (')[0]}."
    stages = (((f"review is {label}",), answer), ((f"so {label}",), answer), ((), hasty))
    recheck = (
        f"could a sarcastic reading flip it? Reading it once more... no, it means what it "
        f"says. {label.capitalize()} it is."
    )
    return Script(voice.think(steps, voice.asides(1)), answer, stages, (recheck,))


_NAMES = ("Peanut", "Nibbles", "Biscuit", "Hazel", "Pip", "Waffles", "Captain Whiskers",
          "Ziggy", "Pumpernickel", "Socrates")  # fmt: skip


def _named(prompt: str, voice: Voice) -> Script:
    """A name suggestion: safe names at low temperature, odder ones at high."""
    width = max(2, round(2 + voice.temperature * (len(_NAMES) - 2)))
    found = re.search(r"name for (?:our |my |a |the )?([^.?!]+)", prompt, re.I)
    subject = f"for the {found[1].strip()}" if found else "a suggestion"
    candidates = voice.random.sample(_NAMES[:width], min(3, width))
    choice = candidates[-1]
    steps = [
        voice.opener(f"the user wants a name: {subject}, one word only"),
        "Names for a pet in a classroom should be short, friendly, and easy for children to "
        "say and spell. Nothing that could be teased or misheard.",
        f"It says one word only, so no explanation in the answer. Let me brainstorm: "
        f"{', '.join(candidates)}.",
        f"{candidates[0]} is cute but maybe too common. "
        + (f"{candidates[1]}... hmm, not sure that fits. " if len(candidates) > 2 else ""),
        f"{choice} sounds friendly, and it's easy for children to say.",
    ]
    if " " in choice:
        steps.append(
            f"Wait, {choice} is two words. The user asked for one word only. Hmm — "
            f"let me just go with {choice.split()[-1]}."
        )
        choice = choice.split()[-1]
    steps += [*voice.asides(2), f"Okay: {choice}."]
    recheck = f"is {choice} really one word, and easy to say? Yes, and it's friendly. Keep it."
    stages = (((f"okay: {choice}",), choice), ((), candidates[0]))
    return Script(voice.think(steps), choice, stages, (recheck,))


_SET_ANSWERS = (
    (
        ("odd", "even"),
        "why the sum of two odd numbers is always even",
        "An odd number is one more than an even number: 2a + 1 and 2b + 1. Their sum is "
        "2a + 2b + 2 = 2(a + b + 1), which is a multiple of 2, so it is **even**.",
        "Because odd plus odd always comes out even: 1 + 3 = 4, 5 + 7 = 12, 9 + 11 = 20.",
    ),
    (
        ("reasoning model", "think before"),
        "why a reasoning model thinks before it answers",
        "A reasoning model writes out intermediate steps first because each step it writes "
        "becomes context for the next, so it can break a problem down, check itself and "
        "correct mistakes before committing to an answer.",
        "To give better answers.",
    ),
    (
        ("ten-year-old", "shortcut"),
        "how to explain the ×25 shortcut to a ten-year-old",
        "Think of money: 25 cents is a quarter, and 4 quarters make a dollar. So 36 quarters "
        "is 36 ÷ 4 = 9 dollars, which is 900 cents. That's why 36 × 25 = 900: divide by 4, "
        "then multiply by 100.",
        "25 is a quarter of 100, so you divide by 4 and multiply by 100.",
    ),
)


def _set_answer(prompt: str, voice: Voice) -> Script | None:
    """One of a few questions the notebooks ask, answered properly."""
    lowered = prompt.lower()
    for keys, topic, answer, hasty in _SET_ANSWERS:
        if any(key in lowered for key in keys):
            steps = [
                voice.opener(f"the question is {topic}"),
                "Let me think about what the core idea is, and then how to say it simply.",
                f"Draft: {answer.replace('**', '')}",
                f"{voice.check()} Does the draft actually answer the question, and is it "
                "correct? I think so. Is it short enough? It's close to what was asked.",
                *voice.asides(3),
                voice.closer(),
            ]
            recheck = "is the answer as short as it can be while still being right? Yes."
            stages = ((("draft:",), answer), ((), hasty))
            return Script(voice.think(steps), answer, stages, (recheck,))
    return None


def _generic(prompt: str, voice: Voice) -> Script:
    topic = " ".join(prompt.split()[:16]).rstrip(".?!:;,") or "an empty question"
    steps = [
        voice.opener(f'the question is: "{topic}"'),
        "Let me restate it in my own words and think about what the person actually needs: a "
        "fact, an explanation, or some code?",
        "Hmm. I should be careful not to make something up. If I don't know, it's better to "
        "say so and point to where the answer can be found.",
        f"{voice.check()} Is there a hidden assumption in the question? Not obviously.",
        *voice.asides(3),
        "So the honest answer is to say what I can help with here, briefly.",
    ]
    answer = (
        "I can't answer this one offline. The demo works through arithmetic (try "
        "`What is 17 × 23?`), review sentiment, pandas questions about a DataFrame put in with "
        "`{@df}`, errors (`%qwq explain`), JSON and tool calls, and a few classic puzzles. "
        "Connect a real backend to ask QwQ itself."
    )
    return Script(voice.think(steps), answer)


def _json_reply(prompt: str, schema: dict[str, Any], voice: Voice) -> Script:
    names = ", ".join(schema.get("properties", {})) or "a value"
    steps = [
        voice.opener("the answer has to be JSON that fits the given schema"),
        f"The schema asks for: {names}. Let me fill each one with something that fits its type.",
        f"{voice.check()} Required fields present, types right, no extra keys. Good.",
    ]
    answer = json.dumps(_example(schema, prompt))
    return Script(voice.think(steps), answer, (((), answer),))  # cut short, still valid JSON


def _example(schema: dict[str, Any], prompt: str = "") -> Any:
    """A value fitting `schema`; strings are taken from the prompt where it can."""
    if schema.get("enum"):
        words = prompt.lower()
        return next((v for v in schema["enum"] if str(v).lower() in words), schema["enum"][0])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _property(name, sub, prompt) for name, sub in properties.items()}
    if kind == "array":
        return [_example(schema.get("items", {}), prompt)]
    examples: dict[object, Any] = {"integer": 42, "number": 4.2, "boolean": True, "null": None}
    return examples.get(kind, "demo")


def _property(name: str, schema: dict[str, Any], prompt: str) -> Any:
    if schema.get("type") == "string" and "enum" not in schema:
        capitalised = re.findall(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+)", prompt)
        if name.lower() in ("city", "location", "place", "country", "name") and capitalised:
            return capitalised[-1]
        if name.lower() in ("query", "text", "question", "prompt", "expression"):
            return prompt.strip()[:200]
    if schema.get("type") in ("integer", "number"):
        numbers = re.findall(r"-?\d+(?:\.\d+)?", prompt)
        if numbers:
            value = float(numbers[0])
            return int(value) if schema["type"] == "integer" else value
    return _example(schema, prompt)
