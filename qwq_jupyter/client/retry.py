"""When to try a failed request again, and how long to wait first."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import QwQError
from ..core.public import publish

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring `Retry-After` up to a cap."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    retry_after_cap: float = 60.0
    random: Callable[[], float] = random.random

    def delay(self, retries_done: int, error: QwQError, time_left: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if not error.retryable or retries_done >= self.max_retries:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.retry_after_cap:
                return None  # the server wants a longer pause than we may take
            wait = retry_after
        else:
            backoff = min(self.max_delay, self.base_delay * 2**retries_done)
            # "Equal jitter": at least half the backoff, so clients that failed together spread
            # out without any of them retrying at once.
            wait = backoff / 2 + self.random() * backoff / 2
        return wait if wait < time_left else None


publish(globals())
