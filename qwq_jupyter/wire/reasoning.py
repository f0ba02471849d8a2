"""Split QwQ's inline text into reasoning and answer.

QwQ's chat template ends the prompt with `<think>\\n`, so the model's own text usually starts
*inside* the reasoning, with no opening tag, and the answer begins after `</think>`. Some servers
echo the opening `<think>`; some send reasoning in a separate field (then the text is all answer,
and this splitter is not used). Tags may be split across stream chunks, so a tail that could be
the start of a tag is held back until the next piece decides it.

Text before `</think>` streams as reasoning because that is what it is until proven otherwise;
whether a reply that never closed its reasoning was an answer after all is decided when the
reply ends (`saw_close_tag`, read by the decoder), not here.
"""

from __future__ import annotations

from typing import Literal

from ..core.public import publish

__all__ = ["OpensIn", "ReasoningSplitter"]

#: Where a reply's text begins: inside the reasoning (QwQ's template opened `<think>` in the
#: prompt), or in the answer (a continuation whose prompt already closed it with `</think>`).
OpensIn = Literal["reasoning", "answer"]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

Part = tuple[Literal["reasoning", "answer"], str]


class ReasoningSplitter:
    """Feed text pieces in order; get ("reasoning" | "answer", text) parts back.

    `opens_in="answer"`: the prompt ended the thinking itself (a forced answer), so every
    piece is answer text.
    """

    def __init__(self, opens_in: OpensIn = "reasoning") -> None:
        self._state: Literal["start", "reasoning", "answer"] = (
            "answer" if opens_in == "answer" else "start"
        )
        self._held = ""
        self._answer_started = False
        self.saw_close_tag = opens_in == "answer"

    def feed(self, text: str) -> list[Part]:
        if not self._held and "<" not in text:  # most pieces: no tag can start in them
            if self._state == "reasoning":
                return [("reasoning", text)]
            if self._state == "answer" and self._answer_started:
                return [("answer", text)]
        text = self._held + text
        self._held = ""
        parts: list[Part] = []
        if self._state == "start":
            stripped = text.lstrip()
            if not stripped or OPEN_TAG.startswith(stripped):
                self._held = text  # may still become a leading <think>
                return parts
            if stripped.startswith(OPEN_TAG):
                text = stripped[len(OPEN_TAG) :]
            self._state = "reasoning"
        if self._state == "reasoning":
            end = text.find(CLOSE_TAG)
            if end == -1:
                keep = _partial_suffix(text, CLOSE_TAG)
                self._held = text[len(text) - keep :] if keep else ""
                self._emit(parts, "reasoning", text[: len(text) - keep])
                return parts
            self._emit(parts, "reasoning", text[:end])
            self.saw_close_tag = True
            self._state = "answer"
            text = text[end + len(CLOSE_TAG) :]
        self._emit_answer(parts, text)
        return parts

    def flush(self) -> list[Part]:
        """End of stream: release held text as what it most likely is."""
        held, self._held = self._held, ""
        parts: list[Part] = []
        if held:
            kind: Literal["reasoning", "answer"] = (
                "answer" if self._state == "answer" else "reasoning"
            )
            if self._state == "start":
                held = held.lstrip().removeprefix(OPEN_TAG)
            self._emit(parts, kind, held)
        return parts

    def _emit_answer(self, parts: list[Part], text: str) -> None:
        if not self._answer_started:
            # The answer conventionally follows `</think>` after a blank line; drop it.
            text = text.lstrip()
            if not text:
                return
            self._answer_started = True
        self._emit(parts, "answer", text)

    @staticmethod
    def _emit(parts: list[Part], kind: Literal["reasoning", "answer"], text: str) -> None:
        if text:
            parts.append((kind, text))


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    tail = text[-(len(tag) - 1) :]
    start = tail.find(tag[0])
    while start != -1:  # every candidate starts with "<"; the earliest is the longest
        if tag.startswith(tail[start:]):
            return len(tail) - start
        start = tail.find(tag[0], start + 1)
    return 0


publish(globals())
