"""Run one prompt template over many inputs: bounded concurrency, a requests-per-minute limit,
per-item failures recorded, results in input order, and ■ keeps what finished.

In [1]: from qwq_jupyter import batch
In [2]: results = batch("Classify the sentiment of this review: {@item}", reviews)
In [3]: frame = batch("Summarise: {@item}", df, column="text")   # new columns on a copy of df
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..client.client import AsyncQwQClient
from ..client.loop import LoopThread
from ..core.credentials import Credentials, known_secrets, redact
from ..core.errors import ConfigurationError, QwQError
from ..core.events import Response
from ..core.public import publish
from ..core.settings import QwQSettings
from ..session.context import interpolate
from ..session.frontend import Progress, frontend
from ..session.redaction import redact_response
from ..session.session import active_session

__all__ = ["BatchItem", "BatchResult", "RateLimiter", "Spending", "batch"]

#: The error of an item a ■ stopped before it ran.
NOT_RUN = "not run: interrupted"
#: The error of an item left unsent because its worst case would cross the budget.
NOT_RUN_BUDGET = "not run: budget"

Template = str | Callable[[Any], str]


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


@dataclass
class BatchItem:
    input: Any
    prompt: str
    response: Response | None = None
    error: str | None = None

    @property
    def answer(self) -> str | None:
        return self.response.answer if self.response else None


class Spending:
    """A budget as a batch spends it: each call reserves its worst case while in flight.

    Once a call's worst case would cross what is left, scheduling stops: that item and every
    one after it are marked `NOT_RUN_BUDGET`, so a capped batch never goes over.
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

    def settle(self, reserved: float, response: Response | None) -> None:
        """Give back the reservation; keep what the call really cost (its worst if unknown)."""
        if self.left is not None:
            cost = response.cost if response is not None and response.cost is not None else reserved
            self.left += reserved - cost


class BatchResult(list["BatchItem"]):
    """`BatchItem`s in input order; `.answers`, `.failed` and `.to_frame()` for quick use."""

    interrupted = False

    @property
    def answers(self) -> list[str | None]:
        return [item.answer for item in self]

    @property
    def failed(self) -> list[BatchItem]:
        return [item for item in self if item.error is not None]

    @property
    def cost(self) -> float:
        return sum((item.response.cost or 0.0) for item in self if item.response)

    def columns(self) -> dict[str, list[Any]]:
        return {
            "answer": self.answers,
            "reasoning_tokens": [i.response.reasoning_tokens if i.response else None for i in self],
            "cost": [i.response.cost if i.response else None for i in self],
            "error": [i.error for i in self],
        }

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"input": [item.input for item in self], **self.columns()})

    def __repr__(self) -> str:
        done = sum(1 for item in self if item.response is not None)
        state = ", interrupted" if self.interrupted else ""
        return (
            f"<BatchResult {len(self)} items: {done} answered, {len(self.failed)} failed, "
            f"${self.cost:.5f}{state}>"
        )


async def run_batch(
    client: AsyncQwQClient,
    items: list[BatchItem],
    *,
    concurrency: int,
    limiter: RateLimiter,
    system: str = "",
    secrets: tuple[str, ...] = (),
    spending: Spending | None = None,
) -> None:
    """Fill in each item's response or error; order is kept by writing into `items`.

    Whatever goes wrong in one item's call (an error reply, a reply the decoder chokes on, a
    bug of ours) is that item's error: the other items go on. Known secrets a server echoes
    are masked in the answers and errors kept.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(item: BatchItem) -> None:
        if item.error is not None:  # its prompt could not be made: nothing to send
            return
        async with gate:
            reserved = spending.reserve(item.prompt) if spending is not None else 0.0
            if reserved is None:
                item.error = NOT_RUN_BUDGET
                return
            try:
                await _one(item)
            finally:
                if spending is not None:
                    spending.settle(reserved, item.response)

    async def _one(item: BatchItem) -> None:
        await limiter.acquire()
        messages = [{"role": "user", "content": item.prompt}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        try:
            item.response = _masked(await client.complete(messages), secrets)
            if not item.response.complete:
                item.error = item.response.error or item.response.finish_reason
        except QwQError as err:
            item.error = redact(str(err), secrets)
        except Exception as err:  # one item's failure, whatever it is, is that item's
            item.error = redact(f"{type(err).__name__}: {err}", secrets)

    await asyncio.gather(*(one(item) for item in items))


def _masked(response: Response, secrets: tuple[str, ...]) -> Response:
    redact_response(response, secrets)
    return response


def batch(
    template: Template,
    inputs: Iterable[Any],
    *,
    column: str | None = None,
    concurrency: int = 8,
    rpm: float = 300,
    settings: QwQSettings | None = None,
    credentials: Credentials | None = None,
    progress: bool = True,
    budget: float | None = None,
    **overrides: Any,
) -> Any:
    """Ask `template` about every input; a list of `BatchItem`s, or a DataFrame with new columns.

    `template` is a string with `{@item}` where the input goes (DataFrames and long values are
    summarised, as in `%%qwq`; with `column=`, `{@row['other_column']}` reaches the rest of
    the row), or a function from the input to the prompt. `rpm` caps request
    starts per minute (Workers AI allows 300); failed items carry their error, the rest go on.
    `budget` caps what the batch may spend, in dollars (default: what is left of the session's
    `%qwq budget`); scheduling stops before an item whose worst case would cross it, and the
    rest are marked "not run: budget".
    """
    _check_arguments(
        template, inputs, column, concurrency, rpm, settings, credentials, overrides, budget
    )
    frame: Any = inputs if column is not None else None  # a DataFrame, checked above
    values = list(frame[column]) if frame is not None else list(inputs)
    # With a DataFrame, `{@row}` is the whole row, so a template can use other columns too.
    rows = [row for _, row in frame.iterrows()] if frame is not None else values
    session = active_session()
    if settings is None:
        settings = session.settings if session is not None else QwQSettings()
    if credentials is None and session is not None:
        credentials = session.credentials  # e.g. the offline demo's, after %qwq demo
    settings = settings.override(stream=False, **overrides)
    client = AsyncQwQClient(settings, credentials)
    client.prepare([{"role": "user", "content": "check"}])  # credentials and settings, up front
    secrets = known_secrets(client.credentials, settings=settings)
    items = BatchResult(
        _item(template, value, row, settings, secrets)
        for value, row in zip(values, rows, strict=True)
    )
    if items and all(item.error is not None for item in items):
        raise ConfigurationError(f"no prompt could be made, so nothing was sent: {items[0].error}")
    reporter = frontend().progress(len(items), "QwQ batch") if progress else None
    ended = threading.Event()
    limiter = RateLimiter(rpm)
    if budget is None and session is not None:
        budget = session.budget.left(session.totals.cost)
    spending = Spending(budget, settings, settings.system_prompt)
    future = LoopThread.get().submit(
        _run_and_close(
            client, items, concurrency, limiter, settings.system_prompt, ended, secrets, spending
        )
    )
    try:
        _wait(future, reporter, items)
    except KeyboardInterrupt:
        future.cancel()
        ended.wait(5)  # until the tasks are gone, so no item changes after we mark it
        items.interrupted = True
        for item in items:
            if item.response is None and item.error is None:
                item.error = NOT_RUN
    if reporter is not None:
        _report(reporter, items)
        reporter.close()
    if session is not None:  # so %qwq usage counts the batch too
        session.count([item.response for item in items if item.response is not None])
    if frame is not None:
        result = frame.copy()
        for name, data in items.columns().items():
            result[name] = data
        return result
    return items


async def _run_and_close(
    client: AsyncQwQClient,
    items: list[BatchItem],
    concurrency: int,
    limiter: RateLimiter,
    system: str,
    ended: threading.Event,
    secrets: tuple[str, ...],
    spending: Spending | None = None,
) -> None:
    try:
        await run_batch(
            client,
            items,
            concurrency=concurrency,
            limiter=limiter,
            system=system,
            secrets=secrets,
            spending=spending,
        )
    finally:
        await client.aclose()
        ended.set()


def _check_arguments(
    template: Any,
    inputs: Any,
    column: Any,
    concurrency: Any,
    rpm: Any,
    settings: Any,
    credentials: Any,
    overrides: dict[str, Any],
    budget: Any = None,
) -> None:
    """Refuse invalid arguments in one line naming the parameter, before anything is sent."""
    if not (isinstance(template, str) or callable(template)):
        raise ConfigurationError(
            f"template must be a str with {{@item}} or a function of the input, "
            f"not {type(template).__name__}"
        )
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise ConfigurationError(
            f"inputs must be a list (or other iterable) of values, not {type(inputs).__name__}"
        )
    if column is not None:
        if not hasattr(inputs, "iterrows"):
            raise ConfigurationError(
                f"column= needs a DataFrame as inputs, not {type(inputs).__name__}"
            )
        if column not in inputs.columns:
            raise ConfigurationError(f"column {column!r} is not a column of the DataFrame")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be an integer from 1 up, not {concurrency!r}")
    if isinstance(rpm, bool) or not isinstance(rpm, (int, float)) or math.isnan(rpm) or rpm < 0:
        raise ConfigurationError(
            f"rpm must be a number from 0 up (request starts per minute; 0 = no limit), not {rpm!r}"
        )
    if settings is not None and not isinstance(settings, QwQSettings):
        raise ConfigurationError(f"settings must be a QwQSettings, not {type(settings).__name__}")
    if credentials is not None and not isinstance(credentials, Credentials):
        raise ConfigurationError(
            f"credentials must be a Credentials, not {type(credentials).__name__}"
        )
    if "stream" in overrides:
        raise ConfigurationError("stream cannot be set: batch always waits for whole replies")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget >= 0
    ):
        raise ConfigurationError(f"budget must be a number of dollars from 0 up, not {budget!r}")


def _item(
    template: Template, value: Any, row: Any, settings: QwQSettings, secrets: tuple[str, ...]
) -> BatchItem:
    """The item for one input; if its prompt cannot be made, the error is the item's."""
    try:
        prompt = template(value) if callable(template) else _fill(template, value, row, settings)
        if not isinstance(prompt, str):
            raise ConfigurationError(f"the template function returned {type(prompt).__name__}")
    except Exception as err:
        message = str(err) if isinstance(err, QwQError) else f"{type(err).__name__}: {err}"
        return BatchItem(value, "", error=redact(f"prompt not made: {message}", secrets))
    return BatchItem(value, redact(prompt, secrets))


def _fill(template: str, value: Any, row: Any, settings: QwQSettings) -> str:
    names = {"item": value, "row": row}
    return interpolate(template, names, budget=settings.variable_budget)


def _wait(future: concurrent.futures.Future[None], reporter: Any, items: BatchResult) -> None:
    while True:
        try:
            future.result(timeout=0.2)
            return
        except concurrent.futures.TimeoutError:
            if reporter is not None:
                _report(reporter, items)


def _report(reporter: Progress, items: BatchResult) -> None:
    not_run = sum(1 for item in items if item.error in (NOT_RUN, NOT_RUN_BUDGET))
    done = sum(1 for item in items if item.response is not None or item.error is not None)
    reporter.update(done - not_run, len(items.failed) - not_run, not_run)


publish(globals())
