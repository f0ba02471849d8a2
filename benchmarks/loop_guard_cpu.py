"""CPU time per token of the loop guard, next to the client's, and how soon it finds loops.

The guard (`RepetitionGuard`) reads every reasoning token the client streams, so its cost is
held against the client's own: at most 5% of it. The client spends 9.72 µs of CPU per
streamed token on the reference machine (docs/BENCHMARKS.md, `benchmarks/client_cpu.py`, best
round); `--client-us` takes another figure, `--measure-client` runs client_cpu.py here.

A 20,000-token healthy trace (tests/reasoning_corpus.py) is fed the two ways the caller will:
one token per feed, and about 8 tokens per feed (one network read's worth). CPU time is
`time.process_time()`, best of `--rounds`; the guard's share is the loop with `feed` less the
same loop doing nothing, so the call itself is counted.

Then loops of 10, 30, 100 and 300 tokens, exact and with an edit about every 20 tokens, after
a healthy prefix: how many tokens after the third copy began (and ended) each was found. Where
the guard fires does not depend on PYTHONHASHSEED (its shingle hash is unsalted): this table
is the same on every run; only the CPU times vary.

    python benchmarks/loop_guard_cpu.py [--rounds 5] [--client-us 9.72] [--measure-client]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from reasoning_corpus import batches, healthy_trace, looping_trace, tokens  # noqa: E402

from qwq_jupyter.client.repetition import RepetitionGuard  # noqa: E402

CLIENT_US = 9.72  # docs/BENCHMARKS.md: client_cpu.py, our client's best round
BUDGET = 0.05  # of the client's CPU per token


def cpu(feeds: list[tuple[str, int]], make: Callable[[], Callable[[str, int], object]]) -> float:
    """Seconds of CPU for one pass of `feeds` through a fresh feed function."""
    feed = make()
    start = time.process_time()
    for text, count in feeds:
        feed(text, count)
    return time.process_time() - start


def idle(text: str, count: int) -> None:
    """The loop's own cost: a call that does nothing."""


def measure_client() -> float:
    """Our client's CPU per token, from benchmarks/client_cpu.py (best round)."""
    out = subprocess.run(
        [sys.executable, str(HERE / "client_cpu.py"), "--rounds", "3"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"min:.*qwq_jupyter\s+([\d.]+) us", out)
    if found is None:
        raise SystemExit(f"could not read client_cpu.py's output:\n{out}")
    return float(found.group(1))


def cost(rounds: int, client_us: float) -> None:
    pieces = tokens(healthy_trace(8, 20_000))[:20_000]
    print(f"healthy trace: {len(pieces):,} tokens, {len(''.join(pieces)):,} characters")
    for label, size in (("1 token per feed", 1), ("8 tokens per feed", 8)):
        feeds = batches(pieces, size)
        bare = min(cpu(feeds, lambda: idle) for _ in range(rounds))
        guarded = min(cpu(feeds, lambda: RepetitionGuard().feed) for _ in range(rounds))
        us = 1e6 * (guarded - bare) / len(pieces)
        print(
            f"{label:>18}: {us:.3f} µs CPU per token (loop alone {1e6 * bare / len(pieces):.3f})"
            f" = {100 * us / client_us:.1f}% of the client's {client_us:.2f} µs"
            f"  (budget {100 * BUDGET:.0f}%: {BUDGET * client_us:.2f} µs)"
        )


def latency(seeds: int) -> None:
    print("\ntokens from the start (end) of the third copy to the find; median, max over")
    print(f"{seeds} passages x 3 prefixes x feeds of 1 and 8 tokens")
    for period in (10, 30, 100, 300):
        for edit_every, label in ((0, "exact"), (20, "edited")):
            after_start = []
            for seed in range(seeds):
                for prefix in (0, 500, 3000):
                    copies = 3 + -(-120 // period)
                    trace = looping_trace(prefix, period, copies, edit_every, seed)
                    for size in (1, 8):
                        guard = RepetitionGuard()
                        for text, count in batches(trace.pieces, size):
                            loop = guard.feed(text, count)
                            if loop is not None:
                                after_start.append(loop.found_at - trace.start - 2 * period)
                                break
                        else:
                            raise SystemExit(f"missed: period {period}, seed {seed}")
            median, worst = statistics.median(after_start), max(after_start)
            print(
                f"  period {period:>3} {label:>6}: {median:5.0f} ({median - period:4.0f}),"
                f" max {worst:4d} ({worst - period:4d})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--client-us", type=float, default=CLIENT_US)
    parser.add_argument("--measure-client", action="store_true")
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    client_us = measure_client() if args.measure_client else args.client_us
    source = "measured now" if args.measure_client else "docs/BENCHMARKS.md"
    print(f"client CPU per token: {client_us:.2f} µs ({source})")
    cost(args.rounds, client_us)
    latency(args.seeds)


if __name__ == "__main__":
    main()
