"""QwQ's chat template, for raw prompts and for showing what the model actually reads."""

from __future__ import annotations

from typing import Any

__all__ = ["GENERATION_PROMPT", "apply_chat_template"]

#: How the template opens the model's turn: QwQ starts inside its reasoning.
GENERATION_PROMPT = "<|im_start|>assistant\n<think>\n"


def apply_chat_template(messages: list[dict[str, Any]]) -> str:
    """The text QwQ sees for `messages` (earlier answers only; reasoning never goes back)."""
    turns = [f"<|im_start|>{m['role']}\n{m.get('content') or ''}<|im_end|>\n" for m in messages]
    return "".join(turns) + GENERATION_PROMPT
