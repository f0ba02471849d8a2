"""The anatomy of a reasoning trace: its steps, where the answer first appears, what follows it.

Pure text analysis by rules a teacher can explain, set out in docs/ANATOMY.md: steps split at
paragraph breaks and discourse markers, one kind per step, the final answer looked for as a value,
script switches. Regular expressions over the text: linear time.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass, fields
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from itertools import accumulate, pairwise
from typing import Any, Literal, get_args

from .public import publish

__all__ = ["Anatomy", "ScriptSwitch", "Step", "StepKind", "anatomy", "final_answer", "normalise"]

StepKind = Literal["explore", "compute", "verify", "backtrack", "conclude"]
KINDS: tuple[StepKind, ...] = get_args(StepKind)

_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f"
#: One piece ≈ one token: a CJK character, or a run of other non-space characters, with the
#: whitespace before it.
_PIECE = re.compile(f"\\s*(?:[{_CJK}]|[^\\s{_CJK}]+)")
_MIN_PIECES = 4  # a fragment shorter than this joins a neighbour
_HEAD = 200  # characters at the start of a step read for doubt and check words
_COMPUTE_SHARE = 0.35  # numbers and operators per piece that make a step compute

# Step boundaries: a paragraph break, or one of these markers opening a sentence (capitalised).
_CHECKING = "double[- ]check|re-?check|re-?count|re-?compute|re-?calculate|re-?verify|check|verify"
_CHECKING += "|confirm|make sure"
_MARKER = re.compile(
    rf"(?:Let(?: me|'s| us) (?:{_CHECKING}|try|think|see|start|consider|reconsider)"
    r"|To (?:confirm|verify|double-check|be sure)|Double[- ]check(?:ing)?|Sanity check|Checking"
    r"|Check(?=:)|Verif(?:y|ying|ication)|Is (?:that|this|it) (?:right|correct)|In conclusion"
    r"|In summary|To (?:summari[sz]e|sum up)|(?:The )?[Ff]inal answer|The answer|Hold on|Hang on"
    r"|No(?=,)|Alternatively|Wait|But|Hmm+|Actually|Oh|Oops|However|So|Therefore|Thus|Hence"
    r"|Okay|OK|Alright|All right|First(?:ly)?|Then|Next|Now|Finally)(?![\w'-])"
    r"(?![.,!]?[ \t]*(?:\n|$))"  # not a verdict ending its line ("- Wolf: ... No.\n")
    r"|等等|等一下|不对|但是|不过|所以|因此|首先|然后|接下来|或者|让我(?:检查|验证|确认|再)"
)
# A sentence ends, or a line; then its whitespace, taken whole (the `(?=(\s*))\1` idiom: no
# backtracking into it, so a long run of blank lines costs linear time).
_OPENS = r"(?:[.!?…][\"'”’)\]*]*(?=\s)|[。！？]|(?<!\s)[^\S\n]*\n)(?=(\s*))\1"
_SENTENCE_MARKER = re.compile(f"{_OPENS}(?={_MARKER.pattern})")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")

# Kinds (docs/ANATOMY.md, "Kinds"). These read the step lower-cased (case-insensitive matching
# is several times slower).
_DOUBT = {"Wait", "But", "Hmm", "Hold on", "Hang on", "Actually", "Oh", "Oops", "No", "However"}
_DOUBT |= {"等等", "等一下", "不对", "但是", "不过"}
_CONTRADICTION = re.compile(
    r"\b(?:wrong|mistaken?|not right|isn't right|can(?:no|')t be right|incorrect|instead|oops"
    r"|(?:doesn't|does not|didn't|won't) (?:work|hold|fit)|miscalculat\w*|misread|miscount\w*"
    r"|scratch that|that's not|that is not|not correct|contradict\w*|error|i assumed)\b|不对|错"
)
_STRONG = re.compile(
    r"\b(?:i made an? (?:mistake|error)|that(?:'s| is) wrong|that's not right|i was wrong"
    r"|scratch that|my mistake|oops)\b|不对"
)
_CHECK = re.compile(
    rf"\b(?:let(?: me|'s| us) (?:{_CHECKING})|double[- ]check\w*|to (?:confirm|verify)|checking"
    r"|sanity check|verif(?:y|ying|ication)|check:|is (?:that|this|it) (?:right|correct)"
    r"|did i (?:slip|make a mistake|get (?:it|that) right)|am i sure"
    r"|plug(?:ging)? (?:it |this |that |them )?(?:back )?in|substitut\w+ back|cross-check\w*)"
    r"|验证|检查"
)
_CONFIRM = re.compile(
    r"\b(?:yes|correct|checks out|matches|consistent|agrees|holds|same (?:result|answer|thing)"
    r"|as before|good|that's right)\b|✓|没错|一致"
)
_CONCLUDE = re.compile(
    r"\b(?:the (?:final )?answer (?:is|should be|would be|must be)|final answer|in conclusion"
    r"|in summary|to summari[sz]e|to sum up|that(?:'s| is) the answer)\b|\\boxed|答案是"
)
_CONCLUDING = {"Therefore", "Thus", "Hence", "In conclusion", "In summary", "To summarize"}
_CONCLUDING |= {"To summarise", "To sum up", "Final answer", "The final answer", "因此"}
_MATH = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[=+×÷√^<>≤≥−·∑∫]")
_RAW_NUMBER = re.compile(r"[0-9]+(?:[.,/][0-9]+)*")

# Numbers as stated in text: 391, 1,391, 0.05, $0.05, 3.9e2, 2/3, 50%, 5 cents, \frac{2}{3}.
_NUMBER = re.compile(
    r"(?=[-−$€£¥0-9])(?<![A-Za-z0-9_.,/^])(?:(?<![A-Za-z0-9)])[-−])?[$€£¥]?"
    r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?:[eE](?P<exp>[-+]?[0-9]{1,6}))?"
    r"(?:\s?/\s?[0-9]+(?:\.[0-9]+)?)?(?![A-Za-z0-9_/]|[.,][0-9])"
    r"(?:\s?(?:%|percent\b|per cent\b|¢|cents?\b))?|\\[dt]?frac\{[0-9]+\}\{[0-9]+\}"
)
_NUMBER_FULL = re.compile(
    r"(?:[A-Za-z]\w{0,10}\s*=\s*)?(?P<sign>[-−+])?\s*(?:[$€£¥]|US\$|USD\s?)?\s*(?P<sign2>[-−])?"
    r"(?P<num>(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE](?P<exp>[-+]?[0-9]{1,6}))?(?:\s*[/÷]\s*(?P<den>[0-9]+(?:\.[0-9]+)?))?\s*"
    r"(?P<unit>%|percent|per\s?cent|¢|cents?|[A-Za-z][\w'’./]{0,15}(?:\s+[A-Za-z][\w'’.]{0,15})?)?"
)
_NUMERIC_KEY = re.compile(r"-?[0-9.]+(?:e[-+][0-9]+)?(?:/[0-9.]+)?%?")
_CTX = Context(prec=100, Emax=MAX_EMAX, Emin=MIN_EMIN)

# Cleaning an answer: controls, HTML, LaTeX and Markdown wrappers, labels.
_CONTROL = re.compile(  # terminal escape sequences whole, then any other control character
    "\x1b\\[[0-?]{0,40}[ -/]{0,5}[@-~]|\x1b\\][^\x07\x1b]{0,300}(?:\x07|\x1b\\\\)?"
    "|[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_TAG = re.compile(r"<[^<>]{0,300}>")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]{0,100})\}\s*\{([^{}]{0,100})\}")
_WRAP = re.compile(r"\\(?:boxed|fbox|text\w{0,2}|math\w{2}|mbox|operatorname)\s*\{([^{}]{0,300})\}")
_LATEX = {"\\times": "×", "\\cdot": "·", "\\%": "%", "\\$": "$", "\\div": "÷", "\\pi": "π"}
_LATEX_JUNK = re.compile(r"\\[,;:! ]|\\(?:left|right|displaystyle)\b|\\[()\[\]]")
_MARKDOWN = re.compile(r"\*\*|__|`+|~~|^\s*(?:#{1,6}|>|[-*+]|\d+[.)])\s+", re.M)
_LABEL = re.compile(r"^(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is\b|:|=)|result\s*:)\s*", re.I)
_ENDS = " \t\n,;:!?\"'“”‘’*_"  # stripped from both ends; "." from the right end only
_WORDS = re.compile(r"√?[^\W_]+(?:['’/^.\-][^\W_]+)*")
_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]{0,200}\})*\}){0,500})\}")
_BOLD = re.compile(r"\*\*(?!\s)([^*\n]{1,300}?)\*\*")
_ANSWER_IS = re.compile(r"\banswer\s*(?:is\b|:|=)\s*(.{1,120}?)(?:[.!?;](?=\s|$)|\n|$)", re.I)

# Stating a non-numeric answer (docs/ANATOMY.md, "Where the answer first appears").
_SENTENCE_END = re.compile(r"[\n.!?。！？]")
_CONDITION = re.compile(r"\s*(?:if|whether|suppose|what if|when|assume|assuming|unless)\b", re.I)
_COMMITS = re.compile(
    r"(?i)\b(?:answer|so|therefore|thus|hence|should|must|best|better|yes|clearly|definitely"
    r"|conclude|correct|I'll|I will)\b|答案|所以|因此"
)
_OR = re.compile(r"(?i)\s+or\b")
_YES = re.compile(r"\s*(?:yes|yep|definitely|absolutely)\b", re.I)


@dataclass(frozen=True)
class Step:
    """One step of the reasoning: tokens `start`..`end`, its exact text, how it opened."""

    kind: StepKind
    start: int
    end: int
    text: str
    marker: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown step kind {self.kind!r}")


@dataclass(frozen=True)
class ScriptSwitch:
    """The reasoning changes writing system at token `at` (e.g. from "Latin" to "Han")."""

    at: int
    before: str
    after: str


@dataclass(frozen=True)
class Anatomy:
    """What a reasoning trace is made of; positions are reasoning tokens (see `anatomy`)."""

    steps: tuple[Step, ...]
    tokens: int
    answer: str
    first_answer_at: int | None
    backtracks: int
    self_checks: int
    switches: tuple[ScriptSwitch, ...] = ()
    loop: Any = None
    first_answer_step: int | None = None  # index in `steps` of the step where it first appears
    first_answer_char: int | None = None  # where it first appears, as a character offset

    @property
    def first_answer_share(self) -> float | None:
        """How far into the reasoning the answer first appears, 0..1."""
        at, tokens = self.first_answer_at, self.tokens
        return None if at is None or tokens <= 0 else at / tokens

    @property
    def after_first_answer(self) -> int | None:
        """Tokens from the answer's first appearance (included) to the end: "overthinking"."""
        return None if self.first_answer_at is None else self.tokens - self.first_answer_at

    def counts(self) -> dict[StepKind, int]:
        return {kind: sum(step.kind == kind for step in self.steps) for kind in KINDS}

    def summary(self) -> str:
        """One line: where the answer first appears, backtracks, checks, switches, a loop."""
        if not self.steps:
            return "no reasoning"
        parts = ["no final answer" if not self.answer else "answer never stated in the reasoning"]
        if self.first_answer_at is not None:
            at = _percent(self.first_answer_at, self.tokens)
            parts = [f"answer first reached at {at}%", f"{100 - at}% after"]
        for count, noun in ((self.backtracks, "backtrack"), (self.self_checks, "self-check")):
            parts.append(f"{count} {noun}{'s' * (count != 1)}")
        if self.switches:
            seen, said = {self.switches[0].before}, []
            for switch in self.switches[:3]:
                back = "back " if switch.after in seen else ""
                said.append(f"{back}to {switch.after} at {_percent(switch.at, self.tokens)}%")
                seen.add(switch.after)
            parts.append("switched " + ", ".join(said) + (", …" if len(self.switches) > 3 else ""))
        start = _loop_start(self.loop)
        if start is not None:
            parts.append(f"looping since {_percent(start, self.tokens)}%")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the loop as its own `to_dict()` (or the dict it already is)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["steps"] = [asdict(step) for step in self.steps]
        data["switches"] = [asdict(switch) for switch in self.switches]
        loop = self.loop.to_dict() if callable(getattr(self.loop, "to_dict", None)) else self.loop
        data["loop"] = loop if isinstance(loop, dict) else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Anatomy:
        """The inverse of `to_dict`; a loop comes back as the dict it was saved as."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["steps"] = tuple(Step(**step) for step in data.get("steps", ()))
        values["switches"] = tuple(ScriptSwitch(**switch) for switch in data.get("switches", ()))
        return cls(**values)


def anatomy(reasoning: str, answer: str, *, tokens: int | None = None, loop: Any = None) -> Anatomy:
    """The anatomy of `reasoning`, whose final answer is read from `answer` by `final_answer`.

    Positions count pieces (one `\\s*\\S+` piece ≈ one token; in CJK text one character is a
    piece). `tokens`: the reasoning's token count as the server reported it; positions are then
    scaled from pieces to it. `loop`: the loop guard's finding (a `Loop`), kept and summarised.
    The steps' texts joined give `reasoning` back exactly; empty or blank reasoning has no steps.
    """
    text = reasoning if isinstance(reasoning, str) else ""
    pieces = _PIECE.findall(text, 0, len(text.rstrip()))  # (trailing blanks cost no backtracking)
    n = len(pieces)
    starts = [0, *accumulate(map(len, pieces))]
    total = tokens if tokens is not None and tokens > 0 and n else n

    def scale(k: int) -> int:
        return k if total == n else (k * total + n // 2) // n

    key = final_answer(answer) if isinstance(answer, str) else ""
    spans = _spans(text, pieces, starts)
    edges = [starts[start] for start, _, _ in spans] + [len(text)]
    skip = edges[1] if len(spans) > 1 and not _NUMERIC_KEY.fullmatch(key) else 0
    said = _statements(text, key, skip) if key and spans else []
    last_said = bisect_right(edges, said[-1]) - 1 if said else -1
    seen: set[str] = set()
    steps = []
    for i, (start, end, marker) in enumerate(spans):
        body = text[edges[i] : edges[i + 1]]
        states = bisect_left(said, edges[i]) < bisect_left(said, edges[i + 1])
        kind = _kind(body, marker, end - start, states, i == last_said, seen)
        steps.append(Step(kind, scale(start), scale(end), body, marker))
    first = said[0] if said else None
    at = None if first is None else scale(bisect_right(starts, first) - 1)
    where = None if first is None else bisect_right(edges, first) - 1
    moves = [ScriptSwitch(scale(bisect_right(starts, c) - 1), b, a) for c, b, a in _switches(text)]
    checks, backtracks = [sum(s.kind == kind for s in steps) for kind in ("verify", "backtrack")]
    return Anatomy(tuple(steps), total, key, at, backtracks, checks, (*moves,), loop, where, first)


def _spans(text: str, pieces: list[str], starts: list[int]) -> list[tuple[int, int, str]]:
    """Steps as (first piece, piece after the last, marker), short fragments merged."""
    n = len(pieces)
    bounds = {0: True} if n else {}  # a step's first piece -> whether it opens a paragraph
    for m in _PARAGRAPH.finditer(text):
        if m.end() < starts[n]:
            bounds[bisect_right(starts, m.end()) - 1] = True
    for m in _SENTENCE_MARKER.finditer(text):
        bounds.setdefault(bisect_right(starts, m.end()) - 1, False)
    order = [*sorted(bounds), n]
    out: list[list[Any]] = []
    carry: list[Any] = []  # a short opening fragment waiting to join the step after it
    for start, end in pairwise(order):
        found = _MARKER.match(text, starts[start + 1] - len(pieces[start].lstrip()))
        marker = found.group() if found else ""
        step: list[Any] = [carry[0], end, carry[2] or marker] if carry else [start, end, marker]
        carry = []
        if end - step[0] >= _MIN_PIECES:
            out.append(step)
        elif (end == n or bounds[end]) and out:
            out[-1][1] = end  # a short end of a paragraph joins the step before it
        else:
            carry = step
    return [(start, end, marker) for start, end, marker in out + ([carry] if carry else [])]


def _kind(body: str, marker: str, size: int, states: bool, last: bool, seen: set[str]) -> StepKind:
    """One step's kind, by precedence: backtrack, verify, conclude, compute, explore."""
    head = body.lstrip()[:_HEAD].lower()
    numbers = _RAW_NUMBER.findall(body)
    restated = bool(numbers) and numbers[-1] in seen and _CONFIRM.search(head) is not None
    seen.update(numbers)
    # "I made a mistake", "that's wrong", "oops": a backtrack whatever opens the step.
    if _STRONG.search(head) or (marker in _DOUBT and _CONTRADICTION.search(head)):
        return "backtrack"
    if _CHECK.search(head) or restated:
        return "verify"
    if _CONCLUDE.search(body.lower()) or marker in _CONCLUDING or last:
        return "conclude"
    if states and marker in {"So", "所以"}:  # "So" and the answer: a conclusion reached
        return "conclude"
    return "compute" if len(_MATH.findall(body)) >= _COMPUTE_SHARE * max(size, 1) else "explore"


def _statements(text: str, key: str, skip: int) -> list[int]:
    """Character offsets where the reasoning states the answer `key`, in order."""
    if _NUMERIC_KEY.fullmatch(key):
        # A cheap test first: a number equal to `key` holds its first significant digits.
        runs = [run.strip("0") for run in re.findall("[0-9]+", key) if run.strip("0")]
        probe = runs[0] if runs and "/" not in key and "e" not in key else ""
        return [
            m.start()
            for m in _NUMBER.finditer(text)
            if (probe in m.group().replace(",", "") or m.group("exp"))
            and normalise(m.group()) == key
        ]
    words = _WORDS.findall(key)
    if not words:
        return []
    pattern = re.compile(r"(?i)(?<![^\W_])" + r"[\W_]+".join(map(re.escape, words)) + r"(?![^\W_])")
    ends = [m.start() for m in _SENTENCE_END.finditer(text)]
    sentences: dict[int, tuple[int, bool, bool, bool]] = {}  # each sentence read once
    found = []
    for m in pattern.finditer(text, skip):
        k = bisect_left(ends, m.start())
        begin, stop = ends[k - 1] + 1 if k else 0, ends[k] if k < len(ends) else len(text)
        if begin not in sentences:
            sentence = text[begin : stop + 1]
            sentences[begin] = (
                sentence.lower().find("whether"),
                _CONDITION.match(sentence) is None,
                sentence.rstrip()[-1:] in ("?", "？"),
                _COMMITS.search(sentence) is not None,
            )
        whether, free, question, commits = sentences[begin]
        option = 0 <= whether < m.start() - begin or bool(_OR.match(text, m.end()))  # X or
        option = option or text[max(0, m.start() - 4) : m.start()].lower() == " or "  # or X
        if free and not option and (_YES.match(text, stop + 1) if question else commits):
            found.append(m.start())
    return found


def final_answer(text: str) -> str:
    """The final answer in an answer text, normalised (`normalise`), for matching and voting.

    In order: the last `\\boxed{...}`; a bold `**...**` naming the answer ("**Answer:** 391",
    "**Final answer: 391**"), else the first bold text that is not a heading ("**Step 1:**");
    the last "the answer is X"; the last number; the first sentence as a short phrase. "" when
    there is nothing.
    """
    if not isinstance(text, str) or not text.strip():
        return ""
    for boxed in reversed(_BOXED.findall(text)):
        if value := normalise(boxed):
            return value
    first = ""
    for m in _BOLD.finditer(text):
        inner = m.group(1).strip()
        if re.search(r"answer|result", inner, re.I):
            if inner.endswith(":"):
                inner = text[m.end() : m.end() + 300].split("\n", 1)[0]
            if value := normalise(inner):
                return value
        elif not first and not inner.endswith(":"):
            first = inner
    stated = [m.group(1) for m in _ANSWER_IS.finditer(text)][-1:]
    numbers = [m.group() for m in _NUMBER.finditer(text)][-1:]
    sentence = re.split(r"(?<=[.!?])\s|\n", text.strip()[:2000], maxsplit=1)[0]
    for candidate in [first, *stated, *numbers, sentence]:
        if candidate and (value := normalise(candidate)):
            return value
    return ""


def normalise(value: str) -> str:
    """One answer as a canonical string: "391", "0.05", "2/3", "50%", "switch", or "".

    Markup goes (HTML, Markdown, LaTeX wrappers, `$…$`, "Answer:" labels, end punctuation).
    A number loses thousands commas, trailing zeros and its currency sign ("$1,000.50" is
    "1000.5"); "5 cents" and "5¢" are "0.05"; "50 percent" is "50%"; other units after a number
    go ("3 r's" is "3"); "x = 5" is "5"; exponents are written out ("3.9e2" is "390");
    fractions of whole numbers are reduced ("4/6" is "2/3"). Anything else is a phrase:
    lower-cased, punctuation dropped, a leading "the"/"a"/"an" dropped, 16 words at most.
    """
    if not isinstance(value, str):
        return ""
    text = _clean(value[:2000])
    if not _NUMBER_FULL.fullmatch(text):
        words = _WORDS.findall(text.lower())
        while len(words) > 1 and words[0] in {"the", "a", "an"}:
            words = words[1:]
        text = " ".join(words[:16])
    m = _NUMBER_FULL.fullmatch(text)  # a phrase may be a number once its markup is gone
    return (_number(m) if m else None) or text


def _clean(value: str) -> str:
    text = _TAG.sub(" ", html.unescape(_CONTROL.sub("", value)))
    for _ in range(4):  # nested wrappers, a few levels deep
        unwrapped = _WRAP.sub(r"\1", _FRAC.sub(r"\1/\2", text))
        if unwrapped == text:
            break
        text = unwrapped
    for latex, plain in _LATEX.items():
        text = text.replace(latex, plain)
    text = " ".join(_MARKDOWN.sub("", _LATEX_JUNK.sub("", text)).split()).rstrip(_ENDS + ".")
    while len(text) > 1 and text.startswith("$") and text.endswith("$"):
        text = text.strip("$").strip()
    return _LABEL.sub("", text.lstrip(_ENDS)).lstrip(_ENDS).rstrip(_ENDS + ".")


def _number(m: re.Match[str]) -> str | None:
    """The canonical form of a number matched by `_NUMBER_FULL`; None if it is not one."""
    digits = m.group("num").replace(",", "")
    if len(digits) > 60:
        return None
    value = Decimal(digits + (f"e{m.group('exp')}" if m.group("exp") else ""))
    unit = (m.group("unit") or "").lower().replace(" ", "")
    negative = bool({"-", "−"} & set((m.group("sign") or "") + (m.group("sign2") or "")))
    if m.group("den") is not None:
        below = Decimal(m.group("den"))
        small = below and max(value.adjusted(), below.adjusted()) < 30
        if small and value == value.to_integral_value() and below == below.to_integral_value():
            common = math.gcd(int(value), int(below))
            top, bottom = int(value) // common, int(below) // common
            text = str(top) if bottom == 1 else f"{top}/{bottom}"
        else:
            text = f"{_decimal(value)}/{_decimal(below)}"
    else:
        text = _decimal(_CTX.divide(value, 100) if unit in {"cent", "cents", "¢"} else value)
    text += "%" if unit in {"%", "percent"} else ""
    return "-" + text if negative and text.strip("0./%") else text


def _decimal(value: Decimal) -> str:
    value = _CTX.normalize(value)
    return format(value, "f") if -40 <= value.adjusted() <= 40 else str(value).lower()


def _switches(text: str) -> list[tuple[int, str, str]]:
    """(character offset, script before, script after) for each change of writing system."""
    if text.isascii():
        return []
    items: list[tuple[str, float, int]] = []  # (script, weight in words, offset)
    last = 0
    for m in [*re.finditer(r"[^\x00-\x7f]+", text), None]:
        stop = m.start() if m else len(text)
        first = _ASCII_WORD.search(text, last, stop)
        if first:
            items.append(("Latin", len(_ASCII_WORD.findall(text, last, stop)), first.start()))
        if m is None:
            break
        previous = None
        for offset, char in enumerate(m.group(), m.start()):
            script = _script(char)
            if script is not None and (script in _BY_CHARACTER or script != previous):
                items.append((script, 0.5 if script in _BY_CHARACTER else 1.0, offset))
            previous = script
        last = m.end()
    for least in (0.0, 1.5, 4.0):  # runs of one script; then without lone words; then short runs
        kept: list[tuple[str, float, int]] = []
        for script, weight, at in items:
            if weight >= least and kept and kept[-1][0] == script:
                kept[-1] = (script, kept[-1][1] + weight, kept[-1][2])
            elif weight >= least:
                kept.append((script, weight, at))
        items = kept
    return [(items[i][2], items[i - 1][0], items[i][0]) for i in range(1, len(items))]


_ASCII_WORD = re.compile(r"[A-Za-z]+")
_BY_CHARACTER = frozenset({"Han", "Japanese"})  # written without spaces: a character is half a word
_SCRIPT_NAMES = {"CJK": "Han", "HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HANGUL": "Hangul"}
_NOT_A_SCRIPT = {"MATHEMATICAL", "MODIFIER", "LETTERLIKE", "DOUBLE-STRUCK", ""}
_SCRIPTS: dict[str, str | None] = {}


def _script(char: str) -> str | None:
    """The writing system of a letter ("Latin", "Han", "Cyrillic", …); None for the rest."""
    if char not in _SCRIPTS:
        words = unicodedata.name(char, "").split() if char.isalpha() else []
        words = words[1:] if words[:1] in (["FULLWIDTH"], ["HALFWIDTH"]) else words
        name = words[0] if words else ""
        _SCRIPTS[char] = None if name in _NOT_A_SCRIPT else _SCRIPT_NAMES.get(name, name.title())
    return _SCRIPTS[char]


def _percent(at: int, total: int) -> int:
    return (200 * at + total) // (2 * total) if total > 0 else 0


def _loop_start(loop: Any) -> int | None:
    start = loop.get("start") if isinstance(loop, dict) else getattr(loop, "start", None)
    return start if isinstance(start, int) and not isinstance(start, bool) else None


publish(globals())
