"""Hand-written QwQ-style reasoning traces with their anatomy known in advance.

Each `Trace` says how its reasoning should be cut into steps (each step's kind, the marker that
opened it, and how its text begins), the final answer read from the answer text, where that
answer is first stated (a snippet of the reasoning that begins exactly there), the script
switches and, for the looping trace, the loop. Positions are pieces: one `\\s*\\S+` run, or one
CJK character (full-width punctuation included), counted here independently of the code under
test (`piece_at`).

The rules the expectations follow are those of docs/ANATOMY.md; where a step's kind is a close
call (a number-heavy opening read as compute), the comment beside it says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qwq_jupyter.core.events import Loop

__all__ = ["TRACES", "Trace", "by_name", "piece_at", "pieces"]

_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_PIECE = re.compile(f"\\s*(?:[{_CJK}]|[^\\s{_CJK}]+)")


def pieces(text: str) -> int:
    """How many pieces `text` holds."""
    return len(_PIECE.findall(text))


def piece_at(text: str, snippet: str) -> int:
    """The piece where the one occurrence of `snippet` in `text` begins (at a piece's start)."""
    assert text.count(snippet) == 1, f"{snippet!r} occurs {text.count(snippet)} times"
    at = text.index(snippet)
    assert at == 0 or text[at - 1].isspace() or re.match(f"[{_CJK}]", text[at - 1] + snippet[0])
    return pieces(text[:at])


@dataclass(frozen=True)
class Trace:
    name: str
    reasoning: str
    answer: str  # the answer text, as the model wrote it
    final: str  # final_answer(answer)
    steps: tuple[tuple[str, str, str], ...]  # (kind, marker, how the step's text begins)
    first: str | None  # the reasoning from the answer's first statement on (a unique snippet)
    switches: tuple[tuple[str, str, str], ...] = ()  # (snippet where it starts, before, after)
    loop: Loop | None = None
    summary: str = ""  # the expected one-line summary, when the test pins it
    notes: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def first_at(self) -> int | None:
        return None if self.first is None else piece_at(self.reasoning, self.first)

    @property
    def tokens(self) -> int:
        return pieces(self.reasoning)


def _paragraphs(*parts: str) -> str:
    return "\n\n".join(parts)


SHORT = Trace(
    name="short arithmetic",
    reasoning=_paragraphs(
        "Okay, so I need to compute 17 times 23. Let me break it down.",
        "17 × 20 = 340, and 17 × 3 = 51. Adding them: 340 + 51 = 391.",
        "Let me check: 23 × 17 = 23 × 10 + 23 × 7 = 230 + 161 = 391. Yes, that matches.",
        "So the answer is 391.",
    ),
    answer="17 × 23 = **391**.",
    final="391",
    steps=(
        ("explore", "Okay", "Okay, so I need"),
        ("compute", "", "17 × 20 = 340"),
        ("verify", "Let me check", "Let me check: 23 × 17"),
        ("conclude", "So", "So the answer is 391."),
    ),
    first="391.\n\nLet me check",
    summary="answer first reached at 52% · 48% after · 0 backtracks · 1 self-check",
    extra={"first_at": 31, "tokens": 60},  # counted by hand
)

BACKTRACK = Trace(
    name="backtrack",
    reasoning=_paragraphs(
        "Okay, the user asks for 15% of 80. Ten percent of 80 is 8, and five percent is half of "
        "that, 4.",
        "So 15% is 8 + 4 = 11.",
        "Wait, that's not right. 8 + 4 is 12, not 11. I added wrong.",
        "Let me verify another way: 0.15 × 80 = 12. Yes.",
        "So the answer is 12.",
    ),
    answer="15% of 80 is **12**.",
    final="12",
    steps=(
        ("explore", "Okay", "Okay, the user asks"),
        ("compute", "So", "So 15% is 8 + 4 = 11."),  # "So" without the answer: by its content
        ("backtrack", "Wait", "Wait, that's not right."),
        ("verify", "Let me verify", "Let me verify another way"),
        ("conclude", "So", "So the answer is 12."),
    ),
    first="12, not 11.",
)

SELF_CHECKS = Trace(
    name="several self-checks",
    reasoning=_paragraphs(
        "Okay, let me list the primes below 30. 2, 3, 5, 7, 11, 13, 17, 19, 23, 29. That's 10 "
        "of them.",
        "Let me double-check each one. 2, 3, 5 and 7 are prime. 11, 13, 17 and 19 have no "
        "divisor up to 4. 23 and 29 have none up to 5.",
        "Let me check that I didn't skip any. 9 = 3 × 3, 15 = 3 × 5, 21 = 3 × 7, 25 = 5 × 5, "
        "27 = 3 × 9. The even numbers are out. So nothing is missing.",
        "To confirm the count: 4 below 10, 4 between 10 and 20, 2 between 20 and 30. 4 + 4 + 2 "
        "= 10.",
        "So there are 10 primes below 30.",
    ),
    answer="There are **10** primes below 30: 2, 3, 5, 7, 11, 13, 17, 19, 23 and 29.",
    final="10",
    steps=(
        ("compute", "Okay", "Okay, let me list the primes"),  # 12 numbers in 21 pieces
        ("verify", "Let me double-check", "Let me double-check each one."),
        ("verify", "Let me check", "Let me check that I didn't skip any."),
        ("explore", "So", "So nothing is missing."),
        ("verify", "To confirm", "To confirm the count:"),
        ("conclude", "So", "So there are 10 primes below 30."),
    ),
    first="10 of them.",
    summary="answer first reached at 15% · 85% after · 0 backtracks · 3 self-checks",
)

OVERTHINKING = Trace(
    name="answer early, then re-derived (overthinking)",
    reasoning=_paragraphs(
        "Okay, what is 25% of 60? A quarter of 60 is 15.",
        "Hmm, let me make sure. 60 divided by 4 is 15. Yes.",
        "Alternatively, 0.25 × 60 = 15. Same result.",
        "But maybe I should double-check with fractions. 25/100 = 1/4, and 60 × 1/4 = 60/4 = 15.",
        "Another way: 10% is 6, so 20% is 12, and 5% is 3. 12 + 3 = 15.",
        "Let me verify once more by going backwards: 15 is what fraction of 60? 15/60 = 1/4 = "
        "25%. Yes.",
        "Okay, I'm confident. The answer is 15.",
    ),
    answer="**15**",
    final="15",
    steps=(
        ("explore", "Okay", "Okay, what is 25% of 60?"),  # 4 numbers in 12 pieces: just under
        ("verify", "Hmm", "Hmm, let me make sure."),
        ("verify", "Alternatively", "Alternatively, 0.25 × 60 = 15."),  # restates 15, "same"
        ("verify", "But", "But maybe I should double-check"),
        ("compute", "", "Another way: 10% is 6"),  # restates 15, but with no word of assent
        ("verify", "Let me verify", "Let me verify once more"),
        # "Okay, I'm confident." is too short to stand alone: it joins the step after it.
        ("conclude", "Okay", "Okay, I'm confident. The answer is 15."),
    ),
    first="15.\n\nHmm, let me make sure.",
    summary="answer first reached at 12% · 88% after · 0 backtracks · 4 self-checks",
)

CHINESE = Trace(
    name="a switch into Chinese and back",
    reasoning=_paragraphs(
        "Okay, the user wants twelve times thirteen, worked out step by step.",
        "12 × 13 = 12 × 10 + 12 × 3 = 120 + 36 = 156.",
        "嗯，让我用中文再检查一下。十二乘以十三，先算十二乘以十等于一百二十，再算十二乘以三等于三十六，"
        "加起来是156。没错。",
        "Okay, back to English.",
        "So the answer is 156.",
    ),
    answer="12 × 13 = **156**",
    final="156",
    steps=(
        ("explore", "Okay", "Okay, the user wants"),
        ("compute", "", "12 × 13 = 12 × 10"),
        ("verify", "", "嗯，让我用中文再检查一下。"),
        ("explore", "Okay", "Okay, back to English."),
        ("conclude", "So", "So the answer is 156."),
    ),
    first="156.\n\n嗯",
    switches=(("嗯，让我", "Latin", "Han"), ("Okay, back", "Han", "Latin")),
    summary="answer first reached at 30% · 70% after · 0 backtracks · 1 self-check · switched to "
    "Han at 31%, back to Latin at 90%",
)

_LOOP_HEAD = _paragraphs(
    'Okay, I need to count the letter r in "strawberry".',
    "Strawberry: s, t, r, a, w, b, e, r, r, y. There is an r after the t and two more near the "
    "end, so 3 in total.",
)
_LOOP_PASSAGE = _paragraphs(
    "Hmm, but people often say two.",
    "Let me recount, letter by letter: s, t, r, a, w, b, e, r, r, y. One r, then two more. That "
    "makes 3.",
    "Wait, did I double count? Let me check.",
)
_LOOP_TEXT = _paragraphs(_LOOP_HEAD, *[_LOOP_PASSAGE] * 4)
_LOOP_START = pieces(_LOOP_HEAD)
_LOOP_PERIOD = pieces(_LOOP_PASSAGE)

LOOPING = Trace(
    name="a loop",
    reasoning=_LOOP_TEXT,
    answer='There are **3** r\'s in "strawberry".',
    final="3",
    steps=(
        ("explore", "Okay", "Okay, I need to count"),
        ("explore", "", "Strawberry: s, t, r"),
        *[
            ("explore", "Hmm", "Hmm, but people often say two."),
            ("verify", "Let me recount", "Let me recount, letter by letter"),
            ("verify", "Wait", "Wait, did I double count? Let me check."),  # "Let me check." joins
        ]
        * 4,
    ),
    first="3 in total.",
    loop=Loop(start=_LOOP_START, period=_LOOP_PERIOD, repeats=3.0, found_at=_LOOP_START + 3 * 38),
    notes="the loop's start is the first piece of the repeated passage",
    summary="answer first reached at 18% · 82% after · 0 backtracks · 8 self-checks · looping "
    "since 20%",
)

NEVER = Trace(
    name="the answer never stated",
    reasoning=_paragraphs(
        "Okay, the question is the capital of Australia. Many people think of Sydney, since it "
        "is the largest city.",
        "But the capital was chosen as a compromise between Sydney and Melbourne.",
        "Therefore the capital is the purpose-built city between the two.",
    ),
    answer="**Canberra**.",
    final="canberra",
    steps=(
        ("explore", "Okay", "Okay, the question is"),
        ("explore", "But", "But the capital was chosen"),  # "But" with no contradiction word
        ("conclude", "Therefore", "Therefore the capital is"),
    ),
    first=None,
    summary="answer never stated in the reasoning · 0 backtracks · 0 self-checks",
)

MONTY_HALL = Trace(
    name="Monty Hall (a word for an answer)",
    reasoning=_paragraphs(
        "Okay, so this is the Monty Hall problem: three doors, a car behind one, I pick a door, "
        "the host opens another door with a goat and offers a switch.",
        "My first thought is that it's 50/50, so it doesn't matter whether I stay or switch.",
        "Wait, that's wrong. The host knows where the car is, so his choice carries information.",
        "Let me count the cases. If the car is behind my door (1/3), staying wins. If it is behind "
        "one of the other two (2/3), the host must open the other goat door, and switching wins.",
        "So switching wins with probability 2/3, and I should switch.",
        "Let me verify with 300 games: I pick the car in about 100 of them, so switching wins "
        "about 200 times.",
        "Therefore the answer is to switch.",
    ),
    answer="**Switch.** Switching wins with probability 2/3; staying wins 1/3.",
    final="switch",
    steps=(
        ("explore", "Okay", "Okay, so this is the Monty Hall problem"),
        ("explore", "", "My first thought"),
        ("backtrack", "Wait", "Wait, that's wrong."),
        ("explore", "", "Let me count the cases."),
        ("conclude", "So", "So switching wins"),
        ("verify", "Let me verify", "Let me verify with 300 games"),
        ("conclude", "Therefore", "Therefore the answer is to switch."),
    ),
    # Not the question's "offers a switch" (the first step restates the question), nor "stay or
    # switch" (one of two options): the first sentence that commits to it.
    first="switch.\n\nLet me verify",
)

FRACTION = Trace(
    name="a fraction",
    reasoning=_paragraphs(
        "Okay, there are 3 marbles in total and 2 of them are red.",
        "So the probability is 2 out of 3, which is 2/3.",
        "Let me double-check: the blue one is 1/3, and 1/3 + 2/3 = 1. Good.",
        "So the answer is 2/3.",
    ),
    answer="The probability is $\\frac{2}{3}$.",
    final="2/3",
    steps=(
        ("explore", "Okay", "Okay, there are 3 marbles"),
        ("conclude", "So", "So the probability is 2 out of 3"),
        ("verify", "Let me double-check", "Let me double-check:"),
        ("conclude", "So", "So the answer is 2/3."),
    ),
    first="2/3.\n\nLet me double-check",  # "2 out of 3" is words, not the value 2/3
)

MONEY = Trace(
    name="money (the bat and the ball)",
    reasoning=_paragraphs(
        "Okay, a bat and a ball cost $1.10 in total, and the bat costs $1.00 more than the ball. "
        "How much is the ball?",
        "The quick answer is 10 cents.",
        "But that doesn't work: the bat would be $1.10 and the total $1.20.",
        "Let me set it up. Ball = x, bat = x + 1.00, so 2x + 1.00 = 1.10, 2x = 0.10 and x = 0.05.",
        "Check: ball $0.05, bat $1.05, difference $1.00, total $1.10. Correct.",
        "So the ball costs 5 cents.",
    ),
    answer="The ball costs **5 cents** ($0.05).",
    final="0.05",
    steps=(
        ("explore", "Okay", "Okay, a bat and a ball"),
        ("explore", "", "The quick answer is 10 cents."),
        ("backtrack", "But", "But that doesn't work"),
        ("compute", "", "Let me set it up."),
        ("verify", "Check", "Check: ball $0.05"),
        ("conclude", "So", "So the ball costs 5 cents."),  # 5 cents is $0.05
    ),
    first="0.05.\n\nCheck:",
)

BOXED = Trace(
    name="a boxed answer",
    reasoning=_paragraphs(
        "Okay, I need the sum of the first 10 positive integers.",
        "Using n(n + 1)/2 with n = 10: 10 × 11 / 2 = 55.",
        "Let me verify by pairing: 1 + 10, 2 + 9, 3 + 8, 4 + 7, 5 + 6 are five pairs of 11, and "
        "5 × 11 = 55.",
        "So the answer is \\boxed{55}.",
    ),
    answer="The sum is $\\boxed{55}$.",
    final="55",
    steps=(
        ("explore", "Okay", "Okay, I need the sum"),
        ("compute", "", "Using n(n + 1)/2"),
        ("verify", "Let me verify", "Let me verify by pairing"),
        ("conclude", "So", "So the answer is \\boxed{55}."),
    ),
    first="55.\n\nLet me verify",
)

THOUSANDS = Trace(
    name="thousands separators, and the answer inside bigger numbers",
    reasoning=_paragraphs(
        "Okay, I need 1,000 + 391. The numbers 3910 and 1391.5 are not it, and neither is 13,910.",
        "Adding: 1,000 + 391 = 1,391.",
        "So the answer is 1,391.",
    ),
    answer="1000 + 391 = **1391**",
    final="1391",
    steps=(
        ("explore", "Okay", "Okay, I need 1,000 + 391."),
        ("compute", "", "Adding: 1,000 + 391 = 1,391."),
        ("conclude", "So", "So the answer is 1,391."),
    ),
    first="1,391.\n\nSo the answer",
)


def _long() -> Trace:
    """Forty products, each worked out, most checked, some corrected, then their sum."""
    parts = [
        "Okay, so I need the sum of forty products. I'll work them out one at a time, check them, "
        "and add them up at the end."
    ]
    steps = [("explore", "Okay", "Okay, so I need the sum of forty products.")]
    products = []
    for k in range(40):
        a, b = 13 + 2 * k, 21 + 3 * k
        tens, ones = b - b % 10, b % 10
        products.append(a * b)
        parts.append(
            f"Product number {k + 1} is {a} × {b}. Split {b} into {tens} and {ones}: {a} × "
            f"{tens} = {a * tens} and {a} × {ones} = {a * ones}, so {a} × {b} = {a * b}."
        )
        steps.append(("compute", "", f"Product number {k + 1} is"))
        if k % 5 == 2:
            parts.append(
                f"Wait, that's not right: {a} × {ones} is not {a * ones + 10}. I wrote it down "
                f"wrong at first, but the sum {a * tens} + {a * ones} = {a * b} stands."
            )
            steps.append(("backtrack", "Wait", "Wait, that's not right:"))
        if k % 3 == 0:
            parts.append(
                f"Let me check it the other way round: {b} × {a} = {b} × {a - a % 10} + {b} × "
                f"{a % 10} = {b * (a - a % 10)} + {b * (a % 10)} = {a * b}. Same result."
            )
            steps.append(("verify", "Let me check", "Let me check it the other way round:"))
        elif k % 3 == 1:
            parts.append(
                f"Hmm, is {a * b} the right size? {a} is about {round(a, -1)} and {b} about "
                f"{round(b, -1)}, which gives roughly {round(a, -1) * round(b, -1)}. Fine."
            )
            steps.append(("explore", "Hmm", f"Hmm, is {a * b} the right size?"))
    total = sum(products)
    parts.append(f"Adding all forty products: {' + '.join(map(str, products))} = {total:,}.")
    steps.append(("compute", "", "Adding all forty products:"))
    parts.append(f"Let me verify the total by adding them again in pairs. The total is {total:,}.")
    steps.append(("verify", "Let me verify", "Let me verify the total"))
    parts.append(f"So the answer is {total:,}.")
    steps.append(("conclude", "So", "So the answer is"))
    reasoning = _paragraphs(*parts)
    return Trace(
        name="long (forty products)",
        reasoning=reasoning,
        answer=f"The sum of the forty products is **{total:,}**.",
        final=str(total),
        steps=tuple(steps),
        first=f"{total:,}.\n\nLet me verify the total",  # the sum ends the long addition
        extra={"total": total},
    )


LONG = _long()

TRACES = [
    SHORT, BACKTRACK, SELF_CHECKS, OVERTHINKING, CHINESE, LOOPING, NEVER, MONTY_HALL, FRACTION,
    MONEY, BOXED, THOUSANDS, LONG,
]  # fmt: skip


def by_name(name: str) -> Trace:
    return next(trace for trace in TRACES if trace.name == name)
