"""The offline demo's voice: QwQ-like phrasing, chosen by a generator seeded per request.

A `Voice` is seeded by a stable hash (sha256) of the prompt, the seed and the temperature, so a
request always gets the same reply, and another seed or temperature gets other wording. The
temperature also sets how many phrasings are in play and how many extra checks the reasoning
makes: higher temperature, more variation.

A few questions have a tempting wrong turn (a slip in the adding, the bat-and-ball trap, the
50/50 of the Monty Hall problem) that a request with a seed sometimes takes: `Voice.slips`.
Whether it does is drawn from the problem and the seed alone, by another hash, so the wording's
generator is untouched, and a request with no seed never slips (the reply a notebook shows).
About one seed in five slips at the default temperature 0.6, none at 0, one in three at 1.0:
a seed that slips at one temperature slips at every higher one, so a vote (`%%qwq --vote N`,
seeds 1 to N) agrees less as the temperature rises.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["Script", "Stage", "Voice"]

#: The share of seeds whose reply takes a tempting wrong turn, at the default temperature.
SLIP_RATE = 0.2
_DEFAULT_TEMPERATURE = 0.6
#: Part of what the slip's hash reads: fixed, so a seed slips or not in every kernel. With it,
#: the seeds 1 to 8 of each slip-prone question include a wrong answer or two, and the seeds
#: the demo's tests and notebooks ask single answers with (none, or 1 to 3) do not slip.
_SLIP_SALT = "slip-281"

#: An answer for thinking cut short, and the clues (all of them, any case) the partial reasoning
#: must hold for it: how far the thinking got decides what the model can answer.
Stage = tuple[tuple[str, ...], str]


@dataclass(frozen=True)
class Script:
    """A scripted reply, and what it says when its thinking is cut or continued.

    `stages` are tried in order, the most advanced first: the first whose clues all appear in
    the partial reasoning is the forced answer; a stage with no clues answers a thinking cut
    before any of them (a hasty answer). `rechecks` are short checks written to follow an
    appended "Wait," once the reasoning has reached its answer.
    """

    reasoning: str
    answer: str
    stages: tuple[Stage, ...] = ()
    rechecks: tuple[str, ...] = ()


_OPENERS = (
    "Okay, so {what}.",
    "Alright, let me think about this. {What}.",
    "Okay, let's see. {What}.",
    "Hmm, so {what}. Let me work through it.",
    "Okay, the user wants me to figure this out: {what}.",
)
_CHECKS = (
    "Wait, let me double-check that.",
    "Wait, is that right? Let me verify.",
    "Hmm, let me make sure I didn't slip somewhere.",
    "Wait a second, let me check this another way.",
    "Let me just confirm before answering.",
)
_FILLERS = (
    "Let me also make sure I'm answering what was actually asked, not a nearby question.",
    "I should keep the answer short, since the reasoning already covers the details.",
    "Is there a catch here? I don't think so, but it's worth a moment to look.",
    "Maybe I'm overthinking this. Still, a quick second look costs little.",
    "Let me reread the question once more to be sure I have it right.",
    "Another way to see it might help, just to be safe.",
)
_CLOSERS = (
    "Okay, I'm confident now.",
    "Alright, that all checks out.",
    "Yes, that's consistent. I think that's the answer.",
    "Okay, that settles it.",
    "Good, everything agrees.",
)


class Voice:
    """Choices among phrasings, deterministic per (prompt, seed, temperature)."""

    def __init__(self, prompt: str, body: dict[str, Any]) -> None:
        temperature = body.get("temperature")
        if not isinstance(temperature, int | float) or isinstance(temperature, bool):
            temperature = 0.6
        self.temperature = min(max(float(temperature), 0.0), 2.0)
        self.seed = body.get("seed")
        key = f"{prompt}\x00{self.seed!r}\x00{self.temperature:.3f}".encode()
        self.random = random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))

    def slip_draw(self, problem: str) -> float | None:
        """Where this seed falls for `problem`, in [0, 1); None without a seed. Independent of
        the prompt's wording and of the temperature."""
        if self.seed is None:
            return None
        key = f"{_SLIP_SALT}\x00{problem}\x00{self.seed!r}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64

    def slips(self, problem: str) -> bool:
        """Whether this reply takes `problem`'s tempting wrong turn: never without a seed;
        with one, for `SLIP_RATE` of seeds at temperature 0.6, in proportion to temperature."""
        draw = self.slip_draw(problem)
        threshold = SLIP_RATE * self.temperature / _DEFAULT_TEMPERATURE
        return draw is not None and draw < threshold

    def pick(self, *options: str) -> str:
        """One of `options`: the first few at low temperature, any of them at high."""
        width = max(2, min(len(options), 1 + round(self.temperature * len(options))))
        return options[self.random.randrange(min(width, len(options)))]

    def chance(self, base: float) -> bool:
        """True with a probability that grows with temperature."""
        return self.random.random() < base * (0.5 + self.temperature)

    def extra(self, most: int = 3) -> int:
        """How many extra checks or asides: more at higher temperature."""
        return self.random.randint(0, max(1, round(self.temperature * most)))

    def opener(self, what: str) -> str:
        return self.pick(*_OPENERS).format(what=what, What=what[:1].upper() + what[1:])

    def check(self) -> str:
        return self.pick(*_CHECKS)

    def closer(self) -> str:
        return self.pick(*_CLOSERS)

    def asides(self, most: int = 3) -> list[str]:
        """A few distinct asides, as many as `extra` says."""
        count = min(self.extra(most), len(_FILLERS))
        return self.random.sample(_FILLERS, count)

    def think(self, *paragraphs: str | list[str]) -> str:
        """Paragraphs (and lists of them, e.g. optional checks) as one reasoning text."""
        flat: list[str] = []
        for paragraph in paragraphs:
            flat.extend(paragraph if isinstance(paragraph, list) else [paragraph])
        return "\n\n".join(p for p in flat if p)
