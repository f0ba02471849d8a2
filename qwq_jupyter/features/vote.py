"""`%%qwq --vote N`: self-consistency (Wang et al., 2022), one prompt asked N times, one answer.

The prompt goes out N times, run i with seed `base + i` (`base` is the cell's `seed` if set,
else 1: a vote is reproducible, and `--seed 100 --vote 5` sends seeds 100 to 104). At most
`MAX_AT_ONCE` calls run at the same time; the others start as earlier ones finish. Before
anything is sent, the worst case of all N calls is checked against the session's budget
(`%qwq budget`), and the output says it: "worst case before sending: $X", with the real cost
after.

Each run's final answer is taken from its reply (`core.anatomy.final_answer`: the last
`\\boxed{}`, else a bold conclusion, else the last number, else a short phrase) and the most
frequent one wins. A run that did not finish (an error, max_tokens, ■) counts as no answer.
The runs are not part of the conversation; `%qwq pick N` makes run N its next turn, and
`Vote.majority_run()` says which run first gave the majority answer.

While it runs, a notebook shows one line per run (waiting, thinking, done and its answer) and
the tally so far; a terminal prints each run's line as it finishes.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..core.anatomy import final_answer
from ..core.errors import ConfigurationError, server_text
from ..core.events import AnswerDelta, Event, ReasoningDelta, Response
from ..core.printable import printable
from ..core.settings import QwQSettings
from ..render.html import block, document, escape
from ..render.render import answer_html, footer_html, money, note_html
from ..session.frontend import Bundle, LiveDisplay, frontend
from ..session.redaction import LiveRedaction
from ..session.session import REPLY_REDACTED
from .compare import Run

if TYPE_CHECKING:
    from ..client.stream import ResponseStream
    from ..session.session import Session

__all__ = ["MAX_AT_ONCE", "MAX_VOTES", "Vote", "answer_of", "run_line", "run_vote", "tally"]

#: Runs of one vote, at most.
MAX_VOTES = 16
#: Calls of one vote running at the same time, at most; the others wait their turn.
MAX_AT_ONCE = 4
#: The first seed of a vote whose cell sets none.
BASE_SEED = 1
#: The error of a run that ■ stopped before it was sent.
NOT_RUN = "not run: interrupted"
REFRESH_INTERVAL = 0.5
#: Characters of a failed run's error shown in its line.
_ERROR_CHARS = 120


def answer_of(response: Response) -> str:
    """The run's normalised final answer; "" when it has none or did not finish."""
    if not response.complete or not response.answer.strip():
        return ""
    return final_answer(response.answer)


def tally(answers: list[str]) -> tuple[str, float, list[tuple[str, int]]]:
    """The majority, its share of all the runs, and the distribution (no answers left out).

    Most frequent first; a tie goes to the answer an earlier run gave.
    """
    distribution = Counter(answer for answer in answers if answer).most_common()
    majority = distribution[0][0] if distribution else ""
    agreement = distribution[0][1] / len(answers) if distribution and answers else 0.0
    return majority, agreement, distribution


@dataclass
class Vote:
    """N runs of one prompt and what they agree on; `%qwq pick N` keeps run N."""

    runs: list[Run]
    answers: list[str]
    majority: str
    agreement: float
    distribution: list[tuple[str, int]]
    cost: float | None
    estimated_cost: float
    notes: list[str] = field(default_factory=list)
    #: ■ stopped the vote: runs not finished count as no answer, those unsent are marked.
    interrupted: bool = False

    @classmethod
    def of(cls, runs: list[Run], notes: list[str] | None = None, **extra: Any) -> Vote:
        """The vote of finished `runs`: answers, majority, distribution and costs."""
        answers = [answer_of(run.response) for run in runs]
        known = [run.response.cost for run in runs if run.response.cost is not None]
        cost = sum(known) if known else None
        worst = sum(run.ask.steering.worst_case() for run in runs if run.ask.steering)
        return cls(runs, answers, *tally(answers), cost, worst, notes or [], **extra)

    @property
    def responses(self) -> list[Response]:
        return [run.response for run in self.runs]

    @property
    def seeds(self) -> list[int | None]:
        return [run.ask.settings.seed for run in self.runs]

    @property
    def failed(self) -> int:
        """Runs without an answer: failed, cut off, stopped or not run."""
        return sum(1 for answer in self.answers if not answer)

    def majority_run(self) -> int | None:
        """The index of the first run whose answer is the majority (for `%qwq pick`)."""
        if not self.majority:
            return None
        return self.answers.index(self.majority)

    def headline(self) -> str:
        """One line: the majority and how many runs agree, or that none answered."""
        total = len(self.runs)
        if not self.majority:
            return f"no answer: none of the {total} runs gave one"
        agree = self.distribution[0][1]
        return f"majority: {self.majority} ({agree} of {total} runs agree, {self.agreement:.0%})"

    def costs(self) -> str:
        """The worst case said before sending, and what the runs cost."""
        estimated = any(run.response.usage.estimated for run in self.runs)
        spent = "cost unknown" if self.cost is None else money(self.cost, estimated)
        return f"worst case before sending: {money(self.estimated_cost)} · cost: {spent}"

    def summary_lines(self) -> list[str]:
        """What the vote says besides the runs: interruptions, failures, how to keep a run."""
        lines = []
        if self.interrupted:
            unsent = sum(1 for run in self.runs if run.response.error == NOT_RUN)
            lines.append(
                f"■ interrupted: {unsent} of {len(self.runs)} runs were not sent; runs "
                "that did not finish count as no answer"
            )
        failed = sum(1 for r in self.responses if r.finish_reason == "error")
        if failed:
            lines.append(f"{failed} of {len(self.runs)} runs failed: they count as no answer")
        best = self.majority_run()
        keep = f" (run {best + 1} gave the majority answer)" if best is not None else ""
        lines.append(
            f"These runs are not in the conversation; %qwq pick N makes run N its next turn{keep}."
        )
        return lines

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"run": run.label, "seed": run.ask.settings.seed, "answer": answer,
             "majority": bool(answer) and answer == self.majority,
             "reasoning_tokens": run.response.reasoning_tokens, "cost": run.response.cost,
             "finish": run.response.finish_reason, "error": run.response.error}
            for run, answer in zip(self.runs, self.answers, strict=True)
        ]  # fmt: skip

    def to_frame(self) -> Any:
        """The runs as a pandas DataFrame (pandas is needed for this only)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": render_vote(self), "text/plain": vote_plain(self)}

    def __repr__(self) -> str:
        return f"<Vote of {len(self.runs)} runs: {self.headline()}>"


def run_line(run: Run) -> str:
    """A run's line in the output: its seed, answer, reasoning tokens, cost, finish reason, and
    its reasoning's anatomy in one line.

    Plain text, escaped where it is shown as HTML; the one place to add to what each run says.
    """
    r = run.response
    if r.error == NOT_RUN:
        return f"{run.label}: not run (■)"
    answer = answer_of(r)
    if r.finish_reason == "error":
        error = server_text(r.error or "the call failed", _ERROR_CHARS)
        return f"{run.label}: failed, no answer ({error})"
    tokens = r.reasoning_tokens
    parts = [
        f"{run.label}: {answer or 'no answer'}",
        f"reasoning {'?' if tokens is None else f'{tokens:,}'} tok",
        money(r.cost, r.usage.estimated),
        r.finish_reason + (" (answer forced)" if r.forced else ""),
    ]
    if r.reasoning:  # where this run reached its answer, and how it got there
        parts.append(r.anatomy().summary())
    return printable(" · ".join(parts))


def render_vote(vote: Vote) -> str:
    """The majority and its share, the distribution, each run's line, the majority's reply.

    Answers and errors are the model's or a server's text: escaped, never parsed; only the
    majority run's full reply is rendered as Markdown, in its own block. Dollar amounts are
    ours, inside `document`'s container that MathJax ignores.
    """
    total = len(vote.runs)
    shares = [*vote.distribution, *([("", vote.failed)] if vote.failed else [])]
    cells = "".join(
        f"<tr><td>{escape(answer) if answer else '<i>no answer</i>'}</td><td>{count}</td>"
        f"<td>{count / total:.0%}</td></tr>"
        for answer, count in shares
    )
    head = "<thead><tr><th>answer</th><th>runs</th><th>share</th></tr></thead>"
    table = f'<table class="qwq-table">{head}<tbody>{cells}</tbody></table>'
    lines = "".join(f"<li>{escape(run_line(run))}</li>" for run in vote.runs)
    best = vote.majority_run()
    reply = ""
    if best is not None:
        run = vote.runs[best]
        reply = (
            f"<details><summary>{escape(f'run {best + 1} ({run.label}), its reply')}</summary>"
            f"{answer_html(run.response.answer)}</details>"
        )
    return document(
        [
            *[note_html(note) for note in vote.notes],
            f"<p><b>{escape(vote.headline())}</b></p>",
            table if vote.distribution else "",
            f"<ol>{lines}</ol>",
            reply,
            footer_html(vote.costs()),
            *[block(f"<p>{escape(line)}</p>", "qwq-note") for line in vote.summary_lines()],
        ]
    )


def vote_plain(vote: Vote) -> str:
    lines = [f"note: {note}" for note in vote.notes]
    lines.append(vote.headline())
    if vote.distribution:
        shares = [f"{answer} ×{count}" for answer, count in vote.distribution]
        shares += [f"no answer ×{vote.failed}"] if vote.failed else []
        lines.append("distribution: " + " · ".join(shares))
    lines += [f"{n}. {run_line(run)}" for n, run in enumerate(vote.runs, 1)]
    lines += [vote.costs(), *vote.summary_lines()]
    return printable("\n".join(lines))


def vote_seeds(settings: QwQSettings, n: int, seeds: list[int] | None = None) -> list[int]:
    """The seeds of the runs: `seeds` as given, else the cell's seed (or 1) and the next n - 1."""
    if not 2 <= n <= MAX_VOTES:
        raise ConfigurationError(f"--vote takes 2 to {MAX_VOTES} runs, not {n}")
    if seeds is None:
        base = settings.seed if settings.seed is not None else BASE_SEED
        seeds = [base + i for i in range(n)]
    elif len(seeds) != n:
        raise ConfigurationError(f"a vote of {n} runs needs {n} seeds, not {len(seeds)}")
    for seed in seeds:
        settings.override(seed=seed)  # refuse an out-of-range seed before sending
    return seeds


def run_vote(
    session: Session,
    prompt: str,
    settings: QwQSettings,
    n: int,
    *,
    chat: str | None = None,
    new: bool = False,
    history: bool = True,
    seeds: list[int] | None = None,
) -> Vote:
    """Ask `prompt` `n` times with seeds base..base+n-1, at most `MAX_AT_ONCE` at once; tally.

    Nothing is sent if `n` is outside 2..MAX_VOTES or the N calls' worst case would cross the
    session budget (`BudgetExceeded`). ■ cancels the runs in flight and those not started,
    and returns the vote of what finished, marked interrupted.
    """
    runs = []
    for seed in vote_seeds(settings, n, seeds):
        ask = session.ask(prompt, settings.override(seed=seed), chat=chat, new=new, history=history)
        runs.append(Run(f"seed={seed}", ask))
    session.check_budget([run.ask for run in runs])
    live = _Live(session, runs)
    interrupted = False
    try:
        live.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        live.stop()  # after ■ or an error: cancels what runs, marks what was not sent
        live.close()
    redacted = False
    for run in runs:
        redacted = session.redact_response(run.response) or redacted
    session.count([run.response for run in runs if run.response.error != NOT_RUN])
    notes = session.banner() + runs[0].ask.notes + ([REPLY_REDACTED] if redacted else [])
    vote = Vote.of(runs, notes, interrupted=interrupted)
    session.keep_comparison(vote)
    return vote


class _Live:
    """The runs in flight: started as slots free up, polled, shown while they run."""

    def __init__(self, session: Session, runs: list[Run]) -> None:
        self.session = session
        self.runs = runs
        self.waiting = list(range(len(runs)))
        self.active: dict[int, tuple[ResponseStream, LiveRedaction]] = {}
        self.done: set[int] = set()
        self.started = time.monotonic()
        self.display: LiveDisplay | None = None

    def run(self) -> None:
        # The first calls are started inside the caller's protected region: ■ while they go
        # out cancels those sent.
        self._fill()
        self.display = frontend().live_display(self.bundle, REFRESH_INTERVAL)
        while self.active or self.waiting:
            for index in list(self.active):
                self._read(index)
            self._fill()
            if self.display is not None:
                self.display.refresh()
            time.sleep(0.05)

    def _fill(self) -> None:
        while self.waiting and len(self.active) < MAX_AT_ONCE:
            index = self.waiting[0]
            ask = self.runs[index].ask
            shown = LiveRedaction(self.session.secrets(ask.settings))
            self.active[index] = (self.session.start(ask), shown)
            self.waiting.pop(0)

    def _read(self, index: int) -> None:
        run = self.runs[index]
        stream, shown = self.active[index]
        try:
            events = stream.poll()
        except Exception as exc:  # a bug decoding one run: that run failed, not the vote
            stream.cancel()
            run.response = replace(stream.response, finish_reason="error", error=str(exc))
            self._finish(index)
            return
        _absorb(run, [e for event in events for e in shown.events(event)])
        if stream.finished:
            _absorb(run, shown.end())
            run.response = stream.response
            self._finish(index)

    def _finish(self, index: int) -> None:
        del self.active[index]
        self.done.add(index)
        if self.display is None:  # a terminal: each run's line as it finishes
            print(f"{index + 1}. {run_line(self.runs[index])}")

    def stop(self) -> None:
        """■: cancel the runs in flight, mark those not sent."""
        for index, run in enumerate(self.runs):
            if index in self.active:
                run.response = self.active[index][0].cancel()
            elif index not in self.done:
                run.response = Response(finish_reason="interrupted", error=NOT_RUN)
        self.active.clear()
        self.waiting.clear()

    def close(self) -> None:
        if self.display is not None:
            self.display.close()

    def bundle(self) -> Bundle:
        """One line per run and the tally so far: a fixed-size update."""
        elapsed = time.monotonic() - self.started
        lines = []
        for index, run in enumerate(self.runs):
            if index in self.done:
                state = run_line(run)
            elif index in self.active:
                doing = "answering" if run.answering else "thinking"
                state = f"{run.label}: {doing}… {run.chars:,} chars"
            else:
                state = f"{run.label}: waiting"
            lines.append(state)
        answers = [answer_of(self.runs[i].response) for i in sorted(self.done)]
        majority, _, _ = tally(answers)
        so_far = f"{len(self.done)} of {len(self.runs)} runs done, {elapsed:.0f} s"
        if majority:
            so_far += f"; leading: {majority} ({answers.count(majority)})"
        items = "".join(f"<li>{escape(line)}</li>" for line in lines)
        html = document([f"<p><i>{escape(so_far)}</i></p>", block(f"<ol>{items}</ol>", "qwq-live")])
        return {"text/html": html, "text/plain": printable("\n".join([so_far, *lines]))}


def _absorb(run: Run, events: list[Event | None]) -> None:
    """Count a run's streamed text for its live line."""
    for event in events:
        if isinstance(event, ReasoningDelta | AnswerDelta):
            run.answering = run.answering or isinstance(event, AnswerDelta)
            run.chars += len(event.text)
