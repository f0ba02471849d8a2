"""OpenAI's legacy `/completions`: raw text in, raw text out, as QwQ continues a prompt.

Budget forcing sends QwQ's chat template with the reasoning so far and lets the model go on
from there; servers that take such raw text answer in these `text_completion` shapes. Which
pieces are sent (a continuation, max_tokens, a loop) is the same plan as for chat completions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from ._script import Reply, finish_events, openai_envelope, plan

_Json = dict[str, Any]


def _text_choice(text: str, finish_reason: str | None = None) -> _Json:
    return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}


def completion_events(reply: Reply, request: _Json, model: str) -> Iterator[_Json]:
    """The SSE payloads (without the final [DONE]) of a streamed text completion.

    One chunk per token, the last one carrying `finish_reason`, then the usage chunk
    (`"choices": []`) when `stream_options.include_usage` asks for it; endless for a loop.
    """
    plan_ = plan(reply, request, text_only=True)
    chunks = ({"choices": [_text_choice(piece.text)]} for piece in plan_.stream())
    events = finish_events(chunks, plan_, {"choices": [_text_choice("")]})
    return openai_envelope(events, plan_, request, model, kind="text_completion")


def completion_body(reply: Reply, request: _Json, model: str) -> _Json:
    """The JSON body of a non-streamed text completion."""
    plan_ = plan(reply, request, text_only=True)
    body: _Json = {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [_text_choice(plan_.text("content"), plan_.finish_reason)],
    }
    if plan_.usage_style != "none":
        body["usage"] = plan_.usage()
    return body
