"""Terminal control sequences in model text are shown, never obeyed; NO_COLOR is honoured.

Each sequence a hostile answer might carry goes through the terminal view, the notebook view's
stream, and a real `ipython` process; the only escape codes that may come out are the views'
own grey and reset.
"""

from __future__ import annotations

import io
import re

import pytest
from shells import terminal_ipython

from qwq_jupyter.core.errors import QwQError
from qwq_jupyter.core.events import (
    AnswerDelta,
    ReasoningDelta,
    Response,
    Retrying,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from qwq_jupyter.core.printable import printable
from qwq_jupyter.notebook.view import GREY, RESET, NotebookView, TerminalView, _Buffered
from qwq_jupyter.render.render import render_plain
from qwq_jupyter.testing import Reply

SEQUENCES = {
    "OSC 52 clipboard write": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "window title": "\x1b]0;pwned\x07",
    "clear screen": "\x1b[2J\x1b[H",
    "full reset": "\x1bc",
    "concealed text": "\x1b[8mhidden\x1b[28m",
    "alternate screen": "\x1b[?1049h",
    "OSC 8 link": "\x1b]8;;https://example.invalid\x1b\\click\x1b]8;;\x1b\\",
    "carriage return overwrite": "rm -rf ~\rharmless",
    "DCS query": '\x1bP$q"p\x1b\\',
    "C1 CSI": "\x9b2J",
    "C1 OSC": "\x9d0;title\x9c",
    "bell and backspace": "\x07\x08\x08\x08",
    "bidi override": "\u202eevil\u202c",
}
# Anything a terminal would act on: ESC, C0 controls but \n and \t, DEL, C1, bidi overrides.
ACTIONABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _ours_removed(text: str) -> str:
    return text.replace(GREY, "").replace(RESET, "")


@pytest.mark.parametrize("sequence", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_printable_leaves_nothing_a_terminal_obeys(sequence: str) -> None:
    shown = printable(f"before {sequence} after")
    assert ACTIONABLE.search(shown) is None
    assert shown.startswith("before ") and shown.endswith(" after")
    assert len(shown) >= len("before  after") + 1  # the sequence is visible, not dropped


@pytest.mark.parametrize("sequence", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_terminal_view_shows_sequences_inert(sequence: str) -> None:
    out = io.StringIO()
    view = TerminalView(out=out, clock=lambda: 0.0)
    view.start([f"note {sequence}"])
    for event in (
        ReasoningDelta(f"thinking {sequence}"),
        AnswerDelta(f"answer {sequence}"),
        ToolCallEvent(ToolCall(name=f"tool{sequence}", arguments={"a": sequence})),
        Retrying(1, 0.1, QwQError(f"server said {sequence}")),
    ):
        view.on_event(event)
    view.finish(Response(answer="x", finish_reason="stop", usage=Usage(1, 1)), [])
    written = _ours_removed(out.getvalue())
    assert ACTIONABLE.search(written) is None, repr(written)


def test_notebook_stream_shows_sequences_inert() -> None:
    out = io.StringIO()
    view = NotebookView(out=out, clock=lambda: 0.0)
    for sequence in SEQUENCES.values():
        view.on_event(ReasoningDelta(sequence))
    view._text.flush()
    assert ACTIONABLE.search(_ours_removed(out.getvalue())) is None


def test_plain_text_output_shows_sequences_inert() -> None:
    answer = "".join(SEQUENCES.values())
    plain = render_plain(Response(answer=answer, reasoning=answer, finish_reason="stop"))
    assert ACTIONABLE.search(plain) is None and "␛]52" in plain


def test_no_color_means_no_escape_codes_and_labels_still_separate(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    view = TerminalView(out=out, clock=lambda: 0.0)
    view.start([])
    view.on_event(ReasoningDelta("Let me think."))
    view.on_event(AnswerDelta("It is 42."))
    view.finish(Response(answer="It is 42.", finish_reason="stop", usage=Usage(1, 1)), [])
    written = out.getvalue()
    assert "\x1b" not in written
    assert written.index("── reasoning ──") < written.index("Let me think.")
    assert written.index("── answer ──") < written.index("It is 42.")


def test_live_text_is_bounded_and_says_so() -> None:
    out = io.StringIO()
    text = _Buffered(out, lambda: 0.0, 0.0, limit=1_000)
    for _ in range(500):
        text.write("0123456789")
    text.say("footer\n")
    text.flush()
    written = out.getvalue()
    assert written.count("0123456789") == 100  # 1,000 characters, then nothing more
    assert "live view stopped after 1,000 characters" in written
    assert written.endswith("footer\n")  # the view's own words still come


def test_real_ipython_prints_no_foreign_escape(qwq_server, tmp_path) -> None:
    hostile = "".join(SEQUENCES.values())
    qwq_server.push(Reply(reasoning=f"Thinking {hostile}", answer=f"Answer {hostile} done."))
    typed = "\n".join(
        [
            "%load_ext qwq_jupyter",
            f"%config QwQSettings.api_base = {qwq_server.api_base!r}",
            "%%qwq",
            "q",
            "",
            "",
            "%qwq history",
            "",
        ]
    )
    result = terminal_ipython(typed, qwq_server, tmp_path)
    out = result.stdout
    assert "Answer " in out and " done." in out and "── answer ──" in out
    assert "Conversation 'default': 1 turn" in out  # %qwq history has a terminal form
    assert ACTIONABLE.search(_ours_removed(out)) is None, repr(out)
    assert "Traceback" not in out + result.stderr


def test_an_answer_known_only_at_the_end_is_printed() -> None:
    """An inline reply that never closed its thinking streamed as reasoning; it is the answer."""
    out = io.StringIO()
    view = TerminalView(out=out, clock=lambda: 0.0)
    view.start([])
    view.on_event(ReasoningDelta("Hello there."))
    view.finish(Response(answer="Hello there.", finish_reason="stop", usage=Usage(1, 1)), [])
    written = _ours_removed(out.getvalue())
    assert written.index("── answer ──") < written.rindex("Hello there.")


def test_the_panel_in_a_terminal_says_what_to_type_instead(shell, qwq_env) -> None:
    from shells import command

    value, out = command(shell, "panel")
    assert value is None  # no widget repr printed
    assert "the panel needs a notebook" in out
    assert "%config QwQSettings.temperature = 0.6" in out
    assert "%config QwQSettings.max_tokens = 16000" in out
