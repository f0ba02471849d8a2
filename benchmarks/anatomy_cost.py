"""Milliseconds for the anatomy of a 24,000-token reasoning, and for a diverge of two of them.

The goal is 50 ms or less for the anatomy of a 24,000-token trace (best of `--rounds`), so
`Response.anatomy()` and `%qwq anatomy` can run on demand without a pause. The trace is a
healthy QwQ-style monologue from tests/reasoning_corpus.py (arithmetic checked two ways,
doubts, recaps, code traced by hand, a passage in Chinese), cut to 24,000 pieces; its answer is
a number that first appears near the start, so the whole trace is searched for statements.

The diverge takes two such traces that share their first 12,000 tokens and then go different
ways (the worst case for the alignment: long shared prefix, long unrelated tails), then two
identical ones, then two unrelated ones. Times are wall clock, `time.perf_counter()`.

    python benchmarks/anatomy_cost.py [--rounds 5] [--tokens 24000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from reasoning_corpus import healthy_trace, tokens  # noqa: E402

from qwq_jupyter.core.anatomy import Anatomy, anatomy  # noqa: E402
from qwq_jupyter.core.diverge import diverge  # noqa: E402

GOAL_MS = 50.0


def trace(seed: int, size: int) -> str:
    """A healthy trace of exactly `size` pieces."""
    return "".join(tokens(healthy_trace(seed, size + 200))[:size])


def best(rounds: int, run: Callable[[], object]) -> float:
    """The best of `rounds` runs, in milliseconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=24_000)
    args = parser.parse_args()
    size = args.tokens

    text = trace(8, size)
    answer = "So the final answer is **240**."
    found = anatomy(text, answer)
    ms = best(args.rounds, lambda: anatomy(text, answer))
    verdict = "ok" if ms <= GOAL_MS else "OVER THE GOAL"
    print(
        f"anatomy of {found.tokens:,} tokens ({len(text):,} characters, {len(found.steps):,} steps)"
    )
    print(f"  {ms:.1f} ms, best of {args.rounds} (goal ≤ {GOAL_MS:.0f} ms: {verdict})")
    print(f"  {found.summary()}")
    print(f"  {found.counts()}")
    word = anatomy(text, "**Yes.**")  # a word answer: every mention is read in its sentence
    ms_word = best(args.rounds, lambda: anatomy(text, "**Yes.**"))
    print(f"  with a word for an answer: {ms_word:.1f} ms ({word.summary().split(' · ')[0]})")
    scaled = best(args.rounds, lambda: anatomy(text, answer, tokens=size + 1234))
    print(f"  scaled to the server's token count: {scaled:.1f} ms")

    half = tokens(text)[: size // 2]
    other = "".join(half) + "\n\n" + trace(9, size - len(half))
    a, b = found, anatomy(other, answer)
    pairs: list[tuple[str, Anatomy, Anatomy]] = [
        ("sharing the first half", a, b),
        ("identical", a, anatomy(text, answer)),
        ("unrelated", a, anatomy(trace(10, size), answer)),
    ]
    for name, x, y in pairs:
        result = diverge(x, y)
        ms = best(args.rounds, partial(diverge, x, y))
        print(f"diverge of two {x.tokens:,}/{y.tokens:,}-token traces, {name}: {ms:.1f} ms")
        print(f"  shared {result.shared} steps, similarity {result.similarity:.2f}")


if __name__ == "__main__":
    main()
