"""Where a kernel's outputs go: a notebook or a terminal, decided once and asked everywhere.

The live view of a call, a batch's progress, a comparison's live grid, the Stop button and
the one-line summaries all differ between a notebook and terminal IPython. Rather than each
module checking for a kernel, the frontend is chosen once (on first use, from the running
shell) and every piece asks it. This module holds only the protocol and the choice; the two
implementations live in `notebook/frontend.py`, which the package installs as the chooser
when it is imported (lower layers never import it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .session import View

__all__ = [
    "Frontend",
    "LiveDisplay",
    "Progress",
    "ProgressState",
    "frontend",
    "install_chooser",
    "using",
]

Bundle = dict[str, str]


@dataclass(frozen=True)
class ProgressState:
    """Where a batch stands. Each item is done, not run, or left (waiting or in flight)."""

    total: int
    #: Finished: answered or failed, in this run or taken from the journal.
    done: int = 0
    #: Of `done`, taken from the journal: nothing was sent for them.
    from_journal: int = 0
    #: Of `done`, ended with an error (in this run or, kept as failed, in the journal).
    failed: int = 0
    #: Left unsent (the budget, a ■) or cancelled in flight by a second ■.
    not_run: int = 0
    #: Dollars this run has paid so far; None while no paid item has a known cost.
    spent: float | None = None
    #: About what the items left will cost: the mean of the paid items so far, times how many
    #: are left to send; None when there is nothing to go by or nothing left.
    estimate: float | None = None
    #: A ■ came: no new item starts, the ones in flight finish (a second ■ cancels them).
    stopping: bool = False
    in_flight: int = 0

    @property
    def left(self) -> int:
        return self.total - self.done - self.not_run


class Progress(Protocol):
    """A batch's progress: a bar in a notebook, a `\\r` line in a terminal."""

    def update(self, state: ProgressState) -> None:
        """Show `state`; called a few times a second and once at the end."""

    def close(self) -> None: ...


class LiveDisplay(Protocol):
    """One output replaced in place, at most every `interval` seconds (a comparison's grid)."""

    def refresh(self) -> None: ...

    def close(self) -> None: ...


class Frontend(Protocol):
    """What the notebook and the terminal each provide."""

    @property
    def notebook(self) -> bool:
        """True in a Jupyter kernel: rich outputs, widgets, a cell to replace."""

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
        """The view of one call. `on_stop` and `on_answer` add Stop and Answer now buttons (a
        notebook's background calls); `hint` is what the status line says ■ does; `anatomy`
        adds the reasoning's anatomy to the footer."""

    def progress(self, total: int, label: str) -> Progress: ...

    def live_display(self, bundle: Callable[[], Bundle], interval: float) -> LiveDisplay | None:
        """A display kept up to date from `bundle`, or None where nothing can be replaced."""

    def show(self, value: Any) -> None:
        """Show a value (a plot) where this frontend can; a terminal leaves it out."""


_chooser: list[Callable[[], Frontend]] = []
_chosen: list[Frontend] = []


def install_chooser(chooser: Callable[[], Frontend]) -> None:
    """Called by the package on import: how to pick the frontend when first asked."""
    _chooser[:] = [chooser]


def frontend() -> Frontend:
    """This kernel's frontend, chosen on first use and kept."""
    if not _chosen:
        if not _chooser:
            raise RuntimeError("no frontend chooser installed: import qwq_jupyter first")
        _chosen.append(_chooser[0]())
    return _chosen[0]


@contextmanager
def using(chosen: Frontend) -> Iterator[Frontend]:
    """Use `chosen` for a while (tests, or a tool embedding qwq-jupyter elsewhere)."""
    previous = list(_chosen)
    _chosen[:] = [chosen]
    try:
        yield chosen
    finally:
        _chosen[:] = previous
