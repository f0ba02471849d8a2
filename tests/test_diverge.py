"""Where two reasoning traces part (`diverge`) and how their steps line up (`step_alignment`)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reasoning_traces import LONG, MONEY, NEVER, SHORT, TRACES, Trace

from qwq_jupyter.core.anatomy import Anatomy, anatomy
from qwq_jupyter.core.diverge import Divergence, diverge, step_alignment


def of(trace: Trace) -> Anatomy:
    return anatomy(trace.reasoning, trace.answer)


def paragraphs(*parts: str) -> str:
    return "\n\n".join(parts)


@pytest.mark.parametrize("trace", TRACES, ids=[t.name for t in TRACES])
def test_identical_traces_do_not_diverge(trace: Trace) -> None:
    a = of(trace)
    found = diverge(a, of(trace))
    count = len(a.steps)
    assert (found.shared, found.a_step, found.b_step, found.a_at, found.b_at) == (
        count, None, None, None, None
    )  # fmt: skip
    assert found.identical and found.similarity == 1.0
    assert found.a_branch == found.b_branch == ()
    assert found.shared_tokens == a.tokens
    assert step_alignment(a, a) == [(k, k) for k in range(count)]


def test_identical_summary() -> None:
    found = diverge(of(SHORT), of(SHORT))
    assert found.summary() == "the same all the way (4 steps) · both answer 391"


# Two samples of one question: the same opening and first computation, then one checks by
# reversing the product while the other (wrongly) doubts it and recomputes by another split.
_OPENING = "Okay, so I need to compute 17 times 23. Let me break it down."
_FIRST = "17 × 20 = 340, and 17 × 3 = 51. Adding them: 340 + 51 = 391."
A_TEXT = paragraphs(
    _OPENING,
    _FIRST,
    "Let me check: 23 × 17 = 23 × 10 + 23 × 7 = 230 + 161 = 391. Yes, that matches.",
    "So the answer is 391.",
)
B_TEXT = paragraphs(
    _OPENING,
    _FIRST,
    "Wait, that's not right: I think 17 × 3 is 41, which would give 381.",
    "No, 17 × 3 = 51 after all, since 17 + 17 + 17 = 51. The earlier sum holds.",
    "Splitting the other way: 10 × 23 = 230 and 7 × 23 = 161, so 230 + 161 = 391.",
    "So the answer is 391.",
)


def test_same_start_then_different() -> None:
    a, b = anatomy(A_TEXT, "**391**"), anatomy(B_TEXT, "**391**")
    found = diverge(a, b)
    assert (found.shared, found.a_step, found.b_step) == (2, 2, 2)
    shared = len((_OPENING + " " + _FIRST).split())  # 32 pieces: the first two paragraphs
    assert (found.a_at, found.b_at, found.shared_tokens) == (shared, shared, shared)
    assert [s.kind for s in found.a_branch] == ["verify", "conclude"]
    assert [s.kind for s in found.b_branch] == ["backtrack", "verify", "compute"]
    assert found.b_branch[0].text.lstrip().startswith("Wait, that's not right")
    # The closing "So the answer is 391." is the same step in both.
    assert step_alignment(a, b) == [
        (0, 0), (1, 1), (2, None), (None, 2), (None, 3), (None, 4), (3, 5),
    ]  # fmt: skip
    assert found.similarity == pytest.approx(2 * 3 / (4 + 6))
    assert found.summary() == (
        "same for 2 steps (32 tokens), then A checks (“Let me check: 23 × 17 =…”) "
        "while B backtracks (“Wait, that's not right: I think 17…”) · both answer 391"
    )


def test_totally_different() -> None:
    a, b = of(SHORT), of(NEVER)
    found = diverge(a, b)
    assert (found.shared, found.a_step, found.b_step, found.a_at, found.b_at) == (0, 0, 0, 0, 0)
    assert found.similarity == 0.0
    assert step_alignment(a, b) == [(i, None) for i in range(4)] + [(None, j) for j in range(3)]
    assert found.summary().startswith("different from the first step: A explores (“Okay, so I")
    assert found.summary().endswith(" · A answers 391, B answers canberra")


@pytest.mark.parametrize("keep", [1, 3, 5])
def test_one_trace_a_prefix_of_the_other(keep: int) -> None:
    whole = of(MONEY)
    cut = anatomy(paragraphs(*MONEY.reasoning.split("\n\n")[:keep]), "")
    found = diverge(cut, whole)
    assert (found.shared, found.a_step, found.b_step) == (keep, None, keep)
    assert (found.a_at, found.b_at) == (None, whole.steps[keep].start)
    assert found.a_branch == () and found.b_branch == whole.steps[keep : keep + 3]
    assert "then A stops while B " in found.summary()
    assert step_alignment(cut, whole) == [(k, k) for k in range(keep)] + [
        (None, k) for k in range(keep, len(whole.steps))
    ]
    backwards = diverge(whole, cut)
    assert (backwards.a_step, backwards.b_step) == (keep, None)


def test_a_step_inserted_in_the_middle() -> None:
    parts = LONG.reasoning.split("\n\n")
    extra = "Hmm, let me pause and think about whether the order of the products matters at all."
    a = of(LONG)
    b = anatomy(paragraphs(*parts[:10], extra, *parts[10:]), LONG.answer)
    found = diverge(a, b)
    assert (found.shared, found.a_step, found.b_step) == (10, 10, 10)
    assert found.b_branch[0].text.strip() == extra
    pairs = step_alignment(a, b)
    assert pairs == [(k, k) for k in range(10)] + [(None, 10)] + [
        (k, k + 1) for k in range(10, len(a.steps))
    ]
    assert found.similarity == pytest.approx(2 * len(a.steps) / (2 * len(a.steps) + 1))


def test_paraphrased_steps_still_align() -> None:
    a = anatomy(paragraphs(_OPENING, _FIRST, "So the answer is 391."), "391")
    b = anatomy(
        paragraphs(
            "Alright, so I need to compute 17 times 23. Let me break it down.",
            _FIRST.replace("Adding them:", "Adding:"),
            "So the final answer is 391.",
        ),
        "391",
    )
    assert diverge(a, b).identical


def test_to_dict_is_json() -> None:
    found = diverge(anatomy(A_TEXT, "391"), anatomy(B_TEXT, "391"))
    data = json.loads(json.dumps(found.to_dict()))
    assert data["shared"] == 2 and data["b_branch"][0]["kind"] == "backtrack"
    assert set(data) >= {f for f in Divergence.__dataclass_fields__}


def test_empty_traces() -> None:
    empty = anatomy("", "")
    found = diverge(empty, empty)
    assert found.identical and found.similarity == 1.0 and found.shared == 0
    assert diverge(empty, of(SHORT)).b_step == 0


_PARAGRAPHS = st.sampled_from(
    [
        _OPENING, _FIRST, "Wait, that's not right, 17 × 3 is 51.", "Let me check: 23 × 17 = 391.",
        "So the answer is 391.", "Hmm, maybe I should try another split of the numbers here.",
        "Alternatively, 17 × 25 = 425 and 425 − 34 = 391.", "Okay, that settles it, I think.",
    ]
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(_PARAGRAPHS, max_size=12), st.lists(_PARAGRAPHS, max_size=12))
def test_alignment_covers_both_traces_in_order(xs: list[str], ys: list[str]) -> None:
    a, b = anatomy(paragraphs(*xs), "391"), anatomy(paragraphs(*ys), "391")
    pairs = step_alignment(a, b)
    assert [i for i, _ in pairs if i is not None] == list(range(len(a.steps)))
    assert [j for _, j in pairs if j is not None] == list(range(len(b.steps)))
    found = diverge(a, b)
    assert 0.0 <= found.similarity <= 1.0
    assert pairs[: found.shared] == [(k, k) for k in range(found.shared)]
    assert found.summary()
