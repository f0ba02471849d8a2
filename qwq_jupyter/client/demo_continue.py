"""The offline demo's raw continuations: QwQ's template read back, its thinking cut or extended.

Budget forcing (as in the s1 paper) stops the reasoning and sends a raw prompt: the chat
template, the reasoning so far, then either a closing sentence and `</think>` (answer now) or
"Wait," (think longer). The demo reads the template back into turns and builds the scripted
reply to the last user turn, the same one a chat request gets, so a reasoning the demo wrote is
a prefix of it. Then it answers from where the thinking stopped:

- after `</think>`, only an answer: the script's answer if the partial reasoning got to it, or
  the answer of a model that stopped earlier (the script's `stages`: the tempting wrong answer,
  an estimate, an unfinished plan; else a shorter, less careful version);
- after "Wait,", a short re-check in the voice (another one each time), then the answer; if the
  reasoning had not got there yet, the rest of it;
- after reasoning with neither, the rest of the script's reasoning, then the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .demo_voice import Script, Voice

__all__ = ["RawPrompt", "continuation", "forced_answer", "parse_template", "shorter"]

_START, _END = "<|im_start|>", "<|im_end|>"
_TURN = re.compile(r"<\|im_start\|>([^\n]*)\n(.*?)<\|im_end\|>", re.S)
_OPEN = "<|im_start|>assistant"
_THINK, _THINK_END = "<think>", "</think>"
_WAIT = "Wait,"
#: A partial reasoning this much of the script's length had all but finished.
_NEARLY_DONE = 0.8
#: Re-checks for replies that have none of their own; each follows "Wait,".
_RECHECKS = (
    "let me reread the question once more, to be sure I'm answering what was actually asked. "
    "Yes, that's what it asks, and what I worked out answers it.",
    "is there a case or a condition I skipped? Going through it again, step by step... no, "
    "nothing new turns up.",
)

Mode = Literal["fresh", "answer", "wait", "continue"]


@dataclass(frozen=True)
class RawPrompt:
    """A raw prompt in QwQ's template: its closed turns, and the open turn's thinking so far."""

    messages: list[dict[str, str]]
    thinking: str = ""  # what follows `<think>` in the model's open turn

    @property
    def mode(self) -> Mode:
        """What is asked: a fresh reply, an answer now, more thinking, or the rest of it."""
        if not self.thinking.strip():
            return "fresh"
        if _THINK_END in self.thinking:
            return "answer"
        return "wait" if self.thinking.rstrip().endswith(_WAIT) else "continue"

    @property
    def partial(self) -> str:
        """The reasoning written so far: before `</think>`, or before the appended "Wait,"."""
        text = self.thinking.split(_THINK_END, 1)[0].rstrip()
        if self.mode == "wait":
            text = text[: -len(_WAIT)]
        return text.strip()


def parse_template(prompt: str) -> RawPrompt | None:
    """The turns of a prompt written in the chat template; None for any other raw prompt."""
    if _START not in prompt:
        return None
    opened = prompt.rfind(_OPEN)
    closed, thinking = prompt, ""
    if opened >= 0 and _END not in prompt[opened:]:
        closed = prompt[:opened]
        thinking = prompt[opened + len(_OPEN) :].removeprefix("\n")
        if thinking.startswith(_THINK):
            thinking = thinking[len(_THINK) :].removeprefix("\n")
    turns = [{"role": role.strip(), "content": text} for role, text in _TURN.findall(closed)]
    return RawPrompt(turns, thinking)


def _holds(text: str, clue: str) -> bool:
    """Whether `clue` is in `text`, in any case, not as part of a longer word or number."""
    return re.search(rf"(?<!\w){re.escape(clue)}(?!\w)", text, re.IGNORECASE) is not None


def forced_answer(script: Script, partial: str) -> str:
    """What a model answers when its thinking stops after `partial`."""
    for clues, answer in script.stages:
        if all(_holds(partial, clue) for clue in clues):
            return answer
    if len(partial) >= _NEARLY_DONE * len(script.reasoning.strip()):
        return script.answer
    return shorter(script.answer)


def shorter(answer: str) -> str:
    """A less careful version of `answer`: its first sentence, or its first paragraph (with
    the next one when the first leads into it, as "...like this:" leads into code)."""
    paragraphs = answer.split("\n\n")
    if len(paragraphs) == 1:
        found = re.match(r"(.+?[.!?])\s", answer + " ", re.S)
        return found[1] if found else answer
    if paragraphs[0].rstrip().endswith(":"):
        return "\n\n".join(paragraphs[:2])
    return paragraphs[0]


def continuation(script: Script, raw: RawPrompt, voice: Voice) -> tuple[str, str]:
    """The reasoning and answer that follow `raw`'s partial thinking."""
    partial = raw.partial
    if raw.mode == "answer":
        return "", forced_answer(script, partial)
    if raw.mode == "continue" and script.reasoning.startswith(partial):
        return script.reasoning[len(partial) :], script.answer
    if forced_answer(script, partial) == script.answer:
        text = voice.think(*_recheck(script, partial, voice))
    else:
        text = voice.think(
            "I hadn't finished working it out. Let me go on from where I was.",
            _rest(script.reasoning, partial),
        )
    lead = " " if raw.mode == "wait" else f"\n\n{_WAIT} "
    return lead + text, script.answer


def _recheck(script: Script, partial: str, voice: Voice) -> list[str]:
    """A check not made yet (the reply's own first, one picked by the voice; then the general
    ones), and a closing remark unless that one was said already."""
    own = script.rechecks or _RECHECKS
    first = voice.random.randrange(len(own))
    order = (*own[first:], *own[:first], *(_RECHECKS if script.rechecks else ()))
    check = next((c for c in order if c not in partial), order[0])
    closer = voice.closer()
    return [check] if closer in partial else [check, closer]


def _rest(reasoning: str, partial: str) -> str:
    """The script's reasoning from the paragraph the partial one stopped in (or after)."""
    after_opener = reasoning.split("\n\n", 1)[-1]
    if not reasoning.startswith(partial):
        return after_opener
    cut = len(partial)
    if reasoning[cut : cut + 2] == "\n\n":
        return reasoning[cut + 2 :]
    start = reasoning.rfind("\n\n", 0, cut)
    return reasoning[start + 2 :] if start >= 0 else after_opener
