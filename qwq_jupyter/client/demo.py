"""The offline demo: scripted replies answered in-process, as `backend = 'demo'`.

No server and no key: `DemoSource` is a source of events like the HTTP client and the
cassette, so a demo call goes through the same stream, views and turns as a real one. The
replies are plausible in shape and plainly not the model; every output says so.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.events import AnswerDelta, Event, Finish, ReasoningDelta, Usage, UsageEvent

if TYPE_CHECKING:
    from ..core.settings import QwQSettings
    from ..wire.request import HTTPRequest

__all__ = ["DemoReply", "DemoSource", "demo_reply"]

#: Tokens a second the demo streams at: about the pace of the real model.
DEMO_PACE = 60.0
_TOKEN = re.compile(r"\s*\S+")


@dataclass(frozen=True)
class DemoReply:
    reasoning: str
    answer: str
    pace: float | None = DEMO_PACE


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
        yield [UsageEvent(Usage(prompt_tokens, count)), Finish("stop")]


_PRODUCT = re.compile(r"(\d+)\s*(?:[x×*]|times)\s*(\d+)")
_NOTICE = "*(Scripted by the qwq-jupyter offline demo, not written by QwQ.)*"


def demo_reply(body: dict[str, Any], *, pace: float | None = DEMO_PACE) -> DemoReply:
    """A reply to the last user message of `body`, chosen by what it asks."""
    prompt = _last_user_text(body)
    schema = body.get("guided_json") or (body.get("response_format") or {}).get("json_schema", {})
    if isinstance(schema, dict) and "schema" in schema:
        schema = schema["schema"]
    if schema:
        return _json_reply(schema, pace)
    if match := _PRODUCT.search(prompt):
        return _product_reply(int(match[1]), int(match[2]), pace)
    lowered = prompt.lower()
    if "traceback" in lowered or "error" in lowered:
        return _error_reply(pace)
    if any(word in lowered for word in ("dataframe", "pandas", "column", "data")):
        return _data_reply(pace)
    return _generic_reply(prompt, pace)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return str(body.get("prompt") or "")


def _product_reply(a: int, b: int, pace: float | None) -> DemoReply:
    tens, ones = divmod(b, 10)
    reasoning = (
        f"Okay, the question is {a} × {b}. Let me split {b} into {tens * 10} and {ones}. "
        f"{a} × {tens * 10} = {a * tens * 10}. {a} × {ones} = {a * ones}. "
        f"Adding them: {a * tens * 10} + {a * ones} = {a * b}. "
        f"Let me check the other way round: {b} × {a} should give the same, and it does. "
        f"So the product is {a * b}."
    )
    return DemoReply(reasoning=reasoning, answer=f"{a} × {b} = **{a * b}**\n\n{_NOTICE}", pace=pace)


def _data_reply(pace: float | None) -> DemoReply:
    reasoning = (
        "The user wants help with a table of data. A good first step is to look at its shape, "
        "the types of the columns and missing values, then summarise the numeric columns. "
        "Grouping by a category and plotting one numeric column usually shows the main pattern. "
        "I should give code they can run in the next cell."
    )
    answer = (
        "Start with an overview, then group by the category column:\n\n"
        "```python\n"
        "summary = df.describe(include='all')\n"
        "by_group = df.groupby(df.columns[0]).mean(numeric_only=True)\n"
        "by_group\n"
        "```\n\n"
        f"Look for groups whose means stand apart, and for columns with many missing values.\n\n"
        f"{_NOTICE}"
    )
    return DemoReply(reasoning=reasoning, answer=answer, pace=pace)


def _error_reply(pace: float | None) -> DemoReply:
    reasoning = (
        "There is a traceback. The last line names the exception type and message; the frame "
        "above it shows the failing line. I should explain the cause and suggest a fix."
    )
    answer = (
        "The last line of the traceback names the error. A common cause is a name or key that "
        "does not exist yet; check the spelling, or define it before use:\n\n"
        "```python\n# define the missing value before using it\n```\n\n"
        f"{_NOTICE}"
    )
    return DemoReply(reasoning=reasoning, answer=answer, pace=pace)


def _generic_reply(prompt: str, pace: float | None) -> DemoReply:
    topic = " ".join(prompt.split()[:12]).rstrip(".?!:;,") or "an empty question"
    reasoning = (
        f"The question is about: {topic}. First I restate what is asked, then consider what "
        "the person likely needs, check for a catch, and settle on a short, direct answer. "
        "Reasoning models spend most of their tokens here, before the answer starts."
    )
    answer = f"Here is a short answer about *{topic}*.\n\n{_NOTICE}"
    return DemoReply(reasoning=reasoning, answer=answer, pace=pace)


def _json_reply(schema: dict[str, Any], pace: float | None) -> DemoReply:
    import json

    reasoning = "The answer must be JSON that matches the schema, so I fill in each property."
    return DemoReply(reasoning=reasoning, answer=json.dumps(_example(schema)), pace=pace)


def _example(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(sub) for name, sub in properties.items()}
    if kind == "array":
        return [_example(schema.get("items", {}))]
    examples: dict[object, Any] = {"integer": 42, "number": 4.2, "boolean": True, "null": None}
    return examples.get(kind, "demo")
