"""Where two reasoning traces part: the steps they share, then what each does next.

Two steps are "the same step" when they share most of their words (docs/ANATOMY.md, "Where two
traces part"): lower-cased words and numbers, compared as sets (Jaccard similarity), at least
0.8, or at least 0.5 when the steps are also of the same kind. The traces share their leading
steps as long as step i of one is the same step as step i of the other; the first pair that is
not is where they part. The rest is aligned by a longest chain of same steps in order (as a
diff aligns lines), found among candidates that share a rare word: near-linear time.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from .anatomy import Anatomy, Step
from .public import publish

__all__ = ["Divergence", "diverge", "step_alignment"]

_WORD = re.compile(r"[^\W_]+(?:[.,][0-9]+)*")
_SAME = 0.8  # word overlap that makes two steps the same whatever their kinds
_SAME_KIND = 0.5  # word overlap that makes two steps of one kind the same
_RARE = 6  # a step's candidates share one of its rarest words, this many at most
_CANDIDATES = 8  # candidates kept per step, the ones sharing the most rare words
_BRANCH = 3  # steps shown after the divergence
_VERBS = {
    "explore": "explores",
    "compute": "computes",
    "verify": "checks",
    "backtrack": "backtracks",
    "conclude": "concludes",
}


@dataclass(frozen=True)
class Divergence:
    """Where traces A and B part; token positions are each trace's own."""

    shared: int  # leading steps the two traces share
    a_step: int | None  # index in A's steps of the first that differs (None: A ended there)
    b_step: int | None
    a_at: int | None  # token in A where they part
    b_at: int | None
    a_branch: tuple[Step, ...]  # a few steps after the divergence, for showing
    b_branch: tuple[Step, ...]
    similarity: float  # aligned steps over all steps, 0..1
    shared_tokens: int = 0  # tokens of A's shared steps
    a_answer: str = ""
    b_answer: str = ""

    @property
    def identical(self) -> bool:
        """Every step of each trace is aligned with the same-numbered step of the other."""
        return self.a_step is None and self.b_step is None

    def summary(self) -> str:
        """One line, e.g. "same for 4 steps (212 tokens), then A backtracks (“Wait, …”) …"."""
        if self.identical:
            text = f"the same all the way ({_steps(self.shared)})"
        else:
            a, b = _doing("A", self.a_branch), _doing("B", self.b_branch)
            if self.shared:
                text = f"same for {_steps(self.shared)} ({self.shared_tokens:,} tokens), then "
            else:
                text = "different from the first step: "
            text += f"{a} while {b}"
        if self.a_answer and self.b_answer:
            same = self.a_answer == self.b_answer
            text += (
                f" · both answer {self.a_answer}"
                if same
                else (f" · A answers {self.a_answer}, B answers {self.b_answer}")
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["a_branch"] = [asdict(step) for step in self.a_branch]
        data["b_branch"] = [asdict(step) for step in self.b_branch]
        return data


def diverge(a: Anatomy, b: Anatomy) -> Divergence:
    """Where `a` and `b` part, and how alike they are overall."""
    shared, pairs = _align(a, b)
    a_step = shared if shared < len(a.steps) else None
    b_step = shared if shared < len(b.steps) else None
    aligned = sum(i is not None and j is not None for i, j in pairs)
    total = len(a.steps) + len(b.steps)
    return Divergence(
        shared=shared,
        a_step=a_step,
        b_step=b_step,
        a_at=None if a_step is None else a.steps[a_step].start,
        b_at=None if b_step is None else b.steps[b_step].start,
        a_branch=a.steps[shared : shared + _BRANCH],
        b_branch=b.steps[shared : shared + _BRANCH],
        similarity=2 * aligned / total if total else 1.0,
        shared_tokens=a.steps[shared - 1].end if shared else 0,
        a_answer=a.answer,
        b_answer=b.answer,
    )


def step_alignment(a: Anatomy, b: Anatomy) -> list[tuple[int | None, int | None]]:
    """Both traces' steps in order, as pairs: (i, j) the same step, (i, None) only in A,
    (None, j) only in B. Unaligned steps between two aligned pairs: A's first, then B's."""
    return _align(a, b)[1]


def _align(a: Anatomy, b: Anatomy) -> tuple[int, list[tuple[int | None, int | None]]]:
    words_a = [_words(step) for step in a.steps]
    words_b = [_words(step) for step in b.steps]
    shared = 0
    while shared < min(len(a.steps), len(b.steps)) and _same(
        a.steps[shared], words_a[shared], b.steps[shared], words_b[shared]
    ):
        shared += 1
    chain = _chain(a.steps, words_a, b.steps, words_b, shared)
    pairs: list[tuple[int | None, int | None]] = [(k, k) for k in range(shared)]
    i = j = shared
    for x, y in [*chain, (len(a.steps), len(b.steps))]:
        pairs += [(k, None) for k in range(i, x)] + [(None, k) for k in range(j, y)]
        if x < len(a.steps):
            pairs.append((x, y))
        i, j = x + 1, y + 1
    return shared, pairs


def _chain(
    a: tuple[Step, ...], words_a: list[frozenset[str]], b: tuple[Step, ...],
    words_b: list[frozenset[str]], start: int,
) -> list[tuple[int, int]]:  # fmt: skip
    """The longest chain of same-step pairs (i, j) after `start`, increasing in both."""
    postings: dict[str, list[int]] = {}
    exact: dict[frozenset[str], list[int]] = {}
    for j in range(start, len(b)):
        exact.setdefault(words_b[j], []).append(j)
        for word in words_b[j]:
            postings.setdefault(word, []).append(j)
    common = max(8, (len(b) - start) // 10)  # a word in more steps than this is not rare
    pairs: list[tuple[int, int]] = []
    for i in range(start, len(a)):
        rare = sorted(
            (len(postings[word]), word)
            for word in words_a[i]
            if word in postings and len(postings[word]) <= common
        )[:_RARE]
        votes = Counter(j for _, word in rare for j in postings[word])
        candidates = {j for j, _ in votes.most_common(_CANDIDATES)}
        candidates.update(exact.get(words_a[i], ())[:_CANDIDATES])
        pairs += [(i, j) for j in sorted(candidates) if _same(a[i], words_a[i], b[j], words_b[j])]
    # Longest chain increasing in i and j: a longest increasing subsequence of j, with the
    # pairs of one i taken in decreasing j so that one step of A pairs with one of B at most.
    pairs.sort(key=lambda pair: (pair[0], -pair[1]))
    tails: list[int] = []  # tails[k]: smallest j ending a chain of length k + 1
    ends: list[int] = []  # index in `pairs` of that chain's last pair
    before = [-1] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        k = bisect_left(tails, j)
        before[index] = ends[k - 1] if k else -1
        if k == len(tails):
            tails.append(j)
            ends.append(index)
        else:
            tails[k], ends[k] = j, index
    chain: list[tuple[int, int]] = []
    index = ends[-1] if ends else -1
    while index >= 0:
        chain.append(pairs[index])
        index = before[index]
    return chain[::-1]


def _words(step: Step) -> frozenset[str]:
    return frozenset(word.replace(",", "") for word in _WORD.findall(step.text.lower()))


def _same(x: Step, words_x: frozenset[str], y: Step, words_y: frozenset[str]) -> bool:
    if not words_x and not words_y:
        return x.kind == y.kind and x.text.strip() == y.text.strip()
    overlap = len(words_x & words_y) / len(words_x | words_y)
    return overlap >= _SAME or (overlap >= _SAME_KIND and x.kind == y.kind)


def _steps(count: int) -> str:
    return f"{count} step{'s' * (count != 1)}"


def _doing(name: str, branch: tuple[Step, ...]) -> str:
    if not branch:
        return f"{name} stops"
    step = branch[0]
    words = step.text.split()
    excerpt = " ".join(words[:7])[:60] + ("…" if len(words) > 7 else "")
    return f"{name} {_VERBS[step.kind]} (“{excerpt}”)"


publish(globals())
