"""Live views of a running call: one for notebooks, one for terminals, chosen once.

The notebook view streams text as stdout deltas, flushed at most every `FLUSH_INTERVAL`
seconds, so its IOPub cost grows linearly with the text (a display handle resends the whole
text on every update, which grows quadratically). The reasoning streams grey; when the answer
starts the reasoning collapses into a `<details>` block; when the call ends, the cell's output
is replaced by one ordinary HTML display that a saved notebook keeps and renders anywhere.

Streamed text is the model's: it goes through `printable()` so its control characters are shown,
never obeyed, and the only escape codes written are the view's own grey (none with NO_COLOR).
What streams live is bounded (`LIVE_LIMIT` characters): a server that sends without end cannot
flood the browser; past the limit the view says so and the full text comes in the final output.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TextIO

from ..core.errors import server_text
from ..core.events import (
    AnswerDelta,
    Event,
    LoopFound,
    Meter,
    ReasoningDelta,
    Response,
    Retrying,
    ThinkingCut,
    ThinkingExtended,
    ToolCallEvent,
    ToolResult,
    ToolsRequested,
)
from ..core.printable import printable
from ..render.html import block, document, escape
from ..render.render import (
    FOLDED,
    anatomy_line,
    cut_line,
    extension_line,
    footer_text,
    loop_line,
    note_html,
    notice_text,
    reasoning_html,
    response_bundle,
)
from ..render.tools import MARK, asked_line, call_line
from ..session.saved import TURN_MIME
from .tool_output import KeptOutput

__all__ = ["NotebookView", "TerminalView"]

GREY = "\x1b[38;5;245m"  # visible grey in JupyterLab, VS Code and terminals (ANSI dim is not)
RESET = "\x1b[0m"
FLUSH_INTERVAL = 0.2
#: Seconds between two updates of the notebook's status line (thinking, tokens, cost, ■).
STATUS_INTERVAL = 1.0
#: Characters of model text streamed live, at most; the final output holds all of it.
LIVE_LIMIT = 200_000


def _colour(style: str) -> str:
    """The view's own styling, or nothing when the user asked for no colour (no-color.org)."""
    return "" if os.environ.get("NO_COLOR") else style


class _Buffered:
    """Untrusted text written to a stream in batches: at most one write per interval.

    Text is made printable here, the one place both views write through, and counted: past
    `limit` characters of model text the stream stops, with one line saying so.
    """

    def __init__(
        self, out: TextIO, clock: Callable[[], float], interval: float, limit: int | None = None
    ) -> None:
        self._out = out
        self._clock = clock
        self._interval = interval
        self._pending: list[str] = []
        self._style: str | None = None
        self._last_flush = clock()
        self._limit = LIVE_LIMIT if limit is None else limit
        self._room = self._limit
        self.cut = False  # the live text reached its limit

    def write(self, text: str, style: str = "") -> None:
        """Model text: shown printable, while there is room."""
        if self.cut:
            return
        if len(text) > self._room:
            text = text[: self._room]
            self.cut = True
        self._room -= len(text)
        self._add(printable(text), style)
        if self.cut:
            self._add(
                f"\n… live view stopped after {self._limit:,} characters; "
                "the whole reply comes at the end.\n",
                "",
            )
            self.flush()

    def say(self, text: str, style: str = "") -> None:
        """The view's own words (labels, notes, footers): always written."""
        self._add(printable(text), style)

    def _add(self, text: str, style: str) -> None:
        style = _colour(style)
        if style != self._style and self._pending:
            self.flush()
        self._style = style
        self._pending.append(text)

    def notes(self, notes: list[str]) -> None:
        """Lines said before the reply (the demo banner, trimming), written at once."""
        for note in notes:
            self.say(f"note: {note}\n")
        self.flush()

    def maybe_flush(self) -> None:
        if self._pending and self._clock() - self._last_flush >= self._interval:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self._out.write(f"{self._style}{text}{RESET}" if self._style else text)
        self._out.flush()
        self._last_flush = self._clock()


class _LiveView:
    """What both views share: the event ladder, the buffered printable text, the seams.

    `out` and `clock` are the seams tests use: the text the view writes, and the time it
    reads. Subclasses say what reasoning, the answer's start, a tool call and a retry look
    like.
    """

    def __init__(
        self,
        *,
        show_reasoning: bool,
        out: TextIO | None,
        clock: Callable[[], float],
        interval: float,
        hint: str = "",
        anatomy: bool = False,
        fold: bool = False,
    ) -> None:
        self._show_reasoning = show_reasoning
        self._anatomy = anatomy  # the reasoning's anatomy joins the footer
        self._fold = fold  # the class's policy folds answers until %qwq reveal
        self._clock = clock
        self._text = _Buffered(out or sys.stdout, clock, interval)
        self._reasoning: list[str] = []
        self._answer_started = False
        self._hint = hint  # what ■ does while QwQ thinks
        self._meter: Meter | None = None
        self._steered = ""  # the last thing steering did, for the status line
        self._started = clock()

    def start(self, notes: list[str]) -> None:
        self._text.notes(notes)

    def on_event(self, event: Event | None) -> None:
        if isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
            self._on_reasoning(event.text, first=len(self._reasoning) == 1)
        elif isinstance(event, AnswerDelta):
            if not self._answer_started:
                self._answer_started = True
                self._on_answer_start()
                if self._fold:
                    self._text.say(f"[{FOLDED}]\n")
            if not self._fold:
                self._text.write(event.text)
        elif isinstance(event, ToolCallEvent):
            self._on_tool_call(event)
        elif isinstance(event, ToolsRequested):
            names = ", ".join(dict.fromkeys(call.name for call in event.calls))
            self._steered = server_text(f"running {names}…", 80)
            self._on_marker(f"{MARK} {self._steered}")
        elif isinstance(event, ToolResult):
            self._steered = ""
            self._on_marker(call_line(event.call))
        elif isinstance(event, Retrying):
            self._on_retry(event)
        elif isinstance(event, Meter):
            self._meter = event
        elif isinstance(event, ThinkingCut):
            self._steered = cut_line(event)
            self._on_marker(self._steered)
        elif isinstance(event, ThinkingExtended):
            self._on_marker(extension_line(event.count, event.at_tokens))
        elif isinstance(event, LoopFound):
            self._steered = loop_line(event.loop)
            self._on_marker(self._steered)
        self._after_event()
        self._text.maybe_flush()

    def _after_event(self) -> None:
        """A chance to refresh what is shown besides the text (the notebook's status line)."""

    def confirm_tool(self, name: str, arguments: str) -> bool:
        """Ask the user whether QwQ's call may run (`confirm_tools`): the text so far first."""
        self._text.flush()
        return self._confirm(name, arguments)

    def _confirm(self, name: str, arguments: str) -> bool:
        raise NotImplementedError

    def tool_output(self, name: str) -> AbstractContextManager[object]:
        """Around a running tool: its prints go where the view writes (a terminal keeps them)."""
        self._text.flush()
        return nullcontext()

    def _on_marker(self, line: str) -> None:
        """Steering did something (a cut, a loop, more thinking): say so where the text is."""
        self._text.say(f"\n{line}\n")
        self._text.flush()

    def status_text(self) -> str:
        """One line: thinking or answering, tokens, time, dollars so far and at most, and ■."""
        meter = self._meter
        state = "answering" if self._answer_started else "thinking"
        tokens = meter.reasoning_tokens if meter else len(self._reasoning)
        if self._answer_started and meter:
            tokens = meter.answer_tokens
        parts = [f"{state}…", f"≈{tokens:,} tokens", f"{self._clock() - self._started:.0f} s"]
        if meter is not None:
            parts.append(f"${meter.spent:.4f} so far, at most ${meter.worst:.4f}")
        if self._steered:
            parts.insert(0, self._steered)
        elif self._hint and not self._answer_started:
            parts.append(self._hint)
        return " · ".join(parts)

    def _answer_known_at_the_end(self, response: Response) -> None:
        """An inline reply that never closed its thinking turns out to be all answer."""
        if response.answer and not self._answer_started:
            self.on_event(AnswerDelta(response.answer))

    def _on_reasoning(self, text: str, *, first: bool) -> None:
        raise NotImplementedError

    def _on_answer_start(self) -> None:
        raise NotImplementedError

    def _on_tool_call(self, event: ToolCallEvent) -> None:
        raise NotImplementedError

    def _on_retry(self, event: Retrying) -> None:
        raise NotImplementedError


class NotebookView(_LiveView):
    """Grey live reasoning, collapsed at the answer, replaced by portable HTML at the end."""

    def __init__(
        self,
        *,
        show_reasoning: bool = True,
        extra_outputs: tuple[Any, ...] = (),
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        hint: str = "",
        anatomy: bool = False,
        fold: bool = False,
    ) -> None:
        super().__init__(
            show_reasoning=show_reasoning,
            out=out,
            clock=clock,
            interval=FLUSH_INTERVAL,
            hint=hint,
            anatomy=anatomy,
            fold=fold,
        )
        self._extra_outputs = extra_outputs  # e.g. the Stop button, kept through each redraw
        self._reasoning_started: float | None = None
        self._retries: list[str] = []  # kept in the final output: a slow reply has a reason
        self._status: Any = None  # display handle of the status line
        self._last_status = 0.0
        self._tool_outputs: list[KeptOutput] = []  # what the tools printed or showed

    def start(self, notes: list[str]) -> None:
        self._show_chrome()
        super().start(notes)

    def _show_chrome(self) -> None:
        """The buttons and the status line, above the streaming text."""
        from IPython.display import display

        for output in self._extra_outputs:
            display(output)
        self._status = display(self._status_bundle(), raw=True, display_id=True)
        self._last_status = self._clock()

    def _on_reasoning(self, text: str, *, first: bool) -> None:
        if self._reasoning_started is None:
            self._reasoning_started = self._clock()
        if self._show_reasoning:
            self._text.write(text.lstrip("\n") if first else text, GREY)

    def _after_event(self) -> None:
        now = self._clock()
        if self._status is not None and now - self._last_status >= STATUS_INTERVAL:
            self._last_status = now
            self._status.update(self._status_bundle(), raw=True)

    def _on_marker(self, line: str) -> None:
        super()._on_marker(line)
        self._last_status = 0.0  # show it in the status line at once

    def _on_answer_start(self) -> None:
        self._collapse()

    def _on_tool_call(self, event: ToolCallEvent) -> None:
        self._text.say(f"\n{asked_line(event.call)}\n")

    def _confirm(self, name: str, arguments: str) -> bool:
        from .confirm import confirm_in_notebook

        return confirm_in_notebook(name, arguments)

    @contextmanager
    def tool_output(self, name: str) -> Iterator[object]:
        """A tool's own prints and displays (a plot) go through live, and are kept: the live
        view is cleared when the answer starts and at the end, so they come again after it."""
        from .tool_output import kept_output

        self._text.flush()
        with kept_output(name) as kept:
            yield kept
        if kept.parts:
            self._tool_outputs.append(kept)

    def _on_retry(self, event: Retrying) -> None:
        note = f"{event.error}; retried after {event.delay:.1f} s"
        self._retries.append(note)
        self._text.say(f"note: {note}\n")
        self._text.flush()

    def finish(
        self, response: Response, notes: list[str], record: dict[str, Any] | None = None
    ) -> None:
        """The output a saved notebook keeps: the HTML, the text, and the turn's record (which
        frontends do not render; `%qwq restore` reads it back)."""
        from IPython.display import clear_output, display

        self._text.flush()
        notes = notes + self._retries
        clear_output(wait=True)
        bundle: dict[str, Any] = response_bundle(
            response,
            show_reasoning=self._show_reasoning,
            notes=notes,
            anatomy=self._anatomy,
            fold=self._fold,
        )
        if record is not None:
            bundle[TURN_MIME] = record
        display(bundle, raw=True)
        for kept in self._tool_outputs:
            line = f"{MARK} what {kept.name} printed or showed while it ran:"
            display({"text/plain": line, "text/html": document([note_html(line)])}, raw=True)
            kept.show()

    def _collapse(self) -> None:
        """The answer starts: fold the reasoning away, keeping it one click from view."""
        from IPython.display import clear_output, display

        self._text.flush()
        if not self._show_reasoning or not self._reasoning:
            return
        now = self._clock()
        thinking = now - (now if self._reasoning_started is None else self._reasoning_started)
        tokens = self._meter.reasoning_tokens if self._meter else len(self._reasoning)
        summary = f"Reasoning · ≈{tokens:,} tokens · {thinking:.1f} s"
        text = "".join(self._reasoning)
        clear_output(wait=True)
        self._show_chrome()
        display(
            {
                "text/html": document([reasoning_html(summary, text)]),
                "text/plain": f"[{summary}]",
            },
            raw=True,
        )

    def _status_bundle(self) -> dict[str, str]:
        text = self.status_text()
        html = document([block(f"<i>{escape(text)}</i>", "qwq-status", "opacity: 0.75")])
        return {"text/plain": text, "text/html": html}


class TerminalView(_LiveView):
    """Plain streaming text for terminal IPython and scripts.

    A label line opens the reasoning and the answer, so the two read apart without colour too
    (NO_COLOR, a pasted transcript); colour, when on, greys the reasoning and the footer.
    """

    def __init__(
        self,
        *,
        show_reasoning: bool = True,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        hint: str = "",
        anatomy: bool = False,
        fold: bool = False,
    ) -> None:
        super().__init__(
            show_reasoning=show_reasoning,
            out=out,
            clock=clock,
            interval=0.05,
            hint=hint,
            anatomy=anatomy,
            fold=fold,
        )

    def start(self, notes: list[str]) -> None:
        super().start(notes + ([f"while QwQ thinks, {self._hint}"] if self._hint else []))

    def _on_reasoning(self, text: str, *, first: bool) -> None:
        if not self._show_reasoning:
            return
        if first:
            self._text.say("── reasoning ──\n")
        self._text.write(text.lstrip("\n") if first else text, GREY)

    def _on_answer_start(self) -> None:
        if self._show_reasoning and self._reasoning:
            self._text.say("\n\n── answer ──\n")

    def _on_tool_call(self, event: ToolCallEvent) -> None:
        self._text.say(f"\n{asked_line(event.call)}\n")

    def _on_retry(self, event: Retrying) -> None:
        self._text.say(f"\nnote: {event.error}; retrying in {event.delay:.1f} s\n")

    def _confirm(self, name: str, arguments: str) -> bool:
        from .confirm import confirm_in_terminal

        return confirm_in_terminal(name, arguments)

    def finish(
        self, response: Response, notes: list[str], record: dict[str, Any] | None = None
    ) -> None:
        self._answer_known_at_the_end(response)
        notice = notice_text(response)
        tail = [notice] if notice else []
        if response.finish_reason != "error":
            tail.append(footer_text(response))
            if self._anatomy and response.reasoning:
                tail.append(anatomy_line(response))
        self._text.say("\n\n" + "\n".join(tail) + "\n", GREY)
        self._text.flush()
