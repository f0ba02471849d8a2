"""`%%qwq --compare temperature=0.2,0.6,1.0`: one prompt under several settings, side by side.

The runs go out at once and stream into one output. While they run, the view shows each run's
status and the tail of its text (a fixed-size update, so the cost stays linear); at the end it
shows each reply and a table of tokens, times, cost, finish reason and whether answers agree.
Comparison runs are not part of the conversation; `%qwq pick N` makes run N its next turn.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from traitlets import Int

from ..core.diverge import diverge
from ..core.errors import ConfigurationError
from ..core.events import AnswerDelta, Event, ReasoningDelta, Response
from ..core.printable import printable
from ..core.settings import NUMERIC_PARAMETERS, QwQSettings
from ..render.html import block, document, escape, markdown, preformatted
from ..render.render import (
    answer_html,
    cut_summary,
    footer_html,
    footer_text,
    money,
    note_html,
    reasoning_html,
    reasoning_summary,
    steering_html,
    steering_lines,
)
from ..session.frontend import LiveDisplay, frontend
from ..session.redaction import LiveRedaction
from ..session.session import REPLY_REDACTED

if TYPE_CHECKING:
    from ..client.stream import ResponseStream
    from ..session.session import Ask, Session

__all__ = ["Comparison", "parse_spec", "run_comparison"]

REFRESH_INTERVAL = 0.5
TAIL = 240
#: Runs of one comparison, at most: each is a request in flight at the same time.
MAX_RUNS = 6


#: Besides the model parameters, how the thinking is steered can be compared: budgets side by
#: side are how a class sees what thinking buys.
_STEERING = ("think_budget", "think_min", "max_cost")
COMPARABLE = (*NUMERIC_PARAMETERS, *_STEERING)


def parse_spec(spec: str, settings: QwQSettings) -> tuple[str, list[Any]]:
    """'temperature=0.2,0.6,1.0' -> ('temperature', [0.2, 0.6, 1.0]), validated."""
    name, equals, values = spec.partition("=")
    name = name.strip().replace("-", "_")
    if not equals or name not in COMPARABLE:
        raise ConfigurationError(
            f"--compare wants PARAM=V1,V2,… with a numeric model parameter or "
            f"{', '.join(_STEERING)}, not {spec!r}"
        )
    kind = int if isinstance(settings.traits()[name], Int) else float
    try:
        parsed = [kind(value) for value in values.split(",") if value.strip()]
    except ValueError:
        raise ConfigurationError(f"--compare: {values!r} are not {kind.__name__} values") from None
    if not 2 <= len(parsed) <= MAX_RUNS:
        # Each value is a call running at once: a long list would open as many connections.
        raise ConfigurationError(f"--compare takes 2 to {MAX_RUNS} values, not {len(parsed)}")
    for value in parsed:
        settings.override(**{name: value})  # refuse out-of-range values before sending
    return name, parsed


@dataclass
class Run:
    label: str
    ask: Ask
    response: Response = field(default_factory=Response)
    chars: int = 0
    tail: str = ""
    answering: bool = False


def agreement_key(answer: str) -> str:
    """What two answers must share to agree: a boxed value, else the last number, else text."""
    boxed: list[str] = re.findall(r"\\boxed\{([^{}]*)\}", answer)
    if boxed:
        return boxed[-1].strip()
    numbers: list[str] = re.findall(r"-?\d+(?:\.\d+)?", answer.replace(",", ""))
    if numbers:
        return numbers[-1]
    return " ".join(answer.lower().split())


class Comparison:
    """The finished runs; `rows()` is the table, `%qwq pick N` the way into the conversation."""

    def __init__(self, name: str, runs: list[Run], notes: list[str] | None = None) -> None:
        self.parameter = name
        self.runs = runs
        self.notes = notes or []

    @property
    def responses(self) -> list[Response]:
        return [run.response for run in self.runs]

    def agreement(self) -> list[bool]:
        keys = [agreement_key(r.answer) if r.answer else None for r in self.responses]
        common = Counter(k for k in keys if k is not None).most_common(1)
        majority = common[0][0] if common else None
        return [key is not None and key == majority for key in keys]

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for run, agrees in zip(self.runs, self.agreement(), strict=True):
            r = run.response
            anatomy = r.anatomy() if r.reasoning else None
            share = anatomy.first_answer_share if anatomy else None
            rows.append(
                {
                    "run": run.label,
                    "reasoning tokens": r.reasoning_tokens,
                    "answer tokens": r.answer_tokens,
                    "thinking s": None if r.thinking_time is None else round(r.thinking_time, 2),
                    "total s": round(r.total_time, 2),
                    "cost $": None if r.cost is None else round(r.cost, 6),
                    "finish": r.finish_reason,
                    "thinking cut": _cut(r),
                    "answer at": None if share is None else f"{share:.0%}",
                    "backtracks": anatomy.backtracks if anatomy else None,
                    "checks": anatomy.self_checks if anatomy else None,
                    "agrees": agrees,
                }
            )
        return rows

    def divergence(self) -> str:
        """Where the reasonings of runs 1 and 2 part, in a sentence (`%qwq diff r1 r2` shows it)."""
        first, second = (run.response for run in self.runs[:2])
        if not (first.reasoning and second.reasoning):
            return ""
        parting = diverge(first.anatomy(), second.anatomy())
        return f"Runs 1 and 2: {parting.summary()} (%qwq diff r1 r2 shows where)."

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": render_comparison(self), "text/plain": comparison_plain(self)}

    def __repr__(self) -> str:
        agree = sum(self.agreement())
        return f"<Comparison of {self.parameter}: {len(self.runs)} runs, {agree} agree>"


def _grid(columns: list[str]) -> str:
    """Runs side by side, each at least 16em wide; a narrow output wraps them onto rows.

    Flexbox rather than a CSS grid: `repeat(…, minmax(…))` nests functions, which the
    sanitiser's style filter does not keep.
    """
    cells = "".join(
        block(column, "qwq-run", "flex: 1 1 16em; min-width: 0; overflow-wrap: anywhere")
        for column in columns
    )
    return block(cells, "qwq-grid", "display: flex; flex-wrap: wrap; gap: 1.5em")


def _cut(response: Response) -> str:
    """Where steering cut the thinking, for the table: "200 tokens (think_budget)", or "no"."""
    cut = response.cut
    if cut is None:
        return "loop warned" if response.loop is not None else "no"
    return cut_summary(cut)


def _cell(name: str, value: Any) -> str:
    if name == "cost $" and value is not None:
        return money(value)
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_comparison(comparison: Comparison) -> str:
    """Each run's reasoning (folded), answer and footer in a column; the table below."""
    columns = []
    for number, run in enumerate(comparison.runs, 1):
        r = run.response
        pieces = [f"<p><b>{escape(f'{number}. {run.label}')}</b></p>"]
        if r.reasoning:
            pieces.append(reasoning_html(reasoning_summary(r), r.reasoning))
        pieces += [steering_html(line) for line in steering_lines(r)]
        if r.answer:
            pieces.append(answer_html(r.answer))
        else:
            pieces.append(f"<p><i>{escape(f'(no answer: {r.finish_reason})')}</i></p>")
        pieces.append(footer_html(footer_text(r)))
        columns.append("".join(pieces))
    rows = comparison.rows()
    head = "".join(f"<th>{escape(name)}</th>" for name in rows[0])
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape(_cell(name, value))}</td>" for name, value in row.items())
        + "</tr>"
        for row in rows
    )
    agree = sum(comparison.agreement())
    summary = (
        f"{agree} of {len(rows)} answers agree. These runs are not in the conversation; "
        "`%qwq pick N` makes run N its next turn."
    )
    parting = comparison.divergence()
    return document(
        [
            *[note_html(note) for note in comparison.notes],
            _grid(columns),
            f'<table class="qwq-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
            f"<p>{escape(parting)}</p>" if parting else "",
            block(markdown(summary, math=False), "qwq-note"),
        ]
    )


def comparison_plain(comparison: Comparison) -> str:
    lines = [f"note: {note}" for note in comparison.notes]
    for number, run in enumerate(comparison.runs, 1):
        r = run.response
        lines.append(f"{number}. {run.label}")
        lines += steering_lines(r)
        lines += [r.answer or f"(no answer: {r.finish_reason})", f"[{footer_text(r)}]"]
    agree = sum(comparison.agreement())
    if comparison.divergence():
        lines.append(comparison.divergence())
    lines.append(f"{agree} of {len(comparison.runs)} answers agree; %qwq pick N keeps run N.")
    return printable("\n".join(lines))


def run_comparison(
    session: Session,
    prompt: str,
    settings: QwQSettings,
    spec: str,
    *,
    chat: str | None = None,
    new: bool = False,
    history: bool = True,
) -> Comparison:
    """Run `prompt` once per value of `spec` ("temperature=0.2,0.6"), all at once.

    A notebook shows the runs side by side while they stream; a terminal gets one line per
    run at the end.
    """
    name, values = parse_spec(spec, settings)
    runs = []
    for value in values:
        variant = settings.override(**{name: value})
        ask = session.ask(prompt, variant, chat=chat, new=new, history=history)
        runs.append(Run(f"{name}={value:g}", ask))
    streams: list[ResponseStream] = []
    grid: LiveDisplay | None = None
    started = time.monotonic()
    try:
        session.check_budget([run.ask for run in runs])
        # Started inside the protected region: ■ while the runs go out cancels those sent.
        for run in runs:
            streams.append(session.start(run.ask))
        grid = frontend().live_display(lambda: _live_bundle(runs, started), REFRESH_INTERVAL)
        shown = [LiveRedaction(session.secrets(run.ask.settings)) for run in runs]
        while not all(stream.finished for stream in streams):
            for run, stream, live_text in zip(runs, streams, shown, strict=True):
                _absorb(run, [e for event in stream.poll() for e in live_text.events(event)])
                if stream.finished:
                    _absorb(run, live_text.end())
            if grid is not None:
                grid.refresh()
            time.sleep(0.05)
    except KeyboardInterrupt:
        for stream in streams:
            stream.cancel()
        if len(streams) < len(runs):
            raise
    redacted = False
    for run, stream in zip(runs, streams, strict=True):
        run.response = stream.response
        redacted = session.redact_response(run.response) or redacted
    session.count([run.response for run in runs])
    notes = session.banner() + runs[0].ask.notes + ([REPLY_REDACTED] if redacted else [])
    comparison = Comparison(name, runs, notes=notes)
    session.keep_comparison(comparison)
    if grid is not None:
        grid.close()
    else:
        for number, run in enumerate(runs, 1):
            print(f"{number}. {run.label}: {footer_text(run.response)}")
    return comparison


def _absorb(run: Run, events: list[Event | None]) -> None:
    for event in events:
        if isinstance(event, (ReasoningDelta, AnswerDelta)):
            if isinstance(event, AnswerDelta) and not run.answering:
                run.answering, run.tail = True, ""
            run.chars += len(event.text)
            run.tail = (run.tail + event.text)[-TAIL:]


def _live_bundle(runs: list[Run], started: float) -> dict[str, str]:
    """The runs side by side while they stream: a fixed-size status and tail per run."""
    elapsed = time.monotonic() - started
    columns = []
    for run in runs:
        state = "answering" if run.answering else "thinking"
        tail = preformatted(f"…{run.tail}")
        if not run.answering:
            tail = f'<div style="opacity: 0.6">{tail}</div>'
        columns.append(
            f"<p><b>{escape(run.label)}</b><br><i>"
            f"{escape(f'{state}… {run.chars:,} chars, {elapsed:.0f} s')}</i></p>{tail}"
        )
    status = " | ".join(f"{run.label}: {run.chars:,} chars" for run in runs)
    return {"text/html": document([_grid(columns)]), "text/plain": status}
