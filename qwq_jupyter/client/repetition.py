"""The loop guard's detector: it notices, as the reasoning streams, that QwQ repeats itself.

A loop is periodic text: each word equals the word one period back, bar a few edits (a number
changed, a word swapped), for `repeats` copies (3). The guard works in words (split on spaces,
each CJK character a word, as Chinese has no spaces) and tells periods in the caller's tokens.

Cost shapes the design: 5% of the client's CPU is under 0.5 µs per token, so no Python code
runs per word. `feed` only buffers; every `_CHUNK_TOKENS` (48) tokens the buffer is read at once,
with C-level work per word (`str.split`, `crc32`, `map(hash, zip(...))` into 3-word shingles,
a `set`, a comprehension). Python runs per *sample*:

1. Sampling. Shingles whose hash is 0 mod 8 are looked up in a dict (shingle -> where it last
   began). That depends on their words only, so every copy of a passage has the same ones
   sampled (as in winnowing): in a loop they all come back one period later. Nor does it
   depend on the process: `hash` of a str is salted (PYTHONHASHSEED), of ints not, so it is that
   of the words' CRC-32s: a steering replayed in another kernel cuts where it was recorded.
2. Dense blocks. A 10-token period holds 10 shingles, none sampled a quarter of the time. But
   a block inside a short loop holds the same shingles over and over: when 6 or more repeat
   inside a block, all its shingles are looked up (and the block before kept). Loops of up
   to ~40 words do; healthy text seldom does (tables differ in their numbers).
3. Runs. A shingle back after `lag` words supports the run of that lag, and the run of half
   the lag (the copy between was edited there). After each read, a run with 2 hits or more
   is nominated if its hits span two copies and the words read the copies needed (give or
   take `_AHEAD` words: samples are sparse), and a quarter of the sampled shingles between
   its first and last hits repeat at its period. A no waits for new evidence.
4. The exact check, on the kept words: walking back from the last word read (or the run's
   last repeat) while half of the last 8 words equal the word a period (or two) back finds
   the stretch; it must hold 2.75 copies (`repeats` - 0.25: a quarter copy for an edit at
   either end), and 60% of its 4-word shingles must equal the one a period back (or two,
   for no more of them than one). The period may then shrink to a half or a third that 75%
   of the words repeat at.

Why these numbers. 60% of 4-word shingles: an edit spoils the 4 shingles holding it, so a
loop with one edit per 20 words scores about 80% (the tests' loops: 77% at the lowest), but
enumerations ("17 × 1 = 17, 17 × 2 = 34", "try x = 3: … no.") change a number every few
words and score far less (the most periodic healthy stretch in 1.2M tokens of the corpus, a
running maximum traced step by step, 52%). Numbers are not folded: exact matching is what
tells the two apart. Half of 8 words: in a loop nearly all words match, in other text a few
in a hundred do by chance ("=", "the"); a stretch must begin with 3 matches out of 4 words.
One shingle in 8: less Python per word, and dense blocks cover the short loops.

When. Within one read (48 tokens, plus the rest of the feed that crossed it) after the third
copy ends, plus a few words if an edit sits at its very end; a huge feed is read in pieces of
8 KB. Memory is bounded: dicts and kept words cover two generations of `3 * max_period` words.

Limits. Text without spaces other than CJK (digits, base64) is one word: its repeats go
unseen. A word added or dropped in each copy shifts the period and defeats the exact check.
Edits denser than one per ~10 words look like an enumeration and may never fire. Text before
a loop that matches its end by chance ("primes up to") moves the start a few words early.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from itertools import chain
from operator import eq, gt

from ..core.events import Loop
from ..core.public import publish

__all__ = ["RepetitionGuard"]

_K = 3  # words per shingle
_MASK = 7  # a shingle is sampled when its hash & _MASK == 0: one in eight
_CHUNK_TOKENS = 48  # tokens between two looks at the buffered text
_BLOCK = 64  # shingles weighed at once; a huge feed is read in blocks of this many
_MAX_CARRY = 64  # a last word longer than this is read at once, not held for its end
_DENSE = 6  # shingles repeated inside a block that make it dense
_AHEAD = 4 * (_MASK + 1)  # words the sampled evidence may lag behind the exact one, both ends
_QUIET = 8 * (_MASK + 1)  # words (plus half a period) without a repeat that end a run
_SAMPLED = 0.25  # share of sampled shingles repeating at the period, to nominate
_DENSITY = 0.6  # share of all shingles repeating a period (or two) back, to fire
_CHECK_K = 4  # words per shingle in the exact check
_WORD_SHARE = 0.75  # share of words repeating at a half or a third of the period, to prefer it
_ALLOWANCE = 0.25  # of a copy: fire at 2¾ copies when asked for 3
_PIECE = 8192  # characters read at once, at most (about): a huge feed is read in pieces
_PENDING = 4096  # pieces held between two looks, at most (only if `tokens` stops growing)

_CJK_CLASS = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_CJK_WORDS = re.compile(f"[{_CJK_CLASS}]|[^\\s{_CJK_CLASS}]+")
_WORDS = re.compile(r"\S+")
_BREAK = re.compile(f"\\s+|(?=[{_CJK_CLASS}])")  # where a piece may end: between words


def _words(text: str) -> list[str]:
    """The words: whitespace-separated, and each CJK character a word of its own."""
    return text.split() if text.isascii() or not _CJK.search(text) else _CJK_WORDS.findall(text)


def _codes(words: list[str]) -> list[int]:
    """Each word's CRC-32: the same in every process, unlike `hash` of a str."""
    try:
        return list(map(zlib.crc32, map(str.encode, words)))
    except UnicodeEncodeError:  # a lone surrogate
        return [zlib.crc32(word.encode(errors="surrogatepass")) for word in words]


def _stretch(words: list[str], end: int, period: int) -> tuple[int, int] | None:
    """The repeating stretch ending by `end` (start, stop), found walking back word by word.

    A word "repeats" if it equals the word a period back, or two (past an edited copy). The
    stretch stops at 3 repeating words in a row (within `_AHEAD` of `end`); the walk goes on
    while half of the last 8 words repeat (edits don't stop it, other text does); it begins
    at the earliest word repeating a period back, as do the next and one of the two after.
    """
    lo = max(period, end - _AHEAD - 3)  # the stop: where 3 words in a row repeat (in C)
    same = map(eq, words[lo:end], words[lo - period : end - period])
    if lo >= 2 * period:
        same = map(max, same, map(eq, words[lo:end], words[lo - 2 * period : end - 2 * period]))
    if (found := bytes(same).rfind(b"\x01\x01\x01")) < 0:
        return None
    stop = lo + found + 3
    flags: list[int] = []  # per word, from the stop back: 0 no, 1 a period back, 2 two
    recent = 0
    for j in range(stop - 1, period - 1, -1):
        word = words[j]
        hit = 1 if word == words[j - period] else 0
        if not hit and j >= 2 * period and word == words[j - 2 * period]:
            hit = 2
        flags.append(hit)
        recent = (recent << 1 | (hit > 0)) & 0xFF
        if len(flags) >= 8 and recent.bit_count() < 4:
            break
    for k in range(len(flags) - 1, 2, -1):
        if flags[k] == 1 and flags[k - 1] and (flags[k - 2] or flags[k - 3]):
            return stop - 1 - k - period, stop
    return None


def _shortest(words: list[str], start: int, end: int, period: int) -> int:
    """The period, or a third or half of it if most words repeat at that (heavy edits)."""
    for parts in (3, 2):
        part = round(period / parts)
        lo = start + part
        if part >= 2 and end - lo > 2 * part:
            same = sum(map(eq, words[lo:end], words[lo - part : end - part]))
            if same >= _WORD_SHARE * (end - lo):
                return part
    return period


def _density(words: list[str], lo: int, end: int, period: int) -> float:
    """The share of shingles in words[lo:end] that stand a period back, or two (as many)."""

    def equal(lo: int, lag: int) -> bytes:  # per shingle of `_CHECK_K` words: `lag` back too?
        same = list(map(eq, words[lo:end], words[lo - lag : end - lag]))
        return bytes(map(min, same, same[1:], same[2:], same[3:]))

    if end - lo < _CHECK_K:
        return 0.0
    once = equal(lo, period)
    hits = once.count(1)
    twice = max(lo, 2 * period)
    if twice < end - _CHECK_K:
        hits += min(hits, sum(map(gt, equal(twice, 2 * period), once[twice - lo :])))
    return hits / len(once)


#: Per look: first word, its token position, tokens per word, first character, text, words.
_Record = tuple[int, float, float, int, str, list[str]]


class _Run:
    """Sampled evidence for a period (in words): `twin`, the earliest word shown to come back;
    `last`, the last shingle found repeating; `seen` and `upto`, sampled shingles looked at up
    to the first and the last; `support`, those between repeating a period back, `doubles`
    two (an edited copy between); `due`, the words to read before it is worth a new check."""

    __slots__ = ("doubles", "due", "last", "period", "seen", "support", "twin", "upto")

    def __init__(self, period: int, at: int, seen: int) -> None:
        self.period, self.due = period, 0
        self.restart(at, period, seen)

    def restart(self, at: int, lag: int, seen: int) -> None:
        self.twin, self.last, self.seen, self.upto = at - lag, at, seen, seen
        self.support = self.doubles = 0


class RepetitionGuard:
    """Watches streamed reasoning text and says when it starts repeating itself."""

    __slots__ = (
        "_before", "_carry", "_chars", "_copies", "_cur", "_due", "_found", "_generation",
        "_generation_size", "_halves", "_max_period", "_min_period", "_old", "_pending",
        "_records", "_runs", "_seen", "_tail", "_tokens", "_watch", "_words",
    )  # fmt: skip

    def __init__(self, *, min_period: int = 10, max_period: int = 400, repeats: int = 3) -> None:
        self._min_period = max(1, min_period)
        self._max_period = max(self._min_period, max_period)
        self._copies = max(2.0, repeats - _ALLOWANCE)
        self._pending: deque[str] = deque(maxlen=_PENDING)
        self._due = _CHUNK_TOKENS
        self._found: Loop | None = None
        self._carry = ""  # the last word read, held until the next look (it may go on)
        self._tail: list[int] = []  # the last words' codes, to make shingles across looks
        # Words, characters and sampled shingles read so far; the next word's token position.
        self._words, self._chars, self._seen, self._tokens = 0, 0, 0, 0.0
        self._records: deque[_Record] = deque()
        self._cur: dict[int, int] = {}  # sampled shingle -> the word where it last began
        self._old: dict[int, int] = {}  # the same, for the generation before
        self._generation, self._generation_size = 0, max(1024, 3 * self._max_period)
        self._runs: dict[int, _Run] = {}  # lag -> the run it supports
        self._halves: dict[int, _Run] = {}  # twice a run's period -> the run
        self._before: list[int] = []  # the shingles of the block before
        self._watch: dict[int, _Run] = {}  # period -> run with support; reviewed in this order

    @property
    def found(self) -> Loop | None:
        """The loop found, if any."""
        return self._found

    def feed(self, text: str, tokens: int) -> Loop | None:
        """Add reasoning text; `tokens` counts the reasoning tokens after it. Returns the loop
        the first time it is found, else None; the text waits for `_CHUNK_TOKENS` more tokens."""
        self._pending.append(text)
        return None if tokens < self._due else self._read(tokens)

    def _read(self, tokens: int) -> Loop | None:
        """Read what waited: a huge feed in pieces, so each look stays small."""
        text = "".join(self._pending)
        self._pending.clear()
        self._due = tokens + _CHUNK_TOKENS
        done = 0
        if len(text) > 2 * _PIECE:  # tokens per word: the same all through a huge feed
            rate = max(1e-6, (tokens - self._tokens) / (len(_words(text)) or 1))
            while len(text) - done > 2 * _PIECE and (cut := _BREAK.search(text, done + _PIECE)):
                if (loop := self._take(text[done : cut.end()], rate, 0)) is not None:
                    return loop
                done = cut.end()
        return self._take(text[done:] if done else text, 0.0, tokens)

    def _take(self, text: str, rate: float, tokens: int) -> Loop | None:
        """Look at the next piece of text: `rate` tokens per word, or `tokens` after it."""
        text = self._carry + text
        words = _words(text)
        carry = ""
        if words and not text[-1].isspace() and len(words[-1]) <= _MAX_CARRY:
            carry = words.pop()
            text = text[: len(text) - len(carry)]
        self._carry = carry
        first, count = self._words, len(words)
        if not count:  # only spaces: nothing to look at
            self._chars += len(text)
            self._tokens = tokens or self._tokens
            return None
        per_word = rate or max(0.0, tokens - self._tokens) / (count + (1 if carry else 0))
        records = self._records
        records.append((first, self._tokens, per_word, self._chars, text, words))
        while records[0][0] < first - 2 * self._generation_size:
            records.popleft()
        self._chars += len(text)
        self._words = first + count
        self._tokens += per_word * count
        w = self._tail + _codes(words)
        self._tail = w[1 - _K :]
        shingles = list(map(hash, zip(w, w[1:], w[2:], strict=False)))
        at = first + count - len(w)
        # Lags worth weighing, in words: the period bounds at this text's words per token.
        ratio = 1 / per_word if per_word > 0.1 else 10.0
        low = max(2, int(self._min_period * ratio * 0.8))
        high = min(self._generation_size, int(self._max_period * ratio * 1.25) + 2)
        for offset in range(0, len(shingles), _BLOCK):
            block = shingles if len(shingles) <= _BLOCK else shingles[offset : offset + _BLOCK]
            self._block(block, at + offset, low, high)
        if len(self._runs) > 64:
            self._forget(self._words)
        if (loop := self._review(tokens)) is not None:
            self._found, self._due = loop, 1 << 62  # what comes next is never read
        return loop

    def _block(self, shingles: list[int], at: int, low: int, high: int) -> None:
        """Look up the block's sampled shingles, or all if it repeats inside. `seen` counts
        sampled ones only: the others' earlier copies were kept in dense blocks only."""
        size, cur, old, seen, before = len(shingles), self._cur, self._old, self._seen, self._before
        if size - len(set(shingles)) >= _DENSE:  # dense: the block before too (a loop's start?)
            cur.update(zip(before, range(at - len(before), at), strict=False))
            looked = list(zip(range(at, at + size), shingles, strict=False))
        else:
            looked = [(at + i, h) for i, h in enumerate(shingles) if not h & _MASK]
        self._before = shingles
        top = 2 * high
        for position, shingle in looked:
            if not shingle & _MASK:
                seen += 1
            earlier = cur.get(shingle)
            cur[shingle] = position
            if earlier is None and (earlier := old.get(shingle)) is None:
                continue
            lag = position - earlier
            if low <= lag <= top:
                self._hit(lag, position, seen, high)
        self._seen = seen
        if (end := at + size) - self._generation >= self._generation_size:
            self._old, self._cur, self._generation = cur, {}, end

    def _hit(self, lag: int, at: int, seen: int, high: int) -> None:
        """A shingle came back `lag` words later: count it for the runs it supports."""
        run = self._runs.get(lag)
        if run is None and lag <= high:
            run = self._runs[lag] = _Run(lag, at, seen)
            self._halves.setdefault(2 * lag, run)
        half = self._halves.get(lag)
        for target in filter(None, (run, half if half is not run else None)):
            if at - target.last > _QUIET + target.period // 2:
                target.restart(at, lag, seen)
            target.last, target.upto = at, seen
            if lag == target.period:
                target.support += 1
                if target.support >= 2:
                    self._watch[target.period] = target
            else:
                target.doubles += 1

    def _review(self, tokens: int) -> Loop | None:
        """After a read, the exact check for each watched run whose evidence looks like a loop."""
        for run in list(self._watch.values()):
            if (
                self._words - run.twin + _AHEAD >= self._copies * run.period
                and run.last - run.twin + _AHEAD >= 2 * run.period  # hits over two copies
                and run.support + min(run.support, run.doubles)
                >= _SAMPLED * (run.upto - run.seen + 1)
                and self._words >= run.due
                and (loop := self._check(run, tokens)) is not None
            ):
                return loop
            if self._words - run.last > _QUIET + run.period // 2:  # checked a last time
                self._watch.pop(run.period, None)
        return None

    def _forget(self, now: int) -> None:
        """Drop the runs that went quiet."""
        for lag, run in list(self._runs.items()):
            if now - run.last > _QUIET + run.period // 2:
                del self._runs[lag]
                if self._halves.get(2 * run.period) is run:
                    del self._halves[2 * run.period]

    def _check(self, run: _Run, tokens: int) -> Loop | None:
        """The exact check: do the words repeat, shingle by shingle, for enough copies?"""
        period = run.period
        words, base = self._window(run.twin - 2 * period - 2 * _AHEAD)
        found = going = _stretch(words, len(words), period)  # back from the last word read
        if found is None or found[1] - found[0] < self._copies * period:
            last = run.last - base + _K + _AHEAD  # or from the last repeat (a huge feed goes on)
            found = _stretch(words, last, period) if last < len(words) else None
            if found is None or found[1] - found[0] < self._copies * period:
                if going is None:  # nothing repeats at the end: wait for a hit
                    self._watch.pop(run.period, None)
                else:  # repeating on, too short yet: look when it could be long enough
                    run.due = base + going[0] + int(self._copies * period)
                return None
        start, end = found
        if _density(words, start + period, end, period) < _DENSITY:
            run.due = self._words + period  # periodic, but unlike a loop: a period on
            return None
        period = _shortest(words, start, end, period)
        start, end = start + base, end + base
        copies = (end - start) / period
        start_token = self._token_at(start)
        period_tokens = round((self._token_at(end) - start_token) / copies)
        if not self._min_period <= period_tokens <= self._max_period:
            return None
        return Loop(
            start=round(start_token),
            period=period_tokens,
            repeats=round(copies, 2),
            found_at=tokens or round(self._token_at(end)),
            start_char=self._char_at(start),
        )

    def _window(self, since: int) -> tuple[list[str], int]:
        """The words read from about `since` on, and the index of the first."""
        records = list(self._records)
        k = next((k for k in range(len(records) - 1, 0, -1) if records[k][0] <= since), 0)
        return list(chain.from_iterable(record[5] for record in records[k:])), records[k][0]

    def _record(self, word: int) -> _Record:
        """The look that read the word."""
        return next((r for r in reversed(self._records) if r[0] <= word), self._records[0])

    def _token_at(self, word: int) -> float:
        first, token, per_word, *_ = self._record(word)
        return token + (word - first) * per_word

    def _char_at(self, word: int) -> int:
        """Where the word's leading space begins (the end of the word before, in its look)."""
        first, _, _, char, text, _ = self._record(word)
        if word <= first:
            return char
        pattern = _WORDS if text.isascii() or _CJK.search(text) is None else _CJK_WORDS
        ends = [match.end() for match in pattern.finditer(text)]
        return char + ends[min(word - first, len(ends)) - 1]


publish(globals())
