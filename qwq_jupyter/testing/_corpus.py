"""Scripted reasoning of any length: healthy long thinking, and thinking stuck in a loop.

`long_reasoning` writes QwQ-style working (arithmetic, checks, second thoughts) whose numbers
are drawn from a seeded generator, so no passage ever comes back: a repetition detector must
stay quiet on it. `looping_reasoning` appends a passage repeated verbatim, which it must catch.
Token counts are the server's: one `\\s*\\S+` piece per token.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ._script import loop_copy

__all__ = ["long_reasoning", "looping_reasoning"]

# No run of this many tokens may appear twice in a long_reasoning text.
_WINDOW = 10
_RETRIES = 40

_FIRST = "Okay, let me work through this step by step."
_OPENERS = [
    "Wait,", "Hmm,", "Okay,", "Alright,", "Now,", "So", "Then", "Next,", "Actually,", "But",
    "Hold on,", "Right,", "Also,", "Let me see.", "Let me check.", "Hmm.", "Okay.", "Oh,",
]  # fmt: skip

_Topic = Callable[[random.Random], list[str]]


def _product(rng: random.Random) -> list[str]:
    a, b = rng.randint(13, 98), rng.choice([n for n in range(13, 99) if n % 10])
    tens, ones = b - b % 10, b % 10
    first = rng.choice(
        [f"Let me compute {a} times {b}.", f"I need {a} × {b} here.", f"What is {a} times {b}?"]
    )
    split = rng.choice(
        [
            f"Splitting {b} into {tens} and {ones}, that is {a * tens} plus {a * ones}.",
            f"{a} times {tens} is {a * tens}, and {a} times {ones} is {a * ones}.",
        ]
    )
    total = rng.choice([f"Together that makes {a * b}.", f"So the product is {a * b}."])
    check = rng.choice(
        [
            f"Checking the other way: {b} times {a} also gives {a * b}.",
            f"The last digit should be that of {a % 10 * ones}, which fits {a * b}.",
            f"Rounded to tens that is about {round(a, -1) * round(b, -1)}, the right size.",
        ]
    )
    return [first, split, total, check]


def _series(rng: random.Random) -> list[str]:
    n = rng.randint(8, 140)
    total = n * (n + 1) // 2
    return [
        rng.choice(
            [f"The sum from 1 to {n} comes next.", f"I want 1 + 2 + ... + {n}."],
        ),
        rng.choice(
            [
                f"Pairing the ends, each pair adds to {n + 1} and there are {n / 2:g} pairs.",
                f"By the formula it is {n} times {n + 1} over 2.",
            ]
        ),
        f"That gives {total}.",
        rng.choice(
            [
                f"For {n - 1} it would be {total - n}, so adding {n} fits.",
                f"Sanity check: {total} is about {n} squared halved, {n * n // 2}.",
            ]
        ),
    ]


def _percent(rng: random.Random) -> list[str]:
    p, base = rng.choice([5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 60, 75]), rng.randint(4, 90) * 20
    part = p * base / 100
    return [
        rng.choice(
            [f"Now {p}% of {base}.", f"Take {p} percent of {base}.", f"{p}% of {base} is what?"]
        ),
        rng.choice(
            [
                f"One percent is {base / 100:g}, so {p} percent is {part:g}.",
                f"That is {base} times {p / 100:g}, which is {part:g}.",
            ]
        ),
        rng.choice(
            [
                f"What remains is {base - part:g}.",
                f"So {part:g} out of {base}, leaving {base - part:g}.",
            ]
        ),
    ]


def _travel(rng: random.Random) -> list[str]:
    speed, hours = rng.randint(35, 120), rng.choice([1.5, 2, 2.5, 3, 4, 0.75, 1.25])
    distance = speed * hours
    return [
        rng.choice(
            [
                f"A train at {speed} km/h for {hours:g} hours covers {distance:g} km.",
                f"Suppose the speed is {speed} km/h and the trip takes {hours:g} hours.",
            ]
        ),
        rng.choice(
            [
                f"Distance is speed times time, so {speed} × {hours:g} = {distance:g}.",
                f"In {hours * 60:g} minutes at {speed / 60:.3g} km a minute, about {distance:g}.",
            ]
        ),
        f"Going back, {distance:g} divided by {hours:g} returns {speed}.",
    ]


def _rectangle(rng: random.Random) -> list[str]:
    w, h = rng.randint(3, 60), rng.randint(3, 60)
    return [
        *rng.choice(
            [
                [f"Consider a rectangle {w} by {h}.", f"Its area is {w * h}."],
                [f"If the sides were {w} and {h}, the area would be {w * h}."],
            ]
        ),
        rng.choice(
            [
                f"The perimeter is 2 × ({w} + {h}) = {2 * (w + h)}.",
                f"Around the edge that is {2 * (w + h)} in total.",
            ]
        ),
        rng.choice(
            [
                f"The diagonal squared would be {w * w + h * h}.",
                f"Doubling both sides gives area {4 * w * h}, four times as much.",
            ]
        ),
    ]


def _gcd(rng: random.Random) -> list[str]:
    g = rng.randint(2, 19)
    a, b = g * rng.randint(5, 60), g * rng.randint(2, 40)
    a, b = max(a, b), min(a, b)
    steps = [rng.choice([f"Running Euclid on {a} and {b}:", f"For gcd({a}, {b}) I divide:"])]
    while b:
        steps.append(f"{a} = {a // b} × {b} + {a % b}.")
        a, b = b, a % b
    steps.append(
        rng.choice(
            [f"So the gcd is {a}.", f"The last nonzero remainder, {a}, is the gcd.", f"gcd = {a}."]
        )
    )
    return steps


def _prime(rng: random.Random) -> list[str]:
    n = rng.randint(40, 400) | 1
    divisor = next((d for d in range(3, int(n**0.5) + 1, 2) if n % d == 0), None)
    tried = [
        d for d in (3, 5, 7, 11, 13, 17, 19) if d * d <= n and (divisor is None or d < divisor)
    ]
    lines = [rng.choice([f"Is {n} prime?", f"Checking whether {n} is prime."])]
    if tried:
        lines.append(f"It is not divisible by {', '.join(map(str, tried))}.")
    if divisor is None:
        lines.append(f"No odd divisor up to {int(n**0.5)}, so {n} is prime.")
    else:
        lines.append(f"But {n} = {divisor} × {n // divisor}, so it is composite.")
    return lines


def _fractions(rng: random.Random) -> list[str]:
    b, d = rng.randint(2, 12), rng.randint(2, 12)
    a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
    top, bottom = a * d + c * b, b * d
    return [
        rng.choice([f"Adding {a}/{b} and {c}/{d}.", f"What about {a}/{b} + {c}/{d}?"]),
        f"Over {bottom} that is {a * d}/{bottom} + {c * b}/{bottom} = {top}/{bottom}.",
        rng.choice(
            [f"As a decimal about {top / bottom:.3f}.", f"Which is roughly {top / bottom:.2f}."]
        ),
    ]


def _dice(rng: random.Random) -> list[str]:
    total = rng.randint(3, 11)
    ways = 6 - abs(total - 7)
    return [
        rng.choice(
            [f"With two dice, a sum of {total}.", f"The chance that two dice show {total}?"]
        ),
        f"There are {ways} ways out of 36, so {ways}/36.",
        rng.choice([f"About {ways / 36:.3f}.", f"That is {100 * ways / 36:.1f} percent."]),
    ]


def _quadratic(rng: random.Random) -> list[str]:
    p, q = rng.randint(-12, 12), rng.randint(1, 15)
    s, m = p + q, p * q
    equation = "x²" + _term(-s, "x") + _term(m, "")
    return [
        rng.choice([f"Solve {equation} = 0.", f"Take the quadratic {equation}."]),
        f"Two numbers with sum {s} and product {m}: {p} and {q}.",
        rng.choice(
            [
                f"So x = {p} or x = {q}.",
                f"Plugging in {q}: {q * q}{_term(-s * q, '')}{_term(m, '')} = 0.",
            ]
        ),
    ]


def _minutes(rng: random.Random) -> list[str]:
    minutes = rng.randint(61, 990)
    return [
        rng.choice([f"Converting {minutes} minutes:", f"How many hours is {minutes} minutes?"]),
        f"That is {minutes // 60} h {minutes % 60} min, or {minutes / 60:.2f} hours.",
    ]


def _term(coefficient: int, variable: str) -> str:
    """A signed polynomial term as written by hand: ` - 3x`, ` + x`, nothing for zero."""
    if coefficient == 0:
        return ""
    size = abs(coefficient)
    shown = variable if size == 1 and variable else f"{size}{variable}"
    return f" {'-' if coefficient < 0 else '+'} {shown}"


_TOPICS: list[_Topic] = [
    _product, _series, _percent, _travel, _rectangle, _gcd, _prime, _fractions, _dice,
    _quadratic, _minutes,
]  # fmt: skip


def _opened(opener: str, sentence: str) -> str:
    """The sentence after a stock opener, its first letter lowered unless the opener is a
    sentence of its own."""
    if opener[-1] not in ".?" and sentence[:1].isupper() and not sentence.startswith("I "):
        sentence = sentence[0].lower() + sentence[1:]
    return f"{opener} {sentence}"


def _fresh(words: list[str], seen: set[tuple[str, ...]], new: list[str]) -> bool:
    """Whether appending `new` keeps every run of `_WINDOW` words unique."""
    joined = words[-(_WINDOW - 1) :] + new
    runs = [tuple(joined[i : i + _WINDOW]) for i in range(len(joined) - _WINDOW + 1)]
    return len(set(runs)) == len(runs) and not seen.intersection(runs)


def _accept(words: list[str], seen: set[tuple[str, ...]], new: list[str]) -> None:
    start = len(words)
    words.extend(new)
    for end in range(max(start, _WINDOW - 1), len(words)):
        seen.add(tuple(words[end - _WINDOW + 1 : end + 1]))


def long_reasoning(tokens: int, seed: int = 0) -> str:
    """Realistic QwQ-style reasoning of exactly `tokens` tokens as the test server counts them.

    Paragraphs of working (products, sums, percentages, primes, Euclid's algorithm, …) with
    numbers drawn from `random.Random(seed)`, so the same seed always gives the same text.
    Stock phrases ("Wait,", "Let me check.") only open sentences, and no run of 10 words
    appears twice, so a repetition detector has nothing to find. The text ends wherever the
    count is reached, possibly mid-sentence, as a budget would cut it. `tokens=0` gives "".
    """
    if tokens < 0:
        raise ValueError("tokens must not be negative")
    rng = random.Random(seed)
    words: list[str] = []
    seen: set[tuple[str, ...]] = set()
    paragraphs: set[int] = set()  # indices of words that open a paragraph
    _accept(words, seen, _FIRST.split())
    while len(words) < tokens:
        paragraphs.add(len(words))
        _accept(words, seen, _paragraph(rng, words, seen))
    spaced = [("\n\n" if i in paragraphs else " ") + word for i, word in enumerate(words)]
    return "".join([*words[:1], *spaced[1:tokens]]) if tokens else ""


def _paragraph(rng: random.Random, words: list[str], seen: set[tuple[str, ...]]) -> list[str]:
    """The words of one paragraph on a random topic, redrawn until it repeats no run of words
    (which takes more than one draw very rarely)."""
    new: list[str] = []
    for _ in range(_RETRIES):
        sentences = rng.choice(_TOPICS)(rng)
        if rng.random() < 0.7:
            sentences[0] = _opened(rng.choice(_OPENERS), sentences[0])
        new = " ".join(sentences).split()
        if _fresh(words, seen, new):
            break
    return new


def looping_reasoning(prefix_tokens: int, passage: str, copies: int, seed: int = 0) -> str:
    """Healthy reasoning of `prefix_tokens` tokens, then `passage` repeated `copies` times.

    Each copy is `loop_copy(passage)` (set off by a space unless it starts with whitespace,
    trailing whitespace dropped), so the text holds exactly `prefix_tokens + copies * n`
    tokens, n being the copy's own count, and equals what `Reply(reasoning=long_reasoning(
    prefix_tokens, seed), loop_passage=passage)` streams before its (copies+1)-th copy.
    """
    if copies < 0:
        raise ValueError("copies must not be negative")
    if not passage.strip():
        raise ValueError("passage must contain some text")
    return long_reasoning(prefix_tokens, seed) + loop_copy(passage) * copies
