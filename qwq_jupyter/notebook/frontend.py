"""The two frontends: a Jupyter notebook, and terminal IPython (or a plain script).

`choose()` picks one from the running shell; `session/frontend.py` keeps the choice for the
kernel's life. Everything that depends on where output goes is here: the live views, the
Stop button, a batch's progress, a display replaced in place, plots.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from ..session.frontend import Bundle, Frontend, LiveDisplay, Progress, ProgressState
from ..session.session import View
from .view import NotebookView, TerminalView

__all__ = ["NotebookFrontend", "TerminalFrontend", "choose"]


def choose() -> Frontend:
    """A notebook when the shell runs in a Jupyter kernel, else the terminal."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # a script without IPython
        shell = None
    return NotebookFrontend() if getattr(shell, "kernel", None) is not None else TerminalFrontend()


class NotebookFrontend:
    """Rich outputs: a live view replaced by HTML at the end, widgets, display handles."""

    notebook = True

    def live_view(
        self,
        *,
        show_reasoning: bool,
        on_stop: Callable[[], None] | None = None,
        on_answer: Callable[[], object] | None = None,
        hint: str = "",
        anatomy: bool = False,
        fold: bool = False,
    ) -> View:
        buttons = []
        if on_stop is not None or on_answer is not None:
            import ipywidgets

            if on_answer is not None:
                answer = ipywidgets.Button(
                    description="Answer now",
                    icon="forward",
                    button_style="info",
                    tooltip="Cut the thinking here and let QwQ answer from it",
                )
                answer.on_click(lambda _button: on_answer())
                buttons.append(answer)
            if on_stop is not None:
                stop = ipywidgets.Button(description="Stop", icon="stop", button_style="danger")
                stop.on_click(lambda _button: on_stop())
                buttons.append(stop)
        extra: tuple[Any, ...] = ()
        if buttons:
            import ipywidgets

            extra = (ipywidgets.HBox(buttons),)
        return NotebookView(
            show_reasoning=show_reasoning,
            extra_outputs=extra,
            hint=hint,
            anatomy=anatomy,
            fold=fold,
        )

    def progress(self, total: int, label: str) -> Progress:
        return _WidgetProgress(total, label)

    def live_display(self, bundle: Callable[[], Bundle], interval: float) -> LiveDisplay | None:
        return _Handle(bundle, interval)

    def show(self, value: Any) -> None:
        from IPython.display import display

        display(value)


class TerminalFrontend:
    """Plain text: a streaming view, a `\\r` progress line, no plots, nothing replaced."""

    notebook = False

    def live_view(
        self,
        *,
        show_reasoning: bool,
        on_stop: Callable[[], None] | None = None,
        on_answer: Callable[[], object] | None = None,
        hint: str = "",
        anatomy: bool = False,
        fold: bool = False,
    ) -> View:
        return TerminalView(show_reasoning=show_reasoning, hint=hint, anatomy=anatomy, fold=fold)

    def progress(self, total: int, label: str) -> Progress:
        return _TextProgress(total, label)

    def live_display(self, bundle: Callable[[], Bundle], interval: float) -> LiveDisplay | None:
        return None

    def show(self, value: Any) -> None:
        return None


class _WidgetProgress:
    def __init__(self, total: int, label: str) -> None:
        import ipywidgets
        from IPython.display import display

        self._bar = ipywidgets.IntProgress(max=total, description=label)
        self._label = ipywidgets.Label()
        display(ipywidgets.HBox([self._bar, self._label]))

    def update(self, state: ProgressState) -> None:
        self._bar.value = state.done
        self._label.value = _progress_text(state)
        if state.not_run or state.stopping:
            self._bar.bar_style = "warning"  # stopped part way: the bar shows what ran

    def close(self) -> None:
        return None


class _TextProgress:
    def __init__(self, total: int, label: str) -> None:
        self._label = label
        self._width = 0

    def update(self, state: ProgressState) -> None:
        text = f"{self._label}: {_progress_text(state)}"
        pad = " " * max(0, self._width - len(text))  # a shorter line must not leave a tail
        self._width = len(text)
        sys.stderr.write(f"\r{text}{pad}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def _progress_text(state: ProgressState) -> str:
    """E.g. `120/200 done (80 from the journal, 2 failed), 80 left · $0.01200 so far, ≈ $0.02400
    for the rest`."""
    parts = [f"{state.from_journal} from the journal"] if state.from_journal else []
    parts += [f"{state.failed} failed"] if state.failed else []
    text = f"{state.done}/{state.total} done"
    text += f" ({', '.join(parts)})" if parts else ""
    text += f", {state.left} left" if state.left else ""
    text += f", {state.not_run} not run" if state.not_run else ""
    if state.spent is not None:
        text += f" · ${state.spent:.5f} so far"
        if state.estimate is not None and state.left and not state.stopping:
            text += f", ≈ ${state.estimate:.5f} for the rest"
    if state.stopping:
        text += f" · stopping: waiting for the {state.in_flight} in flight (■ again cancels them)"
    return text


class _Handle:
    """One display handle, updated at most every `interval` seconds (fixed-size updates)."""

    def __init__(self, bundle: Callable[[], Bundle], interval: float) -> None:
        from IPython.display import display

        self._bundle = bundle
        self._interval = interval
        self._last = 0.0
        self._handle = display(bundle(), raw=True, display_id=True)

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._handle.update(self._bundle(), raw=True)

    def close(self) -> None:
        from IPython.display import clear_output

        clear_output(wait=True)
