"""The loop guard's detector: it finds loops within three copies and never healthy reasoning.

Loops come from `reasoning_corpus.looping_trace`: a healthy prefix, then one passage over and
over, exact or with an edit (a number changed, a word swapped) about every 20 tokens. A token
is one `\\s*\\S+` piece, so the tests can say exactly where the loop starts and how long a copy
is, and hold the guard's `Loop` to it.

The guard samples shingles by a hash that is the same in every process (Python salts `hash()`
of a str per process, not of ints): where a loop is found, and the `Loop`, depend on the text
alone, whatever PYTHONHASHSEED says, so a recorded steering replays in another kernel. The last
test runs the guard under several seeds and compares.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from reasoning_corpus import HEALTHY, LoopingTrace, batches, healthy_trace, looping_trace, tokens

from qwq_jupyter.client.repetition import RepetitionGuard, _codes
from qwq_jupyter.core.events import Loop

PERIODS = [10, 15, 20, 30, 50, 100, 200, 300]
#: Tokens between two reads of the buffered text (the guard's `_CHUNK_TOKENS`).
READ = 48
#: An edit at the very end of the third copy delays the evidence by a few words.
EDGE = 8


def feed(pieces: list[str], batch: int = 1, **options: int) -> tuple[Loop | None, int]:
    """Feed `batch` tokens at a time; the loop and the token count of the feed that found it."""
    guard = RepetitionGuard(**options)
    for text, count in batches(pieces, batch):
        loop = guard.feed(text, count)
        if loop is not None:
            assert guard.found is loop
            return loop, count
    assert guard.found is None
    return None, len(pieces)


def trace_for(prefix: int, period: int, edit_every: int, seed: int) -> LoopingTrace:
    """Enough copies to be found: three, the reads' slack, and a margin."""
    copies = 3 + -(-(READ + 64) // period)
    return looping_trace(prefix, period, copies, edit_every, seed)


def assert_found_right(loop: Loop | None, trace: LoopingTrace, batch: int) -> None:
    period = trace.period
    assert loop is not None, "the loop was not found"
    # When: no later than one read (plus the rest of the feed that crossed it) after the third
    # copy ends, and not before the third copy is mostly there (3 - 1/4 copies).
    third_ends = trace.start + 3 * period
    assert loop.found_at <= third_ends + READ + batch - 1 + EDGE, loop
    assert loop.found_at >= trace.start + 2.75 * period, loop
    # Where and how long: the start within a fifth of a period (or five tokens early: the text
    # before a loop may match its end by chance), the period within 20%.
    late, early = max(2, period // 5), max(5, period // 5)
    assert -early <= loop.start - trace.start <= late, (loop, trace.start)
    assert abs(loop.period - period) <= 0.2 * period, loop
    assert 2.75 <= loop.repeats <= (loop.found_at - trace.start) / period + 0.5, loop
    # start_char: the forced answer gets text[:start_char], so never into the second copy, and
    # where `start` says, give or take the spaces before the word.
    assert loop.start_char < trace.second_char, (loop, trace.second_char)
    before = len("".join(trace.pieces[max(0, trace.start - early) : trace.start]))
    after = len("".join(trace.pieces[trace.start : trace.start + late]))
    assert trace.start_char - before <= loop.start_char <= trace.start_char + after, loop
    assert loop.action == ""


@pytest.mark.parametrize("batch", [1, 8], ids=["token", "batch8"])
@pytest.mark.parametrize("prefix", [0, 300, 2000])
@pytest.mark.parametrize("edit_every", [0, 20], ids=["exact", "edited"])
@pytest.mark.parametrize("period", PERIODS)
def test_a_loop_is_found_within_three_copies(
    period: int, edit_every: int, prefix: int, batch: int
) -> None:
    trace = trace_for(prefix, period, edit_every, seed=period * 7 + prefix + edit_every)
    loop, fed = feed(trace.pieces, batch)
    assert_found_right(loop, trace, batch)
    assert loop is not None and loop.found_at == fed  # the count of the feed that found it


@pytest.mark.parametrize("period", [10, 12, 15, 20])
def test_short_loops_are_found_whatever_their_passage(period: int) -> None:
    """Short periods are where sampling could miss: twelve different passages each."""
    for seed in range(12):
        trace = trace_for(500, period, 20, seed=1000 + seed)
        loop, _ = feed(trace.pieces, 8)
        assert_found_right(loop, trace, 8)


def _unsampled_passage(period: int) -> list[str]:
    """Words whose 3-word shingles, in a loop, all escape the guard's 1-in-8 sample."""
    rng = random.Random(period)
    vocabulary = ["the", "so", "we", "then", "check", "sum", "term", "value", "next", "again"]
    while True:
        words = [rng.choice(vocabulary) + str(rng.randrange(100)) for _ in range(period)]
        codes = _codes(words * 3)
        shingles = zip(codes, codes[1:], codes[2:], strict=False)
        if all(hash(shingle) & 7 for shingle in shingles):
            return [" " + word for word in words]


@pytest.mark.parametrize("period", [10, 14, 20])
def test_a_short_loop_none_of_whose_shingles_is_sampled_is_found(period: int) -> None:
    """The dense blocks, not the sample, find it: built to dodge the guard's sampling."""
    prefix = tokens(healthy_trace(3, 3000))[:400]
    pieces = prefix + _unsampled_passage(period) * (3 + (READ + 64) // period)
    loop, _ = feed(pieces, 1)
    assert loop is not None and loop.period == period
    assert loop.start == 400 and loop.start_char == len("".join(prefix))


@pytest.mark.parametrize("period", [10, 30, 100])
@pytest.mark.parametrize("edit_every", [0, 20], ids=["exact", "edited"])
def test_a_loop_in_chinese_is_found(period: int, edit_every: int) -> None:
    """Chinese has no spaces: each CJK character is a word (and a token, here)."""
    copies = 3 + -(-(READ + 64) // period)
    trace = looping_trace(300, period, copies, edit_every, seed=period, chinese=True)
    assert re.fullmatch(r"[\u3000-\u9fff\uff00-\uffef\d]+", "".join(trace.pieces[300:310]))
    loop, _ = feed(trace.pieces, 4)
    assert_found_right(loop, trace, 4)


@pytest.mark.parametrize(("seed", "length"), HEALTHY)
@pytest.mark.parametrize("batch", [1, 8, 10**9], ids=["token", "batch8", "whole"])
def test_healthy_reasoning_is_never_a_loop(seed: int, length: int, batch: int) -> None:
    pieces = tokens(healthy_trace(seed, length))
    loop, _ = feed(pieces, batch)
    assert loop is None, (loop, "".join(pieces[loop.start : loop.start + 3 * loop.period]))


def test_the_healthy_corpus_is_long_varied_and_full_of_stock_phrases() -> None:
    """What the zero-false-positive test is worth rests on the corpus: hold it to the brief."""
    sizes = sorted(len(tokens(healthy_trace(seed, length))) for seed, length in HEALTHY)
    assert len(sizes) >= 8 and sum(size >= 5_000 for size in sizes) >= 4
    assert 19_000 <= sizes[-1] <= 21_000
    longest = healthy_trace(*HEALTHY[-1])
    for phrase in ("Wait,", "Let me check", "Hmm, but", "So the answer is", "Alternatively,"):
        assert longest.count(phrase) >= 10, phrase
    assert re.search(r"(\d+) × 1 = \1, \1 × 2 = \d+, \1 × 3 = ", longest)  # tables of numbers
    assert re.search(r"Try x = \d+: .{5,40}\. .{0,20}x = \d+", longest)  # trial and error
    assert "```python\ndef " in longest and "\n1. " in longest  # code, lists
    assert len(re.findall(r"[\u4e00-\u9fff]", longest)) >= 40  # a passage in Chinese
    for seed, length in HEALTHY:  # varied: nearly every paragraph of substance comes once
        paragraphs = [p for p in healthy_trace(seed, length).split("\n\n") if len(p) > 80]
        assert len(set(paragraphs)) >= 0.9 * len(paragraphs)  # (a code block may come back)


@pytest.mark.parametrize(
    "row",
    [
        "{a} × {k} = {ak},",
        "Try x = {k}: {k}² + {a}·{k} = {v}, no.",
        "For n = {k}, the sum of the first n odd numbers is {kk}, a perfect square.",
        "Case {k}: seats {k}–{k1}, again {a}.",
        "x = {k} gives {v}, not {a}.",
    ],
)
def test_enumerations_whose_numbers_change_are_not_loops(row: str) -> None:
    """The same sentence with new numbers, row after row: what a number-blind guard flags."""
    rows = [
        " " + row.format(a=17, k=k, ak=17 * k, v=k * k + 17 * k, kk=k * k, k1=k + 1)
        for k in range(1, 121)
    ]
    pieces = tokens(healthy_trace(2, 1500)) + tokens(" ".join(rows))
    for batch in (1, 8):
        loop, _ = feed(pieces, batch)
        assert loop is None, loop


def test_the_same_rows_three_times_over_are_a_loop() -> None:
    """The enumeration above, with its numbers repeated too, is a loop: the control."""
    rows = " ".join(f"x = {k} gives {k * k + 17 * k}, not 120." for k in range(1, 9))
    prefix = tokens(healthy_trace(2, 1500))
    pieces = prefix + tokens(" " + rows) * 6
    loop, _ = feed(pieces, 8)
    assert loop is not None and loop.start == len(prefix)
    assert abs(loop.period - len(tokens(" " + rows))) <= 1


def test_after_a_find_feeds_return_none_and_found_keeps_it() -> None:
    trace = trace_for(300, 30, 0, seed=1)
    guard = RepetitionGuard()
    finds = [guard.feed(text, count) for text, count in batches(trace.pieces, 1)]
    found = [loop for loop in finds if loop is not None]
    assert len(found) == 1 and guard.found is found[0]
    more = [guard.feed(" more text", len(trace.pieces) + i) for i in range(1, 5000)]
    assert more == [None] * 4999 and guard.found is found[0]


def test_repeats_min_and_max_period_are_honoured() -> None:
    trace = trace_for(300, 30, 0, seed=2)
    loop, _ = feed(trace.pieces, 1, repeats=4)
    assert loop is not None and loop.found_at >= trace.start + 3.75 * 30
    assert loop.repeats >= 3.75
    assert feed(trace.pieces, 1, min_period=40)[0] is None  # shorter than the guard looks for
    assert feed(trace.pieces, 1, max_period=25)[0] is None  # longer
    eight = trace_for(300, 8, 0, seed=3)
    assert feed(eight.pieces, 1)[0] is None  # below the default min_period of 10
    assert feed(eight.pieces, 1, min_period=5)[0] is not None


def test_odd_input_is_taken_in_stride() -> None:
    guard = RepetitionGuard()
    odd = ["", " ", "\n\n", "\t", "🙂", " é\u0301", "\u200b", "\x00", "\ud800", " \U0001f9e0"]
    rng = random.Random(5)
    count = 0
    for n in range(4000):  # odd pieces in no order, and numbered ones: nothing periodic
        count += 1
        piece = rng.choice(odd) if n % 3 else f" {rng.choice(odd)}{n}"
        assert guard.feed(piece, count) is None
    assert guard.feed("x" * 1_000_000, count + 250_000) is None  # no spaces: one word
    assert guard.feed("ab" * 500_000, count + 500_000) is None
    assert RepetitionGuard().feed("", 0) is None
    assert RepetitionGuard().feed("   ", 10**6) is None


def test_a_huge_single_feed_is_read_whole_and_its_loop_placed_exactly() -> None:
    trace = trace_for(20_000, 100, 20, seed=4)
    pieces = trace.pieces + tokens(healthy_trace(9, 12_000))  # the loop mid-feed
    text = "".join(pieces)
    assert len(text) > 120_000
    loop = RepetitionGuard().feed(text, len(pieces))
    assert loop is not None and loop.start_char == trace.start_char
    # Tokens inside one feed are placed at its average tokens per word: close, not exact.
    assert abs(loop.start - trace.start) <= 3 and abs(loop.period - 100) <= 2
    assert trace.start + 275 <= loop.found_at <= len(trace.pieces) + 10  # where it was
    healthy = "".join(tokens(healthy_trace(8, 20_000)))
    megabyte = healthy + "".join(
        " " + " ".join(f"w{i}x{j}" for j in range(12)) + "." for i in range(12_000)
    )
    assert len(megabyte) >= 1_000_000
    assert RepetitionGuard().feed(megabyte, len(megabyte) // 4) is None


def test_memory_stays_bounded_over_200k_tokens() -> None:
    """The guard keeps a window, not the reasoning: its structures stop growing."""
    guard = RepetitionGuard()
    pieces = [f" w{i % 97}{i}" for i in range(200_000)]  # every word new: the most to keep
    sizes = []
    tracemalloc.start()
    try:
        for count, (text, total) in enumerate(batches(pieces, 8), 1):
            guard.feed(text, total)
            if count % 5_000 == 0:
                sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert guard.found is None
    assert max(sizes[1:]) < 1.3 * sizes[1], sizes  # flat after the window fills
    window = 2 * 1_200  # two generations of words (3 * max_period, at least 1,024)
    assert len(guard._cur) + len(guard._old) <= window + 64
    assert sum(len(record[5]) for record in guard._records) <= 2 * window + 64
    assert len(guard._runs) <= 64 + 64 and len(guard._pending) <= 8


#: Run in a fresh process: feeds looping and healthy traces in several shapes, prints one JSON
#: line per trace (the feed index at which the guard fired and its `Loop`), then `hash` of a str.
#: The loops after the grid are ones where sampling by a salted `hash` found them a read apart
#: (at another token, with other `repeats`) under PYTHONHASHSEED 0 and 1.
_SCRIPT = """
import hashlib, json, random, sys
sys.path.insert(0, sys.argv[1])
from reasoning_corpus import batches, healthy_trace, looping_trace, tokens
from qwq_jupyter.client.repetition import RepetitionGuard

def run(label, pieces, shape):
    if shape == "ragged":  # feeds of 1 to 12 tokens, the same ones in every process
        rng, ends = random.Random(len(pieces)), [0]
        while ends[-1] < len(pieces):
            ends.append(min(len(pieces), ends[-1] + rng.randint(1, 12)))
        feeds = [("".join(pieces[a:b]), b) for a, b in zip(ends, ends[1:])]
    else:
        feeds = batches(pieces, shape)
    guard, fired = RepetitionGuard(), None
    for index, (text, count) in enumerate(feeds):
        if guard.feed(text, count) is not None:
            fired = index
            break
    found = guard.found
    digest = hashlib.sha256("".join(pieces).encode()).hexdigest()[:12]
    print(json.dumps([label, shape, digest, fired, found and found.to_dict()]))

def loop(prefix, period, edit_every, seed):
    return looping_trace(prefix, period, 3 + -(-112 // period), edit_every, seed).pieces

for period in (10, 17, 30, 100, 300):
    for edit_every in (0, 20, 12):
        for shape in (1, 8, "ragged"):
            run(f"loop {period}/{edit_every}", loop(700, period, edit_every, period), shape)
for prefix, period, edit_every, seed, shape in (
    (2000, 103, 12, 124, 3), (2000, 291, 20, 169, 1), (300, 284, 20, 233, 8),
    (0, 289, 12, 257, 3), (0, 226, 10, 283, 8), (0, 275, 12, 362, 1), (300, 100, 12, 415, 8),
    (0, 104, 0, 917, 8), (0, 156, 0, 1148, 8), (0, 154, 10, 1471, 1), (0, 202, 10, 1472, 1),
):
    run(f"loop {period}/{edit_every} (salt-borne)", loop(prefix, period, edit_every, seed), shape)
run("chinese", looping_trace(300, 30, 7, 20, seed=3, chinese=True).pieces, 4)
for seed, length in ((3, 3000), (5, 6000)):
    for shape in (1, 8, "ragged"):
        run(f"healthy {seed}", tokens(healthy_trace(seed, length)), shape)
run("one huge feed", looping_trace(20_000, 100, 6, 20, seed=4).pieces, 10**9)
print(json.dumps(hash("a str's hash is salted")))
"""


def test_the_same_text_gives_the_same_find_in_every_process() -> None:
    """Record and replay run in different kernels: under any PYTHONHASHSEED the guard fires at
    the same feed with the same `Loop`, or not at all, given the same feeds."""
    here = Path(__file__).resolve().parent
    seeds = ["0", "1", "12345", "random"]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(here)],
            cwd=here.parent,
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in seeds
    ]
    outputs = [run.communicate(timeout=60)[0].splitlines() for run in runs]
    assert [run.returncode for run in runs] == [0] * len(seeds)
    assert len({output.pop() for output in outputs}) > 1  # the salts did differ
    first = outputs[0]
    assert len(first) == 5 * 3 * 3 + 11 + 1 + 2 * 3 + 1
    for seed, output in zip(seeds[1:], outputs[1:], strict=True):
        assert output == first, seed
    results = [json.loads(line) for line in first]
    assert all(result[3] is None for result in results if result[0].startswith("healthy"))
    assert all(result[3] is not None for result in results if "healthy" not in result[0])
