"""Reasoning in QwQ's style, healthy and looping, for the loop guard's tests and benchmark.

Healthy traces are long monologues built from many small derivations: multiplications checked
two ways, equations solved by trying values, primality checks, casework, Python code traced
line by line, word problems, difference tables, a passage in Chinese, recaps, doubts and
re-derivations of earlier results. They lean on the stock phrases QwQ leans on ("Wait,", "Let
me check", "Hmm, but", "So the answer is", "Alternatively,") and on enumerations whose only
changes are numbers, which is what a careless detector takes for a loop. Nothing in them
truly loops: no passage comes back three times in a row.

Looping traces put a passage of a chosen length (cut from other healthy reasoning) after a
healthy prefix, several times over, with optional small edits in the later copies (a number
changed, a word swapped), and say where the loop truly starts.

Everything is generated from a seeded `random.Random`: the same seed gives the same text. A
token is one `\\s*\\S+` piece (a word with its leading space), except that each CJK character
or punctuation mark is a token of its own, as a real tokenizer would roughly count it.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "HEALTHY",
    "TOKEN",
    "LoopingTrace",
    "batches",
    "healthy_trace",
    "looping_trace",
    "tokens",
]

_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
#: One token: a CJK character, or a run of other non-space characters; with its leading space.
TOKEN = re.compile(f"\\s*(?:[{_CJK}]|[^\\s{_CJK}]+)")


def tokens(text: str) -> list[str]:
    """The text cut into tokens; joined again they give the text (bar trailing whitespace)."""
    return TOKEN.findall(text)


def batches(pieces: list[str], size: int) -> list[tuple[str, int]]:
    """Pieces joined `size` at a time, each with the cumulative token count after it."""
    return [
        ("".join(pieces[i : i + size]), min(i + size, len(pieces)))
        for i in range(0, len(pieces), size)
    ]


_NAMES = (
    "Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Kofi", "Lena", "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
)  # fmt: skip
_THINGS = (
    "books", "chairs", "flags", "beads", "cards", "marbles", "stamps", "coins", "pencils",
    "tiles", "plants", "posters",
)  # fmt: skip
_PRIMES = [p for p in range(2, 100) if all(p % q for q in range(2, int(p**0.5) + 1))]


class _Writer:
    """One trace being written: the random source, the text so far, and results to revisit."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.parts: list[str] = []
        self.count = 0
        # results worth re-deriving later: (what, how to derive it again)
        self.facts: list[tuple[str, Callable[[], None]]] = []

    def pick(self, *options: str) -> str:
        return self.r.choice(options)

    def maybe(self, chance: float) -> bool:
        return self.r.random() < chance

    def say(self, *sentences: str) -> None:
        """Sentences of one paragraph, joined by spaces."""
        text = " ".join(s for s in sentences if s)
        self.parts.append(text)
        self.count += len(tokens(text))

    def text(self) -> str:
        return "\n\n".join(self.parts)


def _hedge(w: _Writer) -> str:
    return w.pick(
        "Wait, let me check that.",
        "Let me check that again.",
        "Hmm, but let me double-check.",
        "Wait, is that right?",
        "Let me verify this another way.",
        "Hmm, let me make sure.",
        "Let me check this once more, to be safe.",
        "Wait, did I slip somewhere?",
        "",
    )


def _multiply(w: _Writer, a: int = 0, b: int = 0, again: bool = False) -> None:
    a = a or w.r.choice([n for n in range(12, 99) if n % 10])
    b = b or w.r.choice([n for n in range(12, 99) if n % 10])
    p = a * b
    tens, ones = divmod(b, 10)
    lead = (
        w.pick(
            f"Let me redo {a} × {b} from scratch.",
            f"Going back to {a} × {b}: I want to be sure of it.",
            f"Hmm, but was {a} × {b} really {p}? Let me recompute.",
        )
        if again
        else w.pick(
            f"Now I need {a} × {b}.",
            f"Next, compute {a} times {b}.",
            f"Let me work out {a} × {b}.",
            f"Okay, so the next step is {a} multiplied by {b}.",
        )
    )
    first = w.pick(
        f"Split {b} into {tens * 10} and {ones}: {a} × {tens * 10} = {a * tens * 10}, "
        f"and {a} × {ones} = {a * ones}, so the total is {a * tens * 10} + {a * ones} = {p}.",
        f"{a} × {b} = {a} × {tens * 10} + {a} × {ones} = {a * tens * 10} + {a * ones} = {p}.",
        f"Breaking it up: {a} times {tens * 10} is {a * tens * 10}, {a} times {ones} is "
        f"{a * ones}, which adds up to {p}.",
    )
    round_up = -(-b // 10) * 10
    second = w.pick(
        f"Alternatively, {a} × {round_up} = {a * round_up}, minus {a} × {round_up - b} = "
        f"{a * (round_up - b)}, gives {a * round_up - a * (round_up - b)}.",
        f"The other way round: {b} × {a} = {b} × {a // 10 * 10} + {b} × {a % 10} = "
        f"{b * (a // 10 * 10)} + {b * (a % 10)} = {p}.",
        f"Rough check: {a} is about {round(a, -1)} and {b} about {round(b, -1)}, and "
        f"{round(a, -1)} × {round(b, -1)} = {round(a, -1) * round(b, -1)}, close to {p}.",
    )
    close = w.pick(
        f"Same result, so {a} × {b} = {p}.",
        f"Good, {p} it is.",
        f"Okay, that matches: {p}.",
        f"So {p}. That checks out.",
    )
    w.say(lead, first, _hedge(w), second, close)
    if w.maybe(0.3) and not again:
        shown = w.r.randint(6, 12)
        table = ", ".join(f"{a} × {k} = {a * k}" for k in range(1, shown + 1))
        w.say(
            w.pick(
                f"Actually, let me just list the multiples of {a} to be safe:",
                f"Hmm, let me write out {a}'s table:",
                "Let me write the multiples out:",
            ),
            table + ".",
            w.pick(f"So {a} × {b} fits the pattern.", "Fine.", "Right, consistent."),
        )
    if not again:
        w.facts.append((f"{a} × {b} = {p}", lambda: _multiply(w, a, b, again=True)))


def _trial(w: _Writer) -> None:
    root = w.r.randint(3, 9)
    kind = w.r.randrange(3)
    f: Callable[[int], int]
    if kind == 0:
        b = w.r.randint(1, 9)
        f, name = (lambda x: x * x + b * x), f"x² + {b}x"
    elif kind == 1:
        f, name = (lambda x: x**3 - x), "x³ − x"
    else:
        f, name = (lambda x: 2**x + x), "2^x + x"
    target = f(root)
    show = f"{name} = {target}"
    w.say(
        w.pick(
            f"Now solve {show} for a positive integer x.",
            f"I need a positive integer x with {show}.",
            f"Okay, the equation is {show}. Maybe just try small values.",
        ),
        w.pick("There's probably a clean integer answer.", "Let me try values.", ""),
    )
    steps = []
    for x in range(1, root + 1):
        value = f(x)
        verdict = "that's it" if value == target else w.pick("no", "too small", f"not {target}")
        steps.append(
            w.pick(
                f"Try x = {x}: {name} = {value}, {verdict}.",
                f"x = {x} gives {value}, {verdict}.",
                f"If x = {x}, then {value}; {verdict}.",
                f"x = {x}: {value}. {verdict.capitalize()}.",
            )
        )
    w.say(*steps)
    if w.maybe(0.5):
        w.say(
            w.pick(
                f"And x = {root + 1} gives {f(root + 1)}, already too big, so x = {root} is the "
                "only one.",
                f"Hmm, but could there be another root? The left side grows with x, so no: x = "
                f"{root}.",
            )
        )
    w.say(w.pick(f"So x = {root}.", f"So the answer is x = {root}.", f"Okay, x = {root}."))


def _primality(w: _Writer, n: int = 0) -> None:
    n = n or w.r.choice([w.r.randrange(101, 999, 2), w.r.choice(_PRIMES[10:]) * w.r.randint(3, 11)])
    w.say(
        w.pick(
            f"Is {n} prime?",
            f"Next question: is {n} a prime number?",
            f"Let me check whether {n} has any divisors.",
        ),
        w.pick(
            f"I only need primes up to √{n}, which is about {math.isqrt(n)}.",
            f"√{n} is a bit over {math.isqrt(n)}, so test primes up to that.",
        ),
    )
    lines = []
    divisor = 0
    for p in _PRIMES:
        if p * p > n:
            break
        q, rem = divmod(n, p)
        if p == 2:
            line = f"It's {'even' if rem == 0 else 'odd'}, so {'' if rem == 0 else 'not '}by 2."
        elif p == 3:
            s = sum(map(int, str(n)))
            line = f"Digit sum {s}, {'' if s % 3 == 0 else 'not '}divisible by 3."
        elif p == 5:
            line = f"Ends in {n % 10}, so {'' if rem == 0 else 'not '}by 5."
        else:
            line = w.pick(
                f"{p} × {q} = {p * q}, remainder {rem}.",
                f"{n} ÷ {p} = {q} remainder {rem}.",
                f"By {p}: {p} × {q} = {p * q}, {n} − {p * q} = {rem}.",
            )
        lines.append(line)
        if rem == 0:
            divisor = p
            break
    w.say(*lines)
    if divisor:
        w.say(
            w.pick(
                f"So {n} = {divisor} × {n // divisor}, not prime.",
                f"There it is: {n} is {divisor} times {n // divisor}. Composite.",
            )
        )
    else:
        w.say(w.pick(f"No divisor, so {n} is prime.", f"Nothing divides it: {n} is prime."))


def _casework(w: _Writer) -> None:
    n = w.r.randint(4, 7)
    a, b = w.r.sample(_NAMES, 2)
    thing = w.r.choice(_THINGS)
    w.say(
        w.pick(
            f"How many ways can {n} people sit in a row if {a} and {b} must sit together?",
            f"Count the orderings of {n} people where {a} and {b} stay next to each other.",
        ),
        w.pick(
            f"Treat {a} and {b} as one block. Then there are {n - 1} units.",
            f"Glue {a} and {b} together into a single unit, leaving {n - 1} units to arrange.",
        ),
    )
    facts = ", ".join(f"{k}! = {math.factorial(k)}" for k in range(1, n))
    w.say(
        w.pick("Factorials:", "Let me list the factorials I need:", "Quick table:"),
        facts + ".",
        f"The units can be ordered in {n - 1}! = {math.factorial(n - 1)} ways, and inside the "
        f"block {a} and {b} can swap, so × 2 = {2 * math.factorial(n - 1)}.",
    )
    if w.maybe(0.6):
        w.say(
            w.pick("Hmm, but let me check with casework.", "Alternatively, count by position."),
            *(
                f"Case {k}: the pair takes seats {k} and {k + 1}; the other {n - 2} people fill "
                f"the rest in {math.factorial(n - 2)} ways, times 2 for the order."
                if k == 1 or k == n - 1
                else f"Case {k}: seats {k}–{k + 1}, again {2 * math.factorial(n - 2)}."
                for k in range(1, n)
            ),
            f"{n - 1} cases × {2 * math.factorial(n - 2)} = {2 * math.factorial(n - 1)}. Same.",
        )
    w.say(f"Now with {thing}: if the {thing} are all different, the same count applies.")
    w.say(w.pick(f"So the answer is {2 * math.factorial(n - 1)}.", "Okay, that part is done."))


_TASKS = {
    "digit sum": (
        "def {f}({n}):\n    {t} = 0\n    while {n} > 0:\n        {t} += {n} % 10\n"
        "        {n} //= 10\n    return {t}"
    ),
    "gcd": "def {f}(a, b):\n    while b:\n        a, b = b, a % b\n    return a",
    "running max": (
        "def {f}({n}s):\n    best = {n}s[0]\n    for {t} in {n}s[1:]:\n        if {t} > best:\n"
        "            best = {t}\n    return best"
    ),
    "fibonacci": "def {f}(k):\n    a, b = 0, 1\n    for _ in range(k):\n        a, b = b, a + b\n"
    "    return a",
}


def _code(w: _Writer) -> None:
    task = w.r.choice(sorted(_TASKS))
    f = w.pick("solve", "compute", "helper", "f", "check", "result_for")
    n, t = w.r.choice([("n", "total"), ("x", "acc"), ("num", "s"), ("value", "out")])
    source = _TASKS[task].format(f=f, n=n, t=t)
    w.say(
        w.pick(
            f"Let me write a small Python function for the {task}, to check by machine.",
            f"Maybe code helps. A {task} function:",
            f"I could also just write the {task} in Python:",
        ),
        f"\n\n```python\n{source}\n```\n",
        w.pick("Let me trace it by hand.", "Tracing it:", "Let me step through it."),
    )
    steps = []
    value: object
    if task == "digit sum":
        total = 0
        value = rest = w.r.randint(1000, 99999)
        while rest:
            total += rest % 10
            rest //= 10
            steps.append(f"{n} = {rest}, {t} = {total}")
        result = total
    elif task == "gcd":
        a, b = w.r.randint(100, 999), w.r.randint(20, 300)
        value = (a, b)
        while b:
            a, b = b, a % b
            steps.append(f"a = {a}, b = {b}")
        result = a
    elif task == "running max":
        items = [w.r.randint(-20, 60) for _ in range(w.r.randint(5, 9))]
        value, best = items, items[0]
        for item in items[1:]:
            best = max(best, item)
            steps.append(f"{t} = {item}, best = {best}")
        result = best
    else:
        value = w.r.randint(6, 14)
        a, b = 0, 1
        for i in range(value):
            a, b = b, a + b
            steps.append(f"step {i + 1}: a = {a}")
        result = a
    w.say(f"With {value}:", "; ".join(steps) + ".", f"It returns {result}.")
    w.say(w.pick("Matches what I expected.", "Okay, the code agrees.", "Good, consistent."))


def _word_problem(w: _Writer) -> None:
    a, b = w.r.sample(_NAMES, 2)
    kind = w.r.randrange(3)
    if kind == 0:
        va, vb = w.r.randint(40, 90), w.r.randint(40, 90)
        hours = w.r.randint(2, 6)
        gap = (va + vb) * hours
        w.say(
            f"Two trains start {gap} km apart and head toward each other, {a}'s at {va} km/h "
            f"and {b}'s at {vb} km/h. When do they meet?",
            f"Closing speed is {va} + {vb} = {va + vb} km/h, so the time is {gap} / {va + vb}.",
            w.pick(
                f"{va + vb} × {hours} = {gap}, so {hours} hours.",
                f"{gap} divided by {va + vb} is {hours}.",
            ),
            _hedge(w),
            f"In {hours} hours {a} covers {va * hours} km and {b} covers {vb * hours} km; "
            f"{va * hours} + {vb * hours} = {gap}. Yes.",
        )
    elif kind == 1:
        age = w.r.randint(6, 20)
        factor = w.r.randint(2, 4)
        later = w.r.randint(3, 12)
        w.say(
            f"{a} is {factor} times as old as {b}. In {later} years the sum of their ages will be "
            f"{factor * age + age + 2 * later}. How old is {b}?",
            f"Let {b}'s age be y. Then {factor}y + y + {2 * later} = "
            f"{factor * age + age + 2 * later}, so {factor + 1}y = {(factor + 1) * age}, "
            f"y = {age}.",
            w.pick("Hmm, but let me plug it back in.", "Check:", "Let me verify."),
            f"{a} is {factor * age}, {b} is {age}; in {later} years {factor * age + later} + "
            f"{age + later} = {factor * age + age + 2 * later}. Right.",
        )
    else:
        ha, hb = w.r.choice(
            [(2, 3), (3, 6), (4, 12), (5, 20), (6, 12), (8, 24), (9, 18), (10, 15), (12, 24)]
        )
        if w.maybe(0.5):
            ha, hb = hb, ha
        job = w.pick("paints a fence", "fills a tank", "mows a lawn", "types a report")
        lcm = ha * hb // math.gcd(ha, hb)
        units = lcm // ha + lcm // hb
        together = lcm / units
        w.say(
            w.pick(
                f"{a} {job} in {ha} hours and {b} in {hb}. How long together?",
                f"Working alone, {a} takes {ha} hours and {b} takes {hb}; together?",
            ),
            w.pick(
                f"Rates add: 1/{ha} + 1/{hb} = {lcm // ha}/{lcm} + {lcm // hb}/{lcm} = "
                f"{units}/{lcm} of the job per hour, so {lcm}/{units} = {together:g} hours.",
                f"Say the job is {lcm} units. {a} does {lcm // ha} an hour, {b} does {lcm // hb}, "
                f"so {units} an hour together, and {lcm} / {units} = {together:g} hours.",
            ),
            w.pick(
                f"That's less than {min(ha, hb)} hours, as it must be.",
                "Hmm, but is that reasonable? Two people should be faster than the faster "
                "one alone, and it is.",
                "",
            ),
        )


def _sequence(w: _Writer) -> None:
    a, b, c = w.r.randint(1, 5), w.r.randint(-4, 9), w.r.randint(-9, 9)
    terms = [a * k * k + b * k + c for k in range(1, 7)]
    first = [y - x for x, y in itertools.pairwise(terms)]
    second = [y - x for x, y in itertools.pairwise(first)]
    w.say(
        w.pick(
            f"The sequence goes {', '.join(map(str, terms[:5]))}, … What's the next term?",
            f"Find the pattern in {', '.join(map(str, terms[:5]))}.",
        ),
        f"Differences: {', '.join(map(str, first[:4]))}.",
        f"Second differences: {', '.join(map(str, second[:3]))}, constant, so it's quadratic.",
        w.pick(
            f"Next difference is {first[4]}, so the next term is {terms[4]} + {first[4]} = "
            f"{terms[5]}.",
            f"So the sixth term is {terms[5]}.",
        ),
    )
    if w.maybe(0.5):
        w.say(
            f"Let me fit an² + bn + c: the second difference {2 * a} means a = {a}.",
            f"Then n = 1 gives {a} + b + c = {terms[0]} and n = 2 gives {4 * a} + 2b + c = "
            f"{terms[1]}; subtracting, {3 * a} + b = {terms[1] - terms[0]}, so b = {b}, c = {c}.",
            f"Check n = 6: {36 * a} + {6 * b} + {c} = {terms[5]}. Yes.",
        )


def _geometry(w: _Writer) -> None:
    m, n = w.r.randint(2, 6), w.r.randint(1, 5)
    if m <= n:
        m, n = n + 1, m
    k = w.r.randint(1, 3)
    x, y, z = k * (m * m - n * n), k * 2 * m * n, k * (m * m + n * n)
    w.say(
        w.pick(
            f"A right triangle has legs {x} and {y}. The hypotenuse?",
            f"Legs {x} and {y}: what's the third side?",
        ),
        f"{x}² = {x * x}, {y}² = {y * y}, sum {x * x + y * y}.",
        w.pick(f"√{z * z} = {z}, since {z}² = {z * z}.", f"And {z}² is {z * z}, so {z}."),
        w.pick(
            f"The area is {x} × {y} / 2 = {x * y // 2}.",
            f"Perimeter: {x} + {y} + {z} = {x + y + z}.",
            "",
        ),
    )


_ZH_OPEN = (
    "嗯，让我用中文再梳理一下思路。",
    "好的，我换一种方式想这个问题。",
    "让我再仔细想一想。",
)
_ZH_MID = (
    "首先，{a}乘以{b}等于{p}，这一步应该没有问题。",
    "如果{x}等于{k}，那么结果是{v}，不满足条件。",
    "等等，我是不是算错了？{a}加{b}等于{s}，没错。",
    "换一种方法验证：{p}除以{a}等于{b}，和前面一致。",
    "题目要求的是所有满足条件的{thing}的个数，不是总和。",
    "我们先列出前几项：{seq}，可以看出每次增加的量在变大。",
    "不对，这里好像漏掉了一种情况，需要把{k}也考虑进去。",
    "这样的话，总共有{s}种可能，其中{k}种被排除了。",
)
_ZH_CLOSE = ("所以答案应该是{p}。", "好，现在我比较确定了，答案是{s}。", "嗯，这样就说得通了。")
_ZH_THINGS = ("整数", "排列", "三角形", "数对", "路径")


def _chinese(w: _Writer) -> None:
    a, b = w.r.randint(11, 99), w.r.randint(11, 99)
    values = {
        "a": a, "b": b, "p": a * b, "s": a + b, "x": w.r.choice("xyn"), "k": w.r.randint(2, 9),
        "v": w.r.randint(10, 200), "thing": w.r.choice(_ZH_THINGS),
        "seq": "，".join(str(i * i + a % 7) for i in range(1, 6)),
    }  # fmt: skip
    middle = w.r.sample(_ZH_MID, w.r.randint(3, 6))
    text = w.pick(*_ZH_OPEN) + "".join(s.format(**values) for s in middle)
    w.say(text + w.pick(*_ZH_CLOSE).format(**values))
    w.say(w.pick("Okay, back to English.", "Alright.", "So, continuing.", ""))


def _recap(w: _Writer) -> None:
    if len(w.facts) < 2:
        return _doubt(w)
    chosen = w.r.sample(w.facts, min(len(w.facts), w.r.randint(2, 5)))
    items = "\n".join(f"{i}. {fact}" for i, (fact, _) in enumerate(chosen, 1))
    w.say(
        w.pick(
            "Let me summarize what I have so far:",
            "Okay, let me list the results so far:",
            "Recap:",
        ),
        "\n" + items + "\n",
    )
    if w.maybe(0.5):
        fact, again = w.r.choice(chosen)
        w.say(w.pick("Hmm, but", "Wait,"), f"am I sure about {fact}?")
        again()
    return None


def _doubt(w: _Writer) -> None:
    w.say(
        w.pick(
            "Hmm, but maybe I misread the question.",
            "Wait, let me reread the problem statement.",
            "Hold on. Is the question asking for something else?",
            "Hmm. Let me step back for a moment.",
        ),
        w.pick(
            "No, it really asks for the count, not the sum.",
            "It asks for the smallest such number, and that's what I computed.",
            "The wording says 'at least', so the boundary case counts too.",
            "Okay, I had it right.",
            "It says integers, not necessarily positive. Hmm, but negatives don't work here "
            "because the left side would be negative.",
        ),
        w.pick(
            "Alternatively, there might be a slicker argument, but this is fine.",
            "Let me keep going.",
            "So the approach stands.",
            "",
        ),
    )


_SECTIONS: list[tuple[Callable[[_Writer], None], int]] = [
    (_multiply, 6),
    (_trial, 4),
    (_primality, 4),
    (_casework, 2),
    (_code, 3),
    (_word_problem, 4),
    (_sequence, 3),
    (_geometry, 3),
    (_chinese, 1),
    (_recap, 2),
    (_doubt, 3),
]


def _opener(w: _Writer) -> None:
    w.say(
        w.pick(
            "Okay, so I need to work through this problem set carefully.",
            "Alright, let's see. There are several parts here.",
            "Okay, let me start with the first part and go one step at a time.",
        ),
        w.pick(
            "Each part builds on simple arithmetic, so I'll check everything twice.",
            "I'll be careful with the arithmetic.",
            "",
        ),
    )


@functools.cache
def healthy_trace(seed: int, length: int) -> str:
    """A healthy trace of about `length` tokens (a little more: whole paragraphs)."""
    w = _Writer(seed)
    _opener(w)
    sections = [section for section, _ in _SECTIONS]
    weights = [weight for _, weight in _SECTIONS]
    chinese_done = False
    previous = None
    while w.count < length:
        section = w.r.choices(sections, weights)[0]
        if section is previous:
            continue  # one kind of step twice in a row reads like a loop, and isn't QwQ
        previous = section
        if section is _chinese:
            if chinese_done:
                continue
            chinese_done = True
        if not chinese_done and w.count > length // 2:
            section = _chinese  # every long trace has its passage in Chinese
            chinese_done = True
        section(w)
        if w.maybe(0.35):
            w.say(
                w.pick(
                    "Okay, moving on.",
                    "Alright, next part.",
                    "Hmm, but let me not rush.",
                    "So that part is settled.",
                    "Let me check the next item.",
                )
            )
    w.say(w.pick("So the answer is what I listed above.", "Okay, I'm confident in these answers."))
    return w.text()


#: (seed, length in tokens) of the healthy corpus: eight traces, five of them 5,000 or more.
HEALTHY = [(1, 800), (2, 1500), (3, 3000), (4, 5000), (5, 6000), (6, 8000), (7, 12000), (8, 20000)]


@dataclass(frozen=True)
class LoopingTrace:
    """Healthy text, then a passage `copies` times over; where the loop truly starts."""

    text: str
    pieces: list[str]  # the text as tokens
    start: int  # token index where the first copy begins
    start_char: int  # character offset where the first copy begins
    period: int  # tokens per copy
    copies: int
    second_char: int  # character offset where the second copy begins


_SWAPS = ("now", "again", "then", "first", "just", "also", "still", "so", "here", "this")


def _edit(piece: str, r: random.Random) -> str:
    """The token with a small change: another number, or another word."""
    space = piece[: len(piece) - len(piece.lstrip())]
    word = piece[len(space) :]
    if re.search(r"\d", word):
        return space + re.sub(
            r"\d+", lambda m: str(int(m.group()) + r.randint(1, 9)), word, count=1
        )
    if re.fullmatch(f"[{_CJK}]", word):
        return space + r.choice("这那再也就还")
    return space + r.choice([s for s in _SWAPS if s != word.lower()])


def _passage(seed: int, period: int, chinese: bool) -> list[str]:
    """`period` tokens of healthy reasoning, starting at a sentence."""
    r = random.Random(seed)
    if chinese:
        w = _Writer(seed)
        while w.count < period + 10:
            _chinese(w)  # a paragraph in Chinese, then one in English
        return tokens("".join(w.parts[::2]))[:period]
    pieces = tokens(healthy_trace(1000 + seed % 7, 3000))
    starts = [i + 1 for i, p in enumerate(pieces[:-period]) if p.endswith(".")]
    at = r.choice(starts)
    passage = pieces[at : at + period]
    if not passage[0][:1].isspace():
        passage[0] = " " + passage[0]
    return passage


def looping_trace(
    prefix_tokens: int,
    period_tokens: int,
    copies: int = 6,
    edit_every: int = 0,
    seed: int = 0,
    chinese: bool = False,
) -> LoopingTrace:
    """A healthy prefix, then a passage of `period_tokens` tokens `copies` times.

    With `edit_every` n, the copies after the first carry an edit (a number or a word changed)
    about every n tokens, each copy its own; the first copy is the passage as it was.
    """
    r = random.Random(seed)
    prefix = tokens(healthy_trace(500 + seed % 11, prefix_tokens + 200))[:prefix_tokens]
    passage = _passage(seed, period_tokens, chinese)
    looped: list[str] = []
    budget = 0.0
    for copy in range(copies):
        current = list(passage)
        if copy and edit_every:
            budget += period_tokens / edit_every
            for _ in range(int(budget)):
                i = r.randrange(period_tokens)
                current[i] = _edit(current[i], r)
            budget -= int(budget)
        looped += current
    start_char = len("".join(prefix))
    return LoopingTrace(
        text="".join(prefix + looped),
        pieces=prefix + looped,
        start=len(prefix),
        start_char=start_char,
        period=period_tokens,
        copies=copies,
        second_char=start_char + len("".join(looped[:period_tokens])),
    )
