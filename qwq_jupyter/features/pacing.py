"""How a batch's calls go out: at most `rpm` starts a minute, within a budget, and stopped by ■.

Kept apart from `batch.py`, which says what a batch is (its items, its result, its journal);
this module only paces: `RateLimiter` spaces the starts, `Spending` reserves each call's worst
case so a capped batch never goes over, and `Control` is what the first ■ reaches on the loop
thread (no item starts any more; those waiting for their turn give it up).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.events import Response
from ..core.settings import QwQSettings

__all__ = ["Control", "RateLimiter", "Spending"]


class RateLimiter:
    """At most `rpm` request starts in any sliding 60-second window."""

    def __init__(
        self,
        rpm: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rpm = rpm
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rpm <= 0:
            return
        async with self._lock:  # one waiter at a time keeps the starts in order
            while True:
                now = self._clock()
                while self._starts and self._starts[0] <= now - 60.0:
                    self._starts.popleft()
                if len(self._starts) < self.rpm:
                    self._starts.append(now)
                    return
                await self._sleep(self._starts[0] + 60.0 - now)


class Spending:
    """A budget as a batch spends it: each call reserves its worst case while in flight.

    Once a call's worst case would cross what is left, scheduling stops: that item and every
    one after it are marked "not run: budget", so a capped batch never goes over.
    """

    def __init__(self, left: float | None, settings: QwQSettings, system: str = "") -> None:
        self.left = left
        self.stopped = False
        self._settings = settings
        self._system_tokens = len(system) // 4

    def worst(self, prompt: str) -> float:
        """The most one item can cost: its prompt (estimated) and max_tokens of output."""
        settings = self._settings
        input_tokens = len(prompt) // 4 + self._system_tokens + 16
        price_in, price_out = float(settings.input_price), float(settings.output_price)
        return (input_tokens * price_in + int(settings.max_tokens) * price_out) / 1e6

    def reserve(self, prompt: str) -> float | None:
        """The reservation for this item, or None: it may not be sent."""
        worst = self.worst(prompt)
        if self.left is None:
            return worst
        if self.stopped or worst > self.left:
            self.stopped = True
            return None
        self.left -= worst
        return worst

    def release(self, reserved: float) -> None:
        """Give back the reservation of an item that was not sent after all."""
        if self.left is not None:
            self.left += reserved

    def settle(self, reserved: float, response: Response | None) -> None:
        """Give back the reservation; keep what the call really cost (its worst if unknown)."""
        if self.left is not None:
            cost = response.cost if response is not None and response.cost is not None else reserved
            self.left += reserved - cost


class Control:
    """What ■ reaches on the loop thread: what is in flight, and a way to stop starting more."""

    def __init__(self) -> None:
        self.stopping = False
        self.in_flight = 0
        self.sent: set[int] = set()  # id() of the items whose call went out
        self._waiting: set[asyncio.Task[Any]] = set()

    def stop(self) -> None:
        """No item starts from now on; those waiting for the rate limit give up their turn."""
        self.stopping = True
        for task in self._waiting:
            task.cancel()

    async def send(self, item: object, call: Awaitable[None]) -> None:
        """Await `call`, counted as in flight (what the first ■ waits for)."""
        self.sent.add(id(item))
        self.in_flight += 1
        try:
            await call
        finally:
            self.in_flight -= 1

    async def wait_for(self, turn: Awaitable[None]) -> bool:
        """Await `turn`; False if a ■ came meanwhile (then the item is not sent)."""
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            await turn
        except asyncio.CancelledError:
            if self.stopping:  # our own cancel: this item is not sent
                return False
            raise
        finally:
            self._waiting.discard(task)
        return not self.stopping
