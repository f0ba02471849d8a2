"""The anatomy of a reasoning trace: steps, kinds, the answer's first appearance, switches.

The traces and what they should give are written out in `reasoning_traces.py`; positions there
are counted by its own tokenizer, not the one under test. The rules are docs/ANATOMY.md's.
"""

from __future__ import annotations

import json
import time
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reasoning_traces import CHINESE, LONG, LOOPING, SHORT, TRACES, Trace, piece_at, pieces

from qwq_jupyter.client import demo_replies
from qwq_jupyter.client.demo_voice import Voice
from qwq_jupyter.core.anatomy import Anatomy, ScriptSwitch, Step, anatomy, final_answer, normalise
from qwq_jupyter.core.events import Loop

IDS = [trace.name for trace in TRACES]


def of(trace: Trace, **options: object) -> Anatomy:
    return anatomy(trace.reasoning, trace.answer, loop=trace.loop, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("trace", TRACES, ids=IDS)
def test_steps_their_kinds_and_markers(trace: Trace) -> None:
    found = of(trace)
    got = [(step.kind, step.marker, step.text.lstrip()) for step in found.steps]
    assert len(got) == len(trace.steps), [text[:40] for _, _, text in got]
    for (kind, marker, text), want in zip(got, trace.steps, strict=True):
        assert text.startswith(want[2]), (text[:60], want[2])
        assert (kind, marker) == want[:2], text[:60]


@pytest.mark.parametrize("trace", TRACES, ids=IDS)
def test_steps_tile_the_reasoning_in_order(trace: Trace) -> None:
    steps = of(trace).steps
    assert "".join(step.text for step in steps) == trace.reasoning
    assert steps[0].start == 0 and steps[-1].end == trace.tokens
    assert all(a.end == b.start and a.start < a.end for a, b in pairwise(steps))
    for step in steps:  # each step's span counts the pieces of its own text
        assert step.end - step.start == pieces(step.text)


@pytest.mark.parametrize("trace", TRACES, ids=IDS)
def test_answer_and_where_it_first_appears(trace: Trace) -> None:
    found = of(trace)
    assert found.answer == trace.final == final_answer(trace.answer)
    assert found.tokens == trace.tokens
    assert found.first_answer_at == trace.first_at
    if trace.first is None:
        assert (found.first_answer_share, found.after_first_answer) == (None, None)
        assert found.first_answer_step is found.first_answer_char is None
        return
    assert found.first_answer_char == trace.reasoning.index(trace.first)
    step = found.steps[found.first_answer_step or 0]
    assert step.start <= found.first_answer_at < step.end  # type: ignore[operator]
    assert found.first_answer_share == trace.first_at / trace.tokens  # type: ignore[operator]
    assert found.after_first_answer == trace.tokens - trace.first_at  # type: ignore[operator]


def test_positions_counted_by_hand() -> None:
    found = of(SHORT)
    assert (found.first_answer_at, found.tokens) == (31, 60) == tuple(SHORT.extra.values())
    assert found.first_answer_share == 31 / 60 and found.after_first_answer == 29
    assert [(s.start, s.end) for s in found.steps] == [(0, 14), (14, 32), (32, 55), (55, 60)]


@pytest.mark.parametrize("trace", TRACES, ids=IDS)
def test_counts(trace: Trace) -> None:
    found = of(trace)
    kinds = [kind for kind, _, _ in trace.steps]
    assert found.counts() == {k: kinds.count(k) for k in found.counts()}
    assert list(found.counts()) == ["explore", "compute", "verify", "backtrack", "conclude"]
    assert found.backtracks == kinds.count("backtrack")
    assert found.self_checks == kinds.count("verify")


@pytest.mark.parametrize("trace", [t for t in TRACES if t.summary], ids=lambda t: t.name)
def test_summary(trace: Trace) -> None:
    assert of(trace).summary() == trace.summary


def test_summary_words() -> None:
    assert of(LONG).summary() == (
        "answer first reached at 99% · 1% after · 8 backtracks · 15 self-checks"
    )
    assert anatomy("", "391").summary() == "no reasoning"
    nothing = anatomy("Okay, I am thinking about it for a while.", "")
    assert nothing.summary() == "no final answer · 0 backtracks · 0 self-checks"


def test_script_switches() -> None:
    found = of(CHINESE)
    want = tuple(
        ScriptSwitch(piece_at(CHINESE.reasoning, snippet), before, after)
        for snippet, before, after in CHINESE.switches
    )
    assert found.switches == want
    for trace in TRACES:
        if trace is not CHINESE:
            assert of(trace).switches == ()


@pytest.mark.parametrize(
    "text",
    [
        "Let θ be the angle, so sin θ = 1/2 and θ = 30°, and α + β = 90°. Then cos θ = √3/2.",
        'The Chinese word "中文" means Chinese, and 你好 is hello. That is all I know.',
        "Café, naïve, façade, jalapeño and Zürich are spelled with accents in English too.",
        "Привет means hello. Then I continue in English for a long while without switching.",
    ],
)
def test_no_switch_for_a_few_letters(text: str) -> None:
    assert anatomy(text * 3, "").switches == ()


def test_switches_between_other_scripts() -> None:
    text = (
        "Okay, let me think about it in English first, step by step, as usual.\n\n"
        "Теперь я продолжу по-русски, потому что так удобнее думать.\n\n"
        "それでは日本語で考えてみましょう。答えはたぶん正しいです。"
    )
    scripts = [(s.before, s.after) for s in anatomy(text, "").switches]
    assert scripts == [("Latin", "Cyrillic"), ("Cyrillic", "Japanese")]


def test_loop_is_kept_and_summarised() -> None:
    found, loop = of(LOOPING), LOOPING.loop
    assert loop is not None and found.loop is loop
    assert found.summary().endswith(f"looping since {round(100 * loop.start / 190)}%")


@pytest.mark.parametrize("trace", TRACES, ids=IDS)
def test_to_dict_round_trip(trace: Trace) -> None:
    found = of(trace)
    data = json.loads(json.dumps(found.to_dict()))
    again = Anatomy.from_dict(data)
    assert again.to_dict() == data
    if trace.loop is None:
        assert again == found
    else:  # a loop comes back as the dict it was saved as
        assert again.loop == trace.loop.to_dict()
        assert again.summary() == found.summary()


def test_from_dict_refuses_an_unknown_kind() -> None:
    data = of(SHORT).to_dict()
    data["steps"][0]["kind"] = "daydream"
    with pytest.raises(ValueError, match="daydream"):
        Anatomy.from_dict(data)


@pytest.mark.parametrize("factor", [0.5, 0.37, 1.0, 1.3, 2.0, 10.0])
def test_positions_scale_to_the_servers_token_count(factor: float) -> None:
    tokens = round(CHINESE.tokens * factor)
    found, plain = of(CHINESE, tokens=tokens), of(CHINESE)

    def scaled(k: int) -> int:
        return (k * tokens + CHINESE.tokens // 2) // CHINESE.tokens

    assert found.tokens == tokens
    assert [(s.start, s.end) for s in found.steps] == [
        (scaled(s.start), scaled(s.end)) for s in plain.steps
    ]
    assert found.steps[-1].end == tokens
    assert found.first_answer_at == scaled(plain.first_answer_at)  # type: ignore[arg-type]
    assert [s.at for s in found.switches] == [scaled(s.at) for s in plain.switches]
    assert [s.text for s in found.steps] == [s.text for s in plain.steps]
    assert of(CHINESE, tokens=0).tokens == CHINESE.tokens  # no count: the pieces


def test_answer_inside_a_bigger_number_is_not_it() -> None:
    reasoning = "We have 1391 and 3910 and 13,910 and 391.5 and x391 and 2391. Then 391 it is."
    found = anatomy(reasoning, "**391**")
    assert found.first_answer_char == reasoning.index("391 it is")
    for written in ["**391**", "\\boxed{391}", "391,", "(391)", "$391", "391.0", "=391"]:
        text = f"Okay, working on it. So it is {written} here."
        at = anatomy(text, "391").first_answer_char
        assert at is not None and text[at:].startswith(written.lstrip("*\\boxed{(=").lstrip()[:1])


def test_a_word_answer_must_be_stated() -> None:
    reasoning = (
        "Okay, is the product positive or negative?\n\n"
        "If it were positive, the sign rule would need an even count. Is it positive?\n\n"
        "Whether it is positive depends on the count. It might be negative or positive.\n\n"
        "The count is even, so it is positive."
    )
    found = anatomy(reasoning, "**Positive.**")
    assert found.answer == "positive"
    assert found.first_answer_char == reasoning.rindex("positive")  # the others: no commitment
    question = "Okay, let me see.\n\nShould I switch? Yes, because the odds are 2/3."
    assert anatomy(question, "Switch").first_answer_char == question.index("switch?")


def test_the_demo_replies() -> None:
    voice = Voice("a question", {})
    bat = demo_replies.bat_and_ball(voice)
    found = anatomy(bat.reasoning, bat.answer)
    assert found.answer == "0.05" and found.backtracks == 1 and found.first_answer_at
    assert "".join(step.text for step in found.steps) == bat.reasoning
    loop = demo_replies.loop(voice, 300)
    assert anatomy(loop.reasoning, loop.answer).answer == "3"


NORMALISED = [
    ("391", "391"),
    ("\\boxed{391}", "391"),
    ("**391**", "391"),
    ("391.0", "391"),
    ("$391$", "391"),
    ("391.", "391"),
    ("3.91e2", "391"),
    ("3.9e2", "390"),  # exponents are written out: 3.9e2 is 390, not 391
    ("1,391", "1391"),
    ("1391", "1391"),
    ("2/3", "2/3"),
    ("\\frac{2}{3}", "2/3"),
    ("$\\dfrac{4}{6}$", "2/3"),
    ("6/3", "2"),
    ("-2/3", "-2/3"),
    ("50%", "50%"),
    ("50 percent", "50%"),
    ("0.5", "0.5"),  # not 50%: a share and a percentage are kept apart
    (".5", "0.5"),
    ("$0.05", "0.05"),
    ("\\$0.05", "0.05"),
    ("5 cents", "0.05"),
    ("5¢", "0.05"),
    ("$1,000.50", "1000.5"),
    ("€3", "3"),
    ("-5", "-5"),
    ("−5", "-5"),
    ("-0", "0"),
    ("x = 5", "5"),
    ("3 r's", "3"),
    ("12 km/h", "12"),
    ("1e999999", "1e+999999"),
    ("1/0", "1/0"),
    ("Switch.", "switch"),
    ("**Switch!**", "switch"),
    ("The goat", "goat"),
    ("Yes", "yes"),
    ("<b>391</b>", "391"),
    ("<span style='x'>Positive</span>", "positive"),
    ("`391`", "391"),
    ("Answer: 391", "391"),
    ("The final answer is 391", "391"),
    ("\x1b[31m391\x1b[0m", "391"),
    ("\x1b]52;c;aGk=\x07391", "391"),
    ("3\u200b91", "391"),
    ("√2", "√2"),
    ("", ""),
    ("   ", ""),
    ("**", ""),
]


@pytest.mark.parametrize(("value", "want"), NORMALISED)
def test_normalise(value: str, want: str) -> None:
    assert normalise(value) == want


FINAL = [
    ("The product is **391**.", "391"),
    ("So \\boxed{12} first, but finally $\\boxed{391}$.", "391"),
    ("\\boxed{} nothing there; 17 × 23 = 391", "391"),
    ("**Step 1:** multiply. **Final answer:** 391\nThat's it.", "391"),
    ("**Answer: 2/3**", "2/3"),
    ("**Switch.** Switching wins with probability **2/3**.", "switch"),
    ("The ball costs **5 cents** ($0.05).", "0.05"),
    ("So the answer is 1,391. Then 17 more words with 5 in them.", "1391"),
    ("17 × 23 = 391", "391"),
    ("There are 3 r's in strawberry.", "3"),
    ("Positive. The product of two negatives is positive.", "positive"),
    ("# Result\n\nIt is *Canberra*, not Sydney.", "result"),
    ("", ""),
    ("\n\n", ""),
]


@pytest.mark.parametrize(("text", "want"), FINAL)
def test_final_answer(text: str, want: str) -> None:
    assert final_answer(text) == want


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n\t ",
        "\x00\x01\x1b[2J\x1bc" * 1000,
        "<script>alert(1)</script>" * 500,
        "**" * 50_000,
        "\\boxed{" * 20_000,
        "$" * 100_000,
        "1" * 200_000,
        "9" * 5000 + "e999999",
        "Wait, " * 30_000,
        "中文" * 50_000,
        "a\u0301" * 50_000,
        "\n\n" * 50_000,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_hostile_input(text: str) -> None:
    started = time.perf_counter()
    found = anatomy(text, text)
    assert "".join(step.text for step in found.steps) == (text if text.strip() else "")
    final_answer(text), normalise(text)
    assert found.summary()
    assert time.perf_counter() - started < 5  # linear, even on pathological input


def test_not_a_string() -> None:
    assert anatomy(None, None).steps == ()  # type: ignore[arg-type]
    assert final_answer(None) == normalise(None) == ""  # type: ignore[arg-type]


def test_step_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError):
        Step("ponder", 0, 1, "x")  # type: ignore[arg-type]


def test_loop_may_be_any_object() -> None:
    class Found:
        start = 10

    assert anatomy("Okay, " * 40, "").summary().endswith("0 self-checks")
    assert "looping since 25%" in anatomy("Okay, " * 40, "", loop=Found()).summary()
    loop = Loop(start=20, period=5, repeats=3.0, found_at=35)
    assert anatomy("Okay, " * 40, "", loop=loop).to_dict()["loop"] == loop.to_dict()


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_ALPHABET = st.sampled_from(
    [*"abcxyz0123456789 .,;:!?\n\t$%/*=+-()[]{}\\_", "Wait", "So", "391", "中", "θ", "**"]
)
_TEXT = st.lists(
    st.one_of(_ALPHABET, st.sampled_from([" Let me check", "\n\n", ". But ", " 3.9e2", "$0.05"]))
).map("".join)


@PROPERTY
@given(reasoning=st.one_of(st.text(), _TEXT), answer=st.one_of(st.text(), _TEXT))
def test_anatomy_never_raises_and_tiles(reasoning: str, answer: str) -> None:
    found = anatomy(reasoning, answer)
    if reasoning.strip():
        assert "".join(step.text for step in found.steps) == reasoning
        assert found.steps[0].start == 0 and found.steps[-1].end == found.tokens
        assert all(a.end == b.start for a, b in pairwise(found.steps))
    else:
        assert found.steps == ()
    if found.first_answer_at is not None:
        assert 0 <= found.first_answer_at < found.tokens
    assert found.answer == final_answer(answer)
    assert Anatomy.from_dict(json.loads(json.dumps(found.to_dict()))) == found
    found.summary()


@PROPERTY
@given(st.one_of(st.text(), _TEXT))
def test_normalise_is_idempotent(value: str) -> None:
    once = normalise(value)
    assert normalise(once) == once
