"""Run one prompt template over many inputs: bounded concurrency, a requests-per-minute limit,
per-item failures recorded, results in input order; a journal keeps what was paid for.

In [1]: from qwq_jupyter import batch
In [2]: results = batch("Classify the sentiment of this review: {@item}", reviews)
In [3]: frame = batch("Summarise: {@item}", df, column="text")   # new columns on a copy of df
In [4]: results = batch("Classify: {@item}", reviews, journal="reviews.qwq")  # survives a crash

With `journal=PATH` each finished item is written to an SQLite file as it completes
(`features/journal.py` says why SQLite); run again with the same journal and inputs, and what
finished is taken from it ($0, marked `from_journal`) while only the missing items are sent.

■ comes in two steps, so what was paid for is kept: the first stops scheduling (no new item
starts) and waits for the calls in flight, which land in the result and the journal; a second
cancels those calls. Items never started are "not run: interrupted", calls cut by the second ■
"not run: cancelled in flight"; neither is journaled, so a re-run sends exactly them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..client.client import AsyncQwQClient
from ..client.loop import LoopThread
from ..client.tool_runner import NO_ONE_TO_ASK, runs_tools
from ..core.credentials import Credentials, known_secrets, redact
from ..core.errors import ConfigurationError, QwQError
from ..core.events import Response
from ..core.public import publish
from ..core.settings import QwQSettings
from ..session.active import active_session
from ..session.context import interpolate
from ..session.frontend import Progress, ProgressState, frontend
from ..session.redaction import redact_response
from .journal import Journal, check_journal, reuse, share_repeats
from .pacing import Control, RateLimiter, Spending

__all__ = ["BatchItem", "BatchResult", "RateLimiter", "Spending", "batch"]

#: The error of an item a ■ stopped before it ran.
NOT_RUN = "not run: interrupted"
#: The error of an item left unsent because its worst case would cross the budget.
NOT_RUN_BUDGET = "not run: budget"
#: The error of an item whose call a second ■ cut: it may have been billed; it is sent again.
CANCELLED = "not run: cancelled in flight"

Template = str | Callable[[Any], str]


@dataclass
class BatchItem:
    input: Any
    prompt: str
    response: Response | None = None
    error: str | None = None
    #: Taken from the journal of an earlier run: nothing was sent for it, and it cost $0 now.
    from_journal: bool = False
    #: With a journal, a repeat of an earlier input (same key): that item's index. It was not
    #: sent; it shares that item's response and error.
    duplicate_of: int | None = None
    #: With a journal, a hash of what decides the answer (see features/journal.py).
    key: str = field(default="", repr=False)

    @property
    def answer(self) -> str | None:
        return self.response.answer if self.response else None


class BatchResult(list["BatchItem"]):
    """`BatchItem`s in input order; `.answers`, `.failed` and `.to_frame()` for quick use.

    `cost` is what this run paid: items from the journal and repeats add nothing (the `cost`
    column still says what each item cost when it was answered).
    """

    interrupted = False
    #: With a journal, the first write that failed, as one line (every result is still here).
    journal_error: str | None = None

    @property
    def answers(self) -> list[str | None]:
        return [item.answer for item in self]

    @property
    def failed(self) -> list[BatchItem]:
        return [item for item in self if item.error is not None]

    @property
    def from_journal(self) -> list[BatchItem]:
        return [item for item in self if item.from_journal]

    @property
    def paid(self) -> list[Response]:
        """The responses this run paid for: not from the journal, not repeats."""
        paid = (i for i in self if not i.from_journal and i.duplicate_of is None)
        return [item.response for item in paid if item.response is not None]

    @property
    def cost(self) -> float:
        return sum((response.cost or 0.0) for response in self.paid)

    def columns(self) -> dict[str, list[Any]]:
        return {
            "answer": self.answers,
            "reasoning_tokens": [i.response.reasoning_tokens if i.response else None for i in self],
            "cost": [i.response.cost if i.response else None for i in self],
            "error": [i.error for i in self],
            "from_journal": [i.from_journal for i in self],
        }

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"input": [item.input for item in self], **self.columns()})

    def __repr__(self) -> str:
        done = sum(1 for item in self if item.response is not None and item.error is None)
        journal = len(self.from_journal)
        kept = f" ({journal} from the journal)" if journal else ""
        state = ", interrupted" if self.interrupted else ""
        state += f", journal not fully written: {self.journal_error}" if self.journal_error else ""
        return (
            f"<BatchResult {len(self)} items: {done} answered{kept}, {len(self.failed)} failed, "
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
    control: Control | None = None,
    on_finished: Callable[[BatchItem], None] | None = None,
) -> None:
    """Fill in each item's response or error; order is kept by writing into `items`.

    Whatever goes wrong in one item's call (an error reply, a reply the decoder chokes on, a
    bug of ours) is that item's error: the other items go on. Known secrets a server echoes
    are masked in the answers and errors kept. Items from the journal and repeats are not
    sent; `on_finished` gets each item whose call ended (answered or failed), on the loop.
    """
    gate = asyncio.Semaphore(concurrency)
    control = control if control is not None else Control()

    async def one(item: BatchItem) -> None:
        # No prompt (nothing to send), taken from the journal, or a repeat of an earlier item.
        if item.error is not None or item.from_journal or item.duplicate_of is not None:
            return
        async with gate:
            if control.stopping:
                return
            reserved = spending.reserve(item.prompt) if spending is not None else 0.0
            if reserved is None:
                item.error = NOT_RUN_BUDGET
                return
            if not await control.wait_for(limiter.acquire()):  # a ■ came meanwhile
                if spending is not None:
                    spending.release(reserved)
                return
            try:
                await control.send(item, _send(item))
                if on_finished is not None:
                    on_finished(item)
            finally:
                if spending is not None:
                    spending.settle(reserved, item.response)

    async def _send(item: BatchItem) -> None:
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
    journal: str | os.PathLike[str] | None = None,
    retry_failed: bool = False,
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
    `journal` is a file: each finished item is written to it as it completes, and a run with
    the same journal takes the items it holds (same prompt, system prompt, model and answer
    parameters) instead of sending them; failed ones too, unless `retry_failed=True`. With a
    journal, repeated inputs are sent once and share the result.
    """
    _check_arguments(
        template, inputs, column, concurrency, rpm, settings, credentials, overrides, budget
    )
    check_journal(journal, retry_failed)
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
    if settings.confirm_tools and runs_tools(settings):
        raise ConfigurationError(NO_ONE_TO_ASK)  # before anything is sent, not once an item
    client = AsyncQwQClient(settings, credentials)
    secrets = known_secrets(client.credentials, settings=settings)
    book = Journal(journal, secrets) if journal is not None else None  # refused before sending
    try:
        client.prepare([{"role": "user", "content": "check"}])  # credentials and settings
        items = BatchResult(
            _item(template, value, row, settings, secrets)
            for value, row in zip(values, rows, strict=True)
        )
        if items and all(item.error is not None for item in items):
            raise ConfigurationError(
                f"no prompt could be made, so nothing was sent: {items[0].error}"
            )
        if book is not None:
            reuse(items, book, settings, retry_failed)
        if budget is None and session is not None:
            budget = session.budget.left(session.totals.cost)
        spending = Spending(budget, settings, settings.system_prompt)
        _run(client, items, settings, secrets, spending, concurrency, rpm, progress, book)
    finally:
        if book is not None:
            book.close()  # what finished is written before the result is returned
    items.journal_error = book.error if book is not None else None
    if session is not None:  # so %qwq usage counts the batch too; the journal's items are $0
        session.count(items.paid)
    if frame is not None:
        result = frame.copy()
        for name, data in items.columns().items():
            result[name] = data
        return result
    return items


def _run(
    client: AsyncQwQClient,
    items: BatchResult,
    settings: QwQSettings,
    secrets: tuple[str, ...],
    spending: Spending,
    concurrency: int,
    rpm: float,
    progress: bool,
    book: Journal | None,
) -> None:
    """Send what is left to send, showing progress; the first ■ lets what is in flight finish,
    a second cancels it."""
    reporter = frontend().progress(len(items), "QwQ batch") if progress else None
    ended = threading.Event()
    control = Control()
    work = run_batch(
        client,
        items,
        concurrency=concurrency,
        limiter=RateLimiter(rpm),
        system=settings.system_prompt,
        secrets=secrets,
        spending=spending,
        control=control,
        on_finished=book.append if book is not None else None,
    )
    loop = LoopThread.get()
    future = loop.submit(_run_and_close(client, work, ended))
    try:
        _wait(future, reporter, items, control, loop)
    except KeyboardInterrupt:  # the second ■
        future.cancel()
        ended.wait(5)  # until the tasks are gone, so no item changes after we mark it
    for item in items:
        if item.response is None and item.error is None and item.duplicate_of is None:
            item.error = CANCELLED if id(item) in control.sent else NOT_RUN
    share_repeats(items)
    if reporter is not None:
        _report(reporter, items)
        reporter.close()


async def _run_and_close(
    client: AsyncQwQClient, work: Awaitable[None], ended: threading.Event
) -> None:
    try:
        await work
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


def _wait(
    future: concurrent.futures.Future[None],
    reporter: Progress | None,
    items: BatchResult,
    control: Control,
    loop: LoopThread,
) -> None:
    """Until the run ends. The first ■ stops scheduling and goes on waiting for the calls in
    flight; a second ■ is raised to the caller, which cancels them."""
    while not future.done():
        try:  # a ■ may come anywhere in here, the report included
            try:
                future.result(timeout=0.2)
            except concurrent.futures.TimeoutError:
                if reporter is not None:
                    _report(reporter, items, control)
        except KeyboardInterrupt:
            if items.interrupted:
                raise
            items.interrupted = True
            loop.loop.call_soon_threadsafe(control.stop)
    future.result()  # what the run raised, if anything


def _report(reporter: Progress, items: BatchResult, control: Control | None = None) -> None:
    reporter.update(progress_state(items, control))


def progress_state(items: BatchResult, control: Control | None = None) -> ProgressState:
    """Where `items` stand; the estimate is the mean cost of the paid items × those left."""
    done = journal = failed = not_run = paid = unsent = 0
    spent = 0.0
    for item in items:
        first = items[item.duplicate_of] if item.duplicate_of is not None else item
        if first.error in (NOT_RUN, NOT_RUN_BUDGET, CANCELLED):
            not_run += 1
        elif first.response is None and first.error is None:
            unsent += item is first
        else:
            done += 1
            journal += first.from_journal
            failed += first.error is not None
            cost = first.response.cost if first.response is not None else None
            if item is first and not item.from_journal and cost is not None:
                paid += 1
                spent += cost
    return ProgressState(
        total=len(items),
        done=done,
        from_journal=journal,
        failed=failed,
        not_run=not_run,
        spent=spent if paid else None,
        estimate=spent / paid * unsent if paid and unsent else None,
        stopping=control is not None and control.stopping,
        in_flight=control.in_flight if control is not None else 0,
    )


publish(globals())
