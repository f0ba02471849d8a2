"""The offline demo's tool use: which tools fit a question, with what arguments, and an answer
from what they returned, in QwQ's voice.

A request that offers tools and has no results yet after its last user message gets a short
reasoning (which tools fit and why, with what arguments) and a call of every tool that fits,
all in one round. A tool fits when the question shares a word with its name, its description or
its parameters' enum values that no other tool has; when none does, the first tool sharing any
word, or else the first tool, is called. Arguments come from the schema and the question: an
enum value the question names (the one nearest the words that made the tool fit, or after "per"
or "by" for what to group by), a quoted text, date or capitalised name for a string, a number
for a number; else the default, the first option, or a placeholder. Optional arguments the
question gives no evidence for are left out.

A request whose last user message is followed by the calls and their results (the assistant's
`<tool_call>` blocks, then `tool` messages) gets a reasoning over each result and an answer
quoting them (each cut to `QUOTE_CHARS`); an `error: …` result is said to have failed, and
nothing is called again.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.events import ToolCall
from ..core.tool_schema import mismatch
from .demo_voice import Script, Voice

__all__ = ["QUOTE_CHARS", "from_template", "tool_script"]

#: The most characters of one tool result the demo quotes.
QUOTE_CHARS = 300

_STOP = frozenset((
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "by", "can", "could", "did", "do", "does", "done", "each", "else", "for", "from",
    "get", "gets", "give", "go", "got", "had", "has", "have", "how", "i", "if", "in", "into",
    "is", "it", "its", "just", "let", "like", "me", "more", "most", "my", "no", "not", "of",
    "on", "one", "or", "our", "out", "over", "per", "please", "say", "should", "show", "so",
    "some", "such", "tell", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "those", "to", "too", "up", "us", "use", "using", "want", "was", "we",
    "were", "what", "when", "where", "whether", "which", "while", "who", "whom", "whose",
    "why", "will", "with", "would", "you", "your"
))  # fmt: skip
#: Words a question says for what a tool's name or description says otherwise.
_SAME = {"average": "mean", "avg": "mean", "many": "count", "total": "sum"}
#: Parameters that name what to group by: given a "per month" rather than a "the North region".
_GROUPING = ("by", "group", "group_by", "groupby", "per", "key")
_TEXTY = ("query", "text", "question", "prompt", "expression", "search", "input", "message")
#: Values for a string the question does not give, by its name or format, the first that fits.
_PLACEHOLDERS = ((("date-time",), "2024-01-01T00:00:00Z"), (("email",), "user@example.com"),
                 (("uri", "url", "link", "website"), "https://example.com"),
                 (("city", "location", "place", "town"), "London"), (("country",), "France"),
                 (("date", "day"), "2024-01-01"), (("language", "lang"), "English"),
                 (("currency",), "USD"), (("symbol", "ticker"), "AAPL"),
                 (("path", "file"), "data.csv"), (("name", "user", "person"), "Alice"))  # fmt: skip
_NUMBER = re.compile(r"(?<![\w.\-])-?\d+(?:\.\d+)?(?!\w|[.\-]\d)")
_DATE = re.compile(r"(?<![\w\-])\d{4}-\d{2}(?:-\d{2})?(?![\w\-])")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*\b")
_QUOTED = re.compile(r"\"([^\"\n]{1,120})\"|“([^”\n]{1,120})”|(?<!\w)'([^'\n]{1,120})'(?!\w)")
_CODE = re.compile(r"`([^`\n]{1,120})`")  # code: a query or an expression, not a name
_GROUP_CUE = re.compile(r"\b(?:by|per|each|every|across)\s+(?:the\s+)?$", re.I)
_RESULTS_IN = ("Okay, the results are back.", "Good, the tools have answered.",
               "Alright, now I have the results.", "Okay, let's see what came back.")  # fmt: skip
_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.S)
_RESPONSE = re.compile(r"<tool_response>\n(.*?)\n</tool_response>", re.S)

Span = tuple[int, int]


def tool_script(
    prompt: str, body: dict[str, Any], voice: Voice
) -> tuple[Script, tuple[ToolCall, ...]] | None:
    """The reply to a request with tools or tool results; None when it has neither."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    done = finished_calls(messages)
    if done:
        return _answer(prompt, done, voice), ()
    tools = [t.get("function", t) for t in body.get("tools") or [] if isinstance(t, dict)]
    tools = [t for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
    if not tools:
        return None
    first = sum(1 for m in messages if m.get("role") == "tool")  # ids stay unique in a chat
    return _calls(prompt, tools, voice, first)


def from_template(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Turns read back from QwQ's template, with `<tool_response>` turns as `tool` messages."""
    shaped: list[dict[str, str]] = []
    for message in messages:
        content = message.get("content") or ""
        if message.get("role") == "user" and content.lstrip().startswith("<tool_response>"):
            shaped += [{"role": "tool", "content": text} for text in _RESPONSE.findall(content)]
        else:
            shaped.append(message)
    return shaped


# --- Calling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    """A tool that fits, its arguments, and what the reasoning says about them."""

    tool: dict[str, Any]
    said: tuple[str, ...]  # the question's words that made it fit
    arguments: dict[str, Any]
    guesses: tuple[str, ...]  # arguments the question does not give


def _calls(
    prompt: str, tools: list[dict[str, Any]], voice: Voice, first: int
) -> tuple[Script, tuple[ToolCall, ...]]:
    chosen = [_fill(tool, prompt, said, anchors) for tool, said, anchors in _fitting(prompt, tools)]
    topic = " ".join(prompt.split()[:24]).rstrip(".?!:;,") or "an empty question"
    listed = ", ".join(f"`{t['name']}` ({_summary(t)})" for t in tools[:6])
    many = len(tools) > 1
    steps = [
        voice.opener(f'the question is: "{topic}"'),
        (f"I have {len(tools)} tools: {listed}." if many else f"I have one tool: {listed}.")
        + " Rather than guess the numbers, I should let the tools compute them.",
    ]
    for choice in chosen:
        name, call = choice.tool["name"], _call_text(choice.tool["name"], choice.arguments)
        if choice.said:
            why = ", ".join(f"“{word}”" for word in choice.said[:4])
            steps.append(f"`{name}` fits: the question says {why}. So: `{call}`.")
        elif many:
            steps.append(f"None of them obviously fits, but `{name}` is the closest: `{call}`.")
        else:
            steps.append(f"It doesn't obviously match, but it's the only tool: `{call}`.")
        if choice.guesses:
            steps.append(
                f"The question doesn't say which {' or '.join(choice.guesses)}, so I'll go with "
                "the default, or a reasonable value."
            )
    left = [t["name"] for t in tools if all(t is not c.tool for c in chosen)]
    if left:
        verb = "don't" if len(left) > 1 else "doesn't"
        steps.append(f"{', '.join(f'`{n}`' for n in left[:6])} {verb} seem needed here.")
    if len(chosen) > 1:
        steps.append("No call needs another's result, so I can make them all in one go.")
    steps.append(f"{voice.check()} The arguments fit the schemas: right types, options offered.")
    calls = tuple(
        ToolCall(c.tool["name"], c.arguments, f"call_demo_{first + number}")
        for number, c in enumerate(chosen)
    )
    return Script(voice.think(steps), "", (((), ""),)), calls


def _fitting(
    prompt: str, tools: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], tuple[str, ...], list[int]]]:
    """The tools that fit, each with the question's words that fit it and where they are."""
    asked = _words(prompt)
    owns = [set(_words(_tool_text(tool))) for tool in tools]
    shared = [[w for w in asked if w in own] for own in owns]
    distinct = [[w for w in words if sum(w in own for own in owns) == 1] for words in shared]
    first = next((n for n, words in enumerate(shared) if words), 0)  # else the first that shares
    picked = distinct if any(distinct) else [w if n == first else [] for n, w in enumerate(shared)]
    fitting = []
    for tool, words in zip(tools, picked, strict=True):
        if words:
            surfaces = tuple(dict.fromkeys(asked[w][0][1] for w in words))
            core = _words(f"{tool.get('name')} {tool.get('description') or ''}")
            named = [w for w in words if w in core] or words  # not only its enum values
            anchors = sorted(start for w in named for start, _ in asked[w])
            fitting.append((tool, surfaces, anchors))
    return fitting or [(tools[0], (), [])]


def _tool_text(tool: dict[str, Any]) -> str:
    parameters = tool.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    options: list[str] = []
    for schema in (properties or {}).values():
        if isinstance(schema, dict):
            items = schema.get("items")
            for where in (schema, items if isinstance(items, dict) else {}):
                enum = where.get("enum")
                options += [str(o) for o in enum] if isinstance(enum, list) else []
    return " ".join([str(tool.get("name")), str(tool.get("description") or ""), *options])


def _words(text: str) -> dict[str, list[tuple[int, str]]]:
    """The text's words, normalised, each with where it is and how it was written."""
    found: dict[str, list[tuple[int, str]]] = {}  # count_rows, groupMean: two words each
    for match in re.finditer(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", text):
        word = match[0].lower()
        if word in _STOP or len(word) < 2:
            continue
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("s") and len(word) > 3 and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        word = _SAME.get(word, word)
        found.setdefault(word, []).append((match.start(), match[0]))
    return found


def _summary(tool: dict[str, Any]) -> str:
    text = str(tool.get("description") or "").strip()
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0] if text else "no description"
    return first if len(first) <= 100 else first[:99] + "…"


def _fill(tool: dict[str, Any], prompt: str, said: tuple[str, ...], anchors: list[int]) -> _Choice:
    parameters = tool.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    arguments, guesses = _object(parameters, prompt, anchors, set())
    if mismatch(arguments, parameters, "") is not None:  # keep what the schema requires
        required = parameters.get("required") or []
        arguments = {k: v for k, v in arguments.items() if k in required}
    return _Choice(tool, said, arguments, tuple(guesses))


def _object(
    schema: dict[str, Any], prompt: str, anchors: list[int], used: set[Span]
) -> tuple[dict[str, Any], list[str]]:
    properties = schema.get("properties")
    required = schema.get("required")
    required = required if isinstance(required, list) else []
    arguments: dict[str, Any] = {}
    guesses: list[str] = []
    for name, sub in (properties if isinstance(properties, dict) else {}).items():
        if not isinstance(sub, dict):
            continue
        value, evidence = _value(name, sub, prompt, anchors, used)
        if evidence or name in required:
            arguments[name] = value
            guesses += [] if evidence else [name]
    return arguments, guesses


def _value(
    name: str, schema: dict[str, Any], prompt: str, anchors: list[int], used: set[Span]
) -> tuple[Any, bool]:
    """A value for one argument, and whether the question gave it."""
    schema = _concrete(schema)
    if "const" in schema:
        return schema["const"], False
    default = schema.get("default")
    options = schema.get("enum")
    if isinstance(options, list) and options:
        choices = [o for o in options if o is not None] or options
        mentions = [(m.span(), o) for o in choices for m in _mentions(o, prompt)]
        groups = name.lower() in _GROUPING or "group" in str(schema.get("description")).lower()
        found = _nearest(mentions, anchors, used, lambda span: _grouped(prompt, span) != groups)
        if found is not None:
            return found, True
        return (default if default in options else choices[0]), False
    kind = schema.get("type")
    if kind in ("integer", "number"):
        numbers = [
            (m.span(), v) for m in _NUMBER.finditer(prompt) if (v := _number(m, schema)) is not None
        ]
        found = _nearest(numbers, anchors, used)
        if found is not None:
            return found, True
        if isinstance(default, int | float) and not isinstance(default, bool):
            return default, False
        low = schema.get("minimum")
        return (low if isinstance(low, int | float) and low > 1 else 1), False
    if kind == "boolean":
        return (default if isinstance(default, bool) else False), False
    if kind == "array":
        items = schema.get("items")
        return _array(name, items if isinstance(items, dict) else {}, prompt, anchors, used)
    if kind == "object":
        nested, guesses = _object(schema, prompt, anchors, used)
        return nested, len(guesses) < len(nested)
    if kind == "null":
        return None, False
    return _string(name, schema, prompt, anchors, used)


def _concrete(schema: dict[str, Any]) -> dict[str, Any]:
    """A nullable or a union schema as its first choice that is not null."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        return {**schema, "type": kinds[0]} if kinds else schema
    for word in ("anyOf", "oneOf"):
        choices = schema.get(word)
        if isinstance(choices, list):
            real = [c for c in choices if isinstance(c, dict) and c.get("type") != "null"]
            if real:
                merged = {k: v for k, v in schema.items() if k != word}
                return _concrete({**real[0], **merged})
    return schema


def _mentions(option: Any, prompt: str) -> list[re.Match[str]]:
    words = [re.escape(part) for part in re.split(r"[\s_\-]+", str(option).strip()) if part]
    if not words or isinstance(option, bool):
        return []
    pattern = r"(?<![\w\-])" + r"[\s_\-]+".join(words) + r"(?![\w\-])"
    return list(re.finditer(pattern, prompt, re.IGNORECASE))


def _number(match: re.Match[str], schema: dict[str, Any]) -> int | float | None:
    value = float(match[0])
    if schema.get("type") == "integer" and not value.is_integer():
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    if (isinstance(low, int | float) and value < low) or (
        isinstance(high, int | float) and value > high
    ):
        return None
    return int(value) if schema.get("type") == "integer" else value


def _nearest(
    candidates: list[tuple[Span, Any]],
    anchors: list[int],
    used: set[Span],
    rank: Callable[[Span], int] = lambda span: 0,
) -> Any | None:
    """The candidate nearest the words that made the tool fit (then the first), not yet used;
    `rank` puts some first."""
    free = [(s, v) for s, v in candidates if not any(s[0] < u[1] and u[0] < s[1] for u in used)]
    if not free:
        return None

    def distance(item: tuple[Span, Any]) -> tuple[int, int, int]:
        (start, end), _ = item
        near = min((max(0, start - a, a - end + 1) for a in anchors), default=0)
        return rank((start, end)), near, start

    span, value = min(free, key=distance)
    used.add(span)
    return value


def _grouped(prompt: str, span: Span) -> bool:
    """Whether a mention is what something is grouped by: "per month", "by region"."""
    return _GROUP_CUE.search(prompt[: span[0]]) is not None


def _array(
    name: str, items: dict[str, Any], prompt: str, anchors: list[int], used: set[Span]
) -> tuple[list[Any], bool]:
    options = _concrete(items).get("enum")
    if isinstance(options, list) and options:
        mentioned = sorted((m.start(), o) for o in options for m in _mentions(o, prompt)[:1])
        if mentioned:
            return list(dict.fromkeys(o for _, o in mentioned)), True
    value, evidence = _value(name, items, prompt, anchors, used)
    return [value], evidence


def _string(
    name: str, schema: dict[str, Any], prompt: str, anchors: list[int], used: set[Span]
) -> tuple[str, bool]:
    quoted = [(m.span(g), m[g]) for m in _QUOTED.finditer(prompt) for g in range(1, 4) if m[g]]
    limit = schema.get("maxLength")
    limit = limit if isinstance(limit, int) and limit > 0 else 200
    if any(word in name.lower() for word in _TEXTY):
        code = [(m.span(1), m[1]) for m in _CODE.finditer(prompt)]
        found = _nearest(quoted + code, anchors, used)
        return (found if found is not None else prompt.strip())[:limit], True
    pattern = schema.get("pattern")
    found = _nearest(quoted, anchors, used)
    if found is None:
        named = [(m.span(), m[0]) for m in _DATE.finditer(prompt)]
        named += [(m.span(), m[0]) for m in _CAPITALISED.finditer(prompt) if _mid_sentence(m)]
        if isinstance(pattern, str):
            named = [(s, v) for s, v in named if _matches(pattern, v)]
        found = _nearest(named, anchors, used)
    if found is not None:
        return found[:limit], True
    default = schema.get("default")
    if isinstance(default, str):
        return default, False
    lowered = f"{schema.get('format') or ''} {name}".lower()
    guess = next((v for keys, v in _PLACEHOLDERS if any(k in lowered for k in keys)), "example")
    return guess[:limit], False


def _mid_sentence(match: re.Match[str]) -> bool:
    """A capitalised word that is a name, not the first word of a sentence or line."""
    if match[0].lower() in _STOP:
        return False
    before = match.string[: match.start()]
    trimmed = before.rstrip(" \t\"'“‘(*_#>-")
    return bool(trimmed) and not trimmed.endswith((".", "!", "?", ":", "\n"))


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True


def _call_text(name: str, arguments: Any) -> str:
    if not isinstance(arguments, dict):
        return f"{name}({_short(json.dumps(arguments, ensure_ascii=False), 200)})"
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{name}({_short(shown, 200)})"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- Answering from the results --------------------------------------------------------------


@dataclass(frozen=True)
class _Done:
    """A call the model made and what went back for it."""

    name: str
    arguments: Any
    content: str

    @property
    def error(self) -> str | None:
        return self.content[len("error: ") :] if self.content.startswith("error: ") else None


def finished_calls(messages: list[dict[str, Any]]) -> list[_Done]:
    """The calls made since the last user message, each with what went back for it."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    calls: list[tuple[str, Any]] = []
    results: list[str] = []
    for message in messages[last + 1 :]:
        if message.get("role") == "assistant":
            calls += _calls_in(message)
        elif message.get("role") == "tool":
            results.append(str(message.get("content") or ""))
    calls += [("the tool", {})] * (len(results) - len(calls))
    return [_Done(n, a, r) for (n, a), r in zip(calls, results, strict=False)]


def _calls_in(message: dict[str, Any]) -> list[tuple[str, Any]]:
    """The calls of an assistant message: `<tool_call>` text (Workers AI) or `tool_calls`."""
    found: list[tuple[str, Any]] = []
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            nested = call.get("function")
            function: dict[str, Any] = nested if isinstance(nested, dict) else call
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                with contextlib.suppress(ValueError):
                    arguments = json.loads(arguments)
            found.append((str(function.get("name") or "the tool"), arguments))
    for block in _CALL.findall(str(message.get("content") or "")):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        if isinstance(data, dict):
            found.append((str(data.get("name") or "the tool"), data.get("arguments")))
    return found


def _answer(prompt: str, done: list[_Done], voice: Voice) -> Script:
    topic = " ".join(prompt.split()[:24]).rstrip(".?!:;,") or "the question"
    back = voice.pick(*_RESULTS_IN)
    steps = [f'{back} The question was: "{topic}".']  # fmt: skip
    paragraphs: list[str] = []
    for call in done:
        text = _call_text(call.name, call.arguments)
        if call.error is not None:
            steps.append(
                f"`{text}` failed: {_short(call.error, 160)}. I shouldn't guess what it would "
                "have returned; I'll say it failed."
            )
            said = _said(f"`{text}` failed with", call.error, bold=False)
            paragraphs.append(f"{said} I can't answer that part.")
        else:
            steps.append(f"`{text}` returned {_short(' '.join(call.content.split()), 160)}.")
            paragraphs.append(_said(f"`{text}` returned", call.content))
    failed = sum(call.error is not None for call in done)
    steps.append(
        "Do these answer what was asked? "
        + (
            "Yes. Every value came from a tool, so I'll quote them as they are rather than "
            "recompute or round anything."
            if not failed
            else "Not all of it: what worked I can quote as it is; what failed I'll report, "
            "not invent."
        )
    )
    steps.append(voice.closer())
    if failed == len(done):
        ending = "I couldn't get the values: fix the tool or its arguments and ask again."
    elif failed:
        ending = "The rest comes straight from the tools; fix the failing one and ask again."
    else:
        ending = "These are the tools' own results, quoted as they came back."
    answer = "\n\n".join([*paragraphs, ending])
    recheck = "do the values I quote match what the tools returned? Yes, as they came back."
    return Script(voice.think(steps), answer, (((), answer),), (recheck,))


def _said(lead: str, text: str, limit: int = QUOTE_CHARS, *, bold: bool = True) -> str:
    """`lead` and a result as the answer quotes it: bold when short, code otherwise, bounded."""
    text = text.strip()
    shown = _short(text, limit)
    note = f" (cut: {len(text):,} characters in all)" if len(text) > limit else ""
    if "\n" in shown or "`" in shown:
        fence = "```"
        while fence in shown:
            fence += "`"
        return f"{lead}{note}:\n\n{fence}\n{shown}\n{fence}"
    if bold and len(shown) <= 40 and not re.search(r"[*_\\\[\]<>~|]", shown):
        return f"{lead} **{shown}**{note}."
    return f"{lead} `{shown}`{note}."
