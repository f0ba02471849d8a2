"""A private event loop in a daemon thread, for synchronous callers.

Why not nest-asyncio: in a kernel, nest-asyncio's `run_until_complete` leaves the task running
when ■ interrupts it (the HTTP connection stays open) and blocks widget clicks; the package is
archived. Running our async core on a loop of its own works the same in a script, in terminal
IPython and in a kernel, patches nothing, and cancelling the task closes the connection at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """One process-wide loop thread; started on first use."""

    _instance: LoopThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="qwq-jupyter-loop", daemon=True)
        self._thread.start()

    @classmethod
    def get(cls) -> LoopThread:
        with cls._lock:
            if cls._instance is None or not cls._instance._thread.is_alive():
                cls._instance = cls()
            return cls._instance

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` to completion; KeyboardInterrupt cancels it before propagating."""
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
