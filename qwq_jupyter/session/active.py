"""Which session code outside a cell uses: `batch()` takes the loaded extension's settings,
credentials and budget from here.

A module of its own, with nothing to import, so `%load_ext` can register the extension's
session without loading it: the session is made the first time something asks for it, by a
cell or by `batch()`, whichever comes first (before, a batch run before any `%%qwq` cell
missed the `%config` settings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session

__all__ = ["activate", "active_session", "deactivate", "on_first_use"]

_active: list[Session] = []
_factory: list[Callable[[], Session]] = []


def activate(session: Session) -> None:
    """Make `session` the one `batch()` and other code outside a cell uses by default."""
    _active[:] = [session]


def on_first_use(factory: Callable[[], Session]) -> None:
    """Where the session comes from when it is first asked for (`%load_ext` registers it)."""
    _factory[:] = [factory]


def deactivate(session: Session | None = None) -> None:
    """Forget the session (the extension was unloaded), and how to make one."""
    if session is None or session in _active:
        _active.clear()
    _factory.clear()


def active_session() -> Session | None:
    """The loaded extension's session (its settings and credentials), if any."""
    if not _active and _factory:
        _factory[0]()  # makes the session, which activates itself
    return _active[0] if _active else None
