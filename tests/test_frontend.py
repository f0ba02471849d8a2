"""One frontend per kernel, asked by everything that shows something; the views' seams."""

from __future__ import annotations

import io
from typing import Any

from shells import ask

from qwq_jupyter import batch
from qwq_jupyter.core.events import AnswerDelta, ReasoningDelta, Response, Usage
from qwq_jupyter.notebook.frontend import TerminalFrontend
from qwq_jupyter.notebook.view import GREY, NotebookView
from qwq_jupyter.session.frontend import frontend, using
from qwq_jupyter.testing import Reply


class Recording:
    """A frontend that records what it was asked for, and shows it in a terminal view."""

    notebook = True

    def __init__(self) -> None:
        self.views: list[dict[str, Any]] = []
        self.progress_updates: list[tuple[int, int]] = []
        self.displays: list[list[dict[str, str]]] = []
        self.shown: list[Any] = []

    def live_view(
        self,
        *,
        show_reasoning: bool,
        on_stop: Any = None,
        on_answer: Any = None,
        hint: str = "",
        anatomy: bool = False,
        fold: bool = False,
    ) -> Any:
        self.views.append({"show_reasoning": show_reasoning, "stop": on_stop})
        return TerminalFrontend().live_view(show_reasoning=show_reasoning)

    def progress(self, total: int, label: str) -> Any:
        frontend = self

        class Bar:
            def update(self, state: Any) -> None:
                frontend.progress_updates.append((state.done, state.failed))

            def close(self) -> None:
                frontend.progress_updates.append((-1, -1))

        return Bar()

    def live_display(self, bundle: Any, interval: float) -> Any:
        updates = [bundle()]
        self.displays.append(updates)

        class Handle:
            def refresh(self) -> None:
                updates.append(bundle())

            def close(self) -> None:
                updates.append({"closed": ""})

        return Handle()

    def show(self, value: Any) -> None:
        self.shown.append(value)


def test_the_frontend_is_chosen_once_from_the_shell(shell) -> None:
    chosen = frontend()
    assert isinstance(chosen, TerminalFrontend)  # an InteractiveShell, no kernel
    assert frontend() is chosen


def test_a_cell_asks_the_frontend_for_its_view(shell, qwq_env) -> None:
    recording = Recording()
    with using(recording):
        ask(shell, "q", "--hide-reasoning")
    assert recording.views == [{"show_reasoning": False, "stop": None}]


def test_a_comparison_streams_into_the_frontends_live_display(shell, qwq_env) -> None:
    for answer in ("42", "41"):
        qwq_env.push(Reply(reasoning="thinking " * 20, answer=answer, tokens_per_second=200))
    recording = Recording()
    with using(recording):
        ask(shell, "q", "--compare seed=1,2")
    (updates,) = recording.displays
    assert len(updates) >= 2 and updates[-1] == {"closed": ""}
    assert all(u["text/html"].count('class="qwq-run"') == 2 for u in updates[:-1])


def test_a_terminal_comparison_has_no_live_display(shell, qwq_env) -> None:
    _, out = ask(shell, "q", "--compare seed=1,2")
    assert "1. seed=1:" in out and "2. seed=2:" in out


def test_a_batch_reports_progress_to_the_frontend(qwq_server) -> None:
    from qwq_jupyter import Credentials, QwQSettings

    recording = Recording()
    with using(recording):
        batch(
            "item {@item}",
            [1, 2, 3],
            settings=QwQSettings(api_base=qwq_server.api_base),
            credentials=Credentials(qwq_server.account_id, qwq_server.token),
        )
    done = [update[0] for update in recording.progress_updates]
    assert done[-2:] == [3, -1]  # all three done, then closed
    assert done[:-1] == sorted(done[:-1])


def test_the_notebook_views_text_goes_through_its_seams(shell) -> None:
    """`out` and `clock`: what the view writes, and when; nothing waits on real time."""
    from IPython.utils.capture import capture_output

    now = [0.0]
    out = io.StringIO()
    view = NotebookView(out=out, clock=lambda: now[0])
    with capture_output() as captured:
        view.start([])
        view.on_event(ReasoningDelta("\nLet me think."))
        assert out.getvalue() == ""  # batched: nothing before the flush interval
        now[0] = 0.5
        view.on_event(None)  # a pause in the stream: a chance to flush
        assert out.getvalue().startswith(f"{GREY}Let me think.")
        now[0] = 2.0
        view.on_event(AnswerDelta("42"))  # the reasoning folds away
        fold = captured.outputs[-1].data["text/plain"]
        view.finish(Response(answer="42", reasoning="Let me think.", usage=Usage(1, 2)), [])
    assert fold == "[Reasoning · ≈1 tokens · 2.0 s]"  # timed by the clock, not by real time
    assert "42" in captured.outputs[-1].data["text/plain"]
