"""The offline demo: replies answered in-process, as `backend = 'demo'`.

No server and no key: `DemoSource` is a source of events like the HTTP client and the
cassette, so a demo call goes through the same stream, views and turns as a real one. The
replies imitate QwQ: reasoning first, in its voice (step by step, checking itself, sometimes
backtracking), then an answer that follows from it. They are right where the shipped notebooks
need it (arithmetic, review sentiment, pandas code on the prompt's columns, the cause of an
error), deterministic per prompt, seed and temperature, and vary with the seed and temperature.
The session's banner says once per output that the reply is scripted.
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
from .demo_data import data_reply, explain_reply
from .demo_replies import (
    arithmetic,
    bat_and_ball,
    loop,
    named,
    river_crossing,
    sentiment,
    set_answer,
)
from .demo_voice import Voice

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
    tool_call: ToolCall | None = None


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
        if reply.tool_call is not None:
            count += len(_TOKEN.findall(json.dumps(reply.tool_call.arguments)))
            yield [ToolCallEvent(reply.tool_call)]
            yield [UsageEvent(Usage(prompt_tokens, count)), Finish("tool_calls")]
            return
        yield [UsageEvent(Usage(prompt_tokens, count)), Finish("stop")]


def demo_reply(body: dict[str, Any], *, pace: float | None = DEMO_PACE) -> DemoReply:
    """A reply to the last user message of `body`, chosen by what it asks."""
    prompt = _last_user_text(body)
    voice = Voice(prompt, body)
    schema = body.get("guided_json") or (body.get("response_format") or {}).get("json_schema", {})
    if isinstance(schema, dict) and "schema" in schema:
        schema = schema["schema"]
    if schema and isinstance(schema, dict):
        reasoning, answer = _json_reply(prompt, schema, voice)
        return DemoReply(reasoning, answer, pace)
    tools = [t.get("function", t) for t in body.get("tools") or [] if isinstance(t, dict)]
    messages = body.get("messages") or []
    answered = (
        bool(messages) and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
    )
    if tools and isinstance(tools[0], dict) and not answered:
        return _tool_reply(prompt, tools[0], voice, pace)
    if answered:
        result = str(messages[-1].get("content") or "")
        reasoning = voice.think(
            voice.opener("the tool has answered"),
            f"It returned: {result[:300]}. Let me put that into a plain answer.",
        )
        return DemoReply(reasoning, f"The tool says: {result}", pace)
    reasoning, answer = _reply(prompt, body, voice)
    return DemoReply(reasoning, answer, pace)


def _reply(prompt: str, body: dict[str, Any], voice: Voice) -> tuple[str, str]:
    lowered = prompt.lower()
    history = " ".join(
        str(m.get("content") or "") for m in body.get("messages") or [] if isinstance(m, dict)
    )
    limit = body.get("max_tokens")
    budget = limit if isinstance(limit, int) and limit > 0 else _LOOP_CAP
    if "traceback" in lowered and (found := explain_reply(prompt, voice)):
        return found
    if "sentiment" in lowered:
        return sentiment(prompt, voice)
    if re.search(r"\bloop", lowered) or "strawberry" in lowered:
        return loop(voice, min(budget, _LOOP_CAP))
    if "bat" in lowered and "ball" in lowered:
        return bat_and_ball(voice)
    if any(word in lowered for word in ("puzzle", "river", "goat", "cabbage")):
        return river_crossing(voice)
    if found := data_reply(prompt, voice):
        return found
    if found := arithmetic(prompt, voice, history):
        return found
    if found := set_answer(prompt, voice):
        return found
    if "name" in lowered and any(w in lowered for w in ("suggest", "give", "pick", "idea")):
        return named(prompt, voice)
    return _generic(prompt, voice)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return str(body.get("prompt") or "")


def _generic(prompt: str, voice: Voice) -> tuple[str, str]:
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
    return voice.think(steps), answer


def _json_reply(prompt: str, schema: dict[str, Any], voice: Voice) -> tuple[str, str]:
    names = ", ".join(schema.get("properties", {})) or "a value"
    steps = [
        voice.opener("the answer has to be JSON that fits the given schema"),
        f"The schema asks for: {names}. Let me fill each one with something that fits its type.",
        f"{voice.check()} Required fields present, types right, no extra keys. Good.",
    ]
    return voice.think(steps), json.dumps(_example(schema, prompt))


def _tool_reply(prompt: str, tool: dict[str, Any], voice: Voice, pace: float | None) -> DemoReply:
    name = str(tool.get("name") or "tool")
    parameters = tool.get("parameters") or {}
    arguments = _example(parameters, prompt) if isinstance(parameters, dict) else {}
    steps = [
        voice.opener(f"I have a tool, `{name}`, that can help with: {prompt.strip()[:120]}"),
        f"{tool.get('description') or 'It takes arguments as its schema says.'} Rather than "
        "guess, I should call it.",
        f"Arguments: {json.dumps(arguments)}. {voice.check()} They match its schema.",
    ]
    return DemoReply(voice.think(steps), "", pace, ToolCall(name, arguments, "call_demo_0"))


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
