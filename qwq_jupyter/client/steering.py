"""Steering the thinking while it streams: a budget, Answer now, think-longer, the loop guard
and the cost cap.

QwQ thinks before it answers, often for thousands of tokens. Over HTTP the only way to make it
stop thinking and answer ("budget forcing", from the s1 test-time-scaling paper) is to close the
stream and send a *raw continuation*: QwQ's chat template of the same conversation, the opening
`<think>`, the reasoning so far, a short closing sentence in the model's voice and `</think>`.
The model then writes the answer from the reasoning it has. Thinking longer is the mirror
image: when `</think>` comes too early, the continuation ends the reasoning with "Wait," and
the model goes on thinking.

`SteeredSource` wraps any source of events (the HTTP client, a cassette, the demo) and does
this between the source and the view, so every frontend, the response builder and the session
see one ordinary stream of events, with markers (`ThinkingCut`, `ThinkingExtended`,
`LoopFound`, `Meter`) where it steered. Usage and cost add up over the calls; a call cut before
its server reported usage is estimated, and `Usage.estimated` says so.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..core.errors import QwQError
from ..core.events import (
    ONE_TOKEN_CHARS,
    AnswerDelta,
    CutReason,
    Event,
    Finish,
    Loop,
    LoopFound,
    Meter,
    ReasoningDelta,
    ThinkingCut,
    ThinkingExtended,
    Usage,
    UsageEvent,
    delta_tokens,
)
from ..core.public import publish
from ..core.settings import QwQSettings
from ..wire.reasoning import OpensIn
from .repetition import RepetitionGuard
from .steering_rules import ANSWER_RESERVE, MAX_EXTENSIONS, Steering

if TYPE_CHECKING:
    from ..wire.request import HTTPRequest
    from .source import EventSource

__all__ = ["CLOSING", "WAIT", "SteeredSource", "Steering", "sentence_end"]

#: What ends the reasoning when the answer is forced: a sentence in QwQ's own voice, the way
#: Qwen suggests closing a thinking budget.
CLOSING = (
    "Considering the limited time, I have to give the solution based on the thinking directly now."
)
#: The closing after a loop: the reasoning sent stops before the loop began.
CLOSING_AFTER_LOOP = (
    "I keep going round in circles. I have to give the solution based on the thinking so "
    "far, directly now."
)
#: What continues a thinking that ended before `think_min` (the s1 paper's "Wait").
WAIT = "Wait,"
#: Tokens a continuation adds to the reasoning it re-sends (the closing sentence and tags).
_CONTINUATION_OVERHEAD = 32
#: Seconds between two `Meter` events.
METER_EVERY = 0.25
#: How far back from the cut a sentence end is looked for.
_SENTENCE_WINDOW = 400
_SENTENCE_END = re.compile(r"[.!?。！？](?=\s|$)|\n")


@dataclass
class _Progress:
    """What the calls so far produced: the reasoning, counts, and usage of finished calls."""

    reasoning: list[str] = field(default_factory=list)
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    thinking: bool = True  # no answer text yet
    extensions: int = 0
    cut: bool = False
    ended: bool = False  # a Finish of ours ended the response: read no further
    call_open: bool = False  # a call is under way whose usage is not yet in `earlier`
    earlier: Usage = field(default_factory=Usage)  # the calls before this one, added up
    call_usage: Usage | None = None  # what this call's server reported so far
    dropped_tokens: int = 0  # answer tokens generated but never shown (an early answer)
    call_start: tuple[int, int, int] = (0, 0, 0)  # the three counts when this call began

    @property
    def call_reasoning(self) -> int:
        """Reasoning tokens this call generated."""
        return self.reasoning_tokens - self.call_start[0]

    @property
    def call_tokens(self) -> int:
        """Tokens this call generated, kept or not."""
        answer = self.answer_tokens + self.dropped_tokens - self.call_start[1] - self.call_start[2]
        return self.call_reasoning + answer

    call_input: int = 0  # this call's estimated prompt size
    loop: Loop | None = None

    def text(self) -> str:
        joined = "".join(self.reasoning)
        self.reasoning[:] = [joined]
        return joined

    def call_ended(self) -> None:
        """Fold this call's usage (reported, else estimated) into `earlier`."""
        if self.call_open:
            self.earlier = self.earlier + (self.call_usage or self.estimate())
        self.call_usage, self.call_open = None, False
        self.call_start = (self.reasoning_tokens, self.answer_tokens, self.dropped_tokens)

    def estimate(self) -> Usage:
        """This call's usage as counted here: the server has not reported it."""
        return Usage(self.call_input, self.call_tokens, self.call_reasoning, estimated=True)

    def total(self, usage: Usage) -> Usage:
        """Every call's usage so far, this one's being `usage`.

        Once steering made more than one call, the reasoning tokens are the ones counted
        here: a continuation's server reports its output without splitting it.
        """
        total = self.earlier + usage
        if self.earlier.known:
            total = replace(total, reasoning_tokens=self.reasoning_tokens, estimated=True)
        return total


class SteeredSource:
    """A source of events whose thinking is steered; see the module docstring.

    `continuation(text, opens_in, max_tokens)` builds the raw request that continues QwQ's
    `text`. `answer_now()` may be called from any thread (a button, ■, `%qwq answer`).
    """

    def __init__(
        self,
        inner: EventSource,
        steering: Steering,
        continuation: Callable[[str, OpensIn, int], HTTPRequest],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._steering = steering
        self._continuation = continuation
        self._clock = clock
        self._answer_now = threading.Event()
        self._progress = _Progress()
        self._guard = RepetitionGuard() if steering.on_loop != "off" else None
        self._fresh: list[str] = []  # the reasoning texts of the batch just read

    @property
    def thinking(self) -> bool:
        """Whether QwQ is still in its reasoning, so an answer can be forced."""
        return self._progress.thinking and not self._progress.cut

    def usage_so_far(self) -> Usage | None:
        """All calls' usage, the one in flight estimated: for a steered call stopped mid-way.

        None when nothing was steered: a single call keeps what its server reported.
        """
        progress = self._progress
        if not progress.earlier.known:
            return None
        return progress.total(progress.call_usage or progress.estimate())

    def answer_now(self) -> bool:
        """Ask for the answer from the reasoning so far; False if it is no longer thinking."""
        if not self.thinking:
            return False
        self._answer_now.set()
        return True

    async def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]:
        steering, progress = self._steering, self._progress
        progress.call_input = steering.input_tokens
        current: HTTPRequest | None = request
        if steering.think_budget == 0:  # no thinking at all: straight to the answer
            batch, current = self._cut("budget", "answer")
            yield batch
        next_meter = 0.0
        while current is not None and not progress.ended:
            calls = self._inner.event_batches(current, settings)
            progress.call_open = True
            following: HTTPRequest | None = None
            try:
                async for batch in calls:
                    out, following = self._read(batch)
                    if following is None and not progress.ended and self.thinking:
                        more, following = self._check()
                        if more:
                            out = [*out, *more]
                    if following is None and not progress.ended and steering.max_cost is not None:
                        more, following = self._check_cost()
                        if more:
                            out = [*out, *more]
                    now = self._clock()
                    if now >= next_meter or following is not None or progress.ended:
                        next_meter = now + METER_EVERY
                        out = [*out]  # a batch passed on as it came is the source's own list
                        out.insert(_before_finish(out), self._meter())
                    yield out
                    if following is not None or progress.ended:
                        break
            finally:
                close = getattr(calls, "aclose", None)  # an async generator's; closes the
                if close is not None:  # connection of a call cut short
                    await close()
            current = following

    # --- One batch ---------------------------------------------------------------------------

    def _read(self, batch: list[Event]) -> tuple[list[Event], HTTPRequest | None]:
        """Pass the batch on, counting; cut at the budget or extend a too-short thinking.

        Most batches while QwQ thinks are reasoning and nothing else, far from any budget:
        those are counted in bulk and passed on as they are (this runs for every token).
        """
        progress = self._progress
        budget = self._steering.think_budget
        if len(batch) == 1:  # one token per network read: a slow stream, the usual case
            event = batch[0]
            if (
                type(event) is ReasoningDelta
                and len(event.text) <= ONE_TOKEN_CHARS
                and (budget is None or progress.reasoning_tokens + 1 < budget)
            ):
                progress.reasoning.append(event.text)
                progress.reasoning_tokens += 1
                self._fresh = [event.text]
                return batch, None
            return self._read_each(batch)
        texts = [e.text for e in batch if type(e) is ReasoningDelta]
        if (
            len(texts) == len(batch)
            and max(map(len, texts), default=0) <= ONE_TOKEN_CHARS
            and (budget is None or progress.reasoning_tokens + len(texts) < budget)
        ):
            progress.reasoning += texts
            progress.reasoning_tokens += len(texts)
            self._fresh = texts
            return batch, None
        return self._read_each(batch)

    def _read_each(self, batch: list[Event]) -> tuple[list[Event], HTTPRequest | None]:
        """`_read`, one event at a time: a budget reached, an answer beginning, usage, the end."""
        steering, progress = self._steering, self._progress
        out: list[Event] = []
        self._fresh = []
        budget = steering.think_budget
        for event in batch:
            if isinstance(event, ReasoningDelta):
                self._fresh.append(event.text)
                tokens = delta_tokens(event.text)
                progress.reasoning.append(event.text)
                progress.reasoning_tokens += tokens
                out.append(event)
                if budget is not None and progress.reasoning_tokens >= budget and not progress.cut:
                    more, following = self._cut("budget", "answer")
                    return out + more, following
            elif isinstance(event, AnswerDelta):
                tokens = delta_tokens(event.text)
                if progress.thinking and self._too_short():
                    progress.dropped_tokens += tokens
                    more, following = self._extend()
                    return out + more, following
                progress.thinking = False
                progress.answer_tokens += tokens
                out.append(event)
            elif isinstance(event, UsageEvent):
                progress.call_usage = event.usage
                out.append(UsageEvent(progress.total(event.usage)))
            elif isinstance(event, Finish):
                if progress.call_usage is None and progress.earlier.known:
                    # A continuation whose server reported no usage: estimated, not left out.
                    out.append(UsageEvent(progress.total(progress.estimate())))
                out.append(self._finished(event))
            else:
                out.append(event)
        return out, None

    def _check(self) -> tuple[list[Event], HTTPRequest | None]:
        """Once per batch while it thinks: Answer now, and the loop guard."""
        progress = self._progress
        if self._answer_now.is_set():
            return self._cut("answer_now", "answer")
        if self._guard is None or progress.loop is not None or not self._fresh:
            return [], None
        found = self._guard.feed("".join(self._fresh), progress.reasoning_tokens)
        if found is None:
            return [], None
        action = self._steering.on_loop
        progress.loop = Loop(
            found.start, found.period, found.repeats, found.found_at, found.start_char, action
        )
        events: list[Event] = [LoopFound(progress.loop)]
        if action == "warn":
            return events, None
        more, following = self._cut("loop", "answer" if action == "answer" else "stop")
        return events + more, following

    def _check_cost(self) -> tuple[list[Event], HTTPRequest | None]:
        """The cost cap: force the answer while it is still affordable, else stop."""
        steering = self._steering
        cap = steering.max_cost
        if cap is None:
            return [], None
        spent = self._spent()
        if self.thinking and steering.on_budget == "answer":
            reserve = min(steering.dollars(0, ANSWER_RESERVE), cap / 4)
            forcing = steering.dollars(self._continuation_input(), 0) + reserve
            if spent + forcing >= cap:
                return self._cut("cost", "answer")
        elif spent >= cap:
            return self._cut("cost", "stop")
        return [], None

    def _too_short(self) -> bool:
        floor = self._steering.think_min
        return (
            floor is not None
            and self._progress.reasoning_tokens < floor
            and self._progress.extensions < MAX_EXTENSIONS
        )

    # --- Continuations -----------------------------------------------------------------------

    def _cut(self, reason: CutReason, action: str) -> tuple[list[Event], HTTPRequest | None]:
        """End the thinking: the marker, and the continuation that asks for the answer."""
        steering, progress = self._steering, self._progress
        progress.cut = True
        at = progress.reasoning_tokens
        if action == "stop":
            progress.call_ended()
            progress.ended = True
            stop = ThinkingCut(reason, at, "stop")
            return [stop, UsageEvent(progress.earlier), Finish("interrupted")], None
        closing = CLOSING_AFTER_LOOP if reason == "loop" else CLOSING
        reasoning = progress.text()
        if reason == "loop" and progress.loop is not None:
            reasoning = reasoning[: progress.loop.start_char]
        kept = reasoning[: sentence_end(reasoning)].strip()
        text = steering.template + (f"{kept}\n\n" if kept else "") + f"{closing}\n</think>\n\n"
        marker = ThinkingCut(reason, at, "answer", closing)
        return self._continue(marker, text, "answer")

    def _extend(self) -> tuple[list[Event], HTTPRequest | None]:
        """`</think>` came before think_min: think on after "Wait,"."""
        progress = self._progress
        progress.extensions += 1
        appended = f"\n\n{WAIT}"
        marker = ThinkingExtended(progress.reasoning_tokens, progress.extensions, appended)
        text = self._steering.template + progress.text().strip() + appended
        progress.reasoning[:] = [progress.text().rstrip()]  # as the continuation was sent
        events, following = self._continue(marker, text, "reasoning")
        if following is not None:
            progress.reasoning.append(appended)
            events.insert(1, ReasoningDelta(appended))
        return events, following

    def _continue(
        self, marker: Event, text: str, opens_in: OpensIn
    ) -> tuple[list[Event], HTTPRequest | None]:
        """The marker and the raw request that goes on from `text`; or why there is none."""
        steering, progress = self._steering, self._progress
        input_tokens = self._continuation_input()
        progress.call_ended()
        room = steering.max_tokens - (progress.earlier.output_tokens or 0)
        if steering.max_cost is not None and steering.output_price > 0:
            left = steering.max_cost - self._spent() - steering.dollars(input_tokens, 0)
            room = min(room, int(left * 1e6 / steering.output_price))
        if room < 1:
            progress.ended = True
            error = QwQError("no tokens left for the answer under max_tokens or max_cost")
            return [marker, UsageEvent(progress.earlier), Finish("length", error)], None
        try:
            following = self._continuation(text, opens_in, room)
        except QwQError as error:  # this backend cannot continue raw text: say why, keep all
            progress.ended = True
            return [marker, UsageEvent(progress.earlier), Finish("incomplete", error)], None
        progress.call_input = input_tokens
        return [marker, UsageEvent(progress.earlier)], following

    def _finished(self, event: Finish) -> Finish:
        """A call's end. A continuation that failed keeps what came before, marked incomplete."""
        progress = self._progress
        if event.reason == "error" and (progress.cut or progress.extensions):
            why = event.error or QwQError("the continuation failed")
            error = QwQError(f"the thinking was cut, but the answer could not be asked for: {why}")
            return Finish("incomplete", error, event.malformed_events)
        return event

    # --- Money -------------------------------------------------------------------------------

    def _continuation_input(self) -> int:
        steering, progress = self._steering, self._progress
        return steering.input_tokens + progress.reasoning_tokens + _CONTINUATION_OVERHEAD

    def _spent(self) -> float:
        """Dollars so far: finished calls as reported (or estimated), this one estimated."""
        steering, progress = self._steering, self._progress
        earlier = progress.earlier
        current = progress.call_usage or Usage(progress.call_input, progress.call_tokens)
        return steering.dollars(
            (earlier.input_tokens or 0) + (current.input_tokens or 0),
            (earlier.output_tokens or 0) + (current.output_tokens or 0),
        )

    def _meter(self) -> Meter:
        steering, progress = self._steering, self._progress
        spent = self._spent()
        generated = (progress.earlier.output_tokens or 0) + progress.call_tokens
        rest = max(steering.max_tokens - generated, 0)
        worst = spent + steering.dollars(0, rest)
        if self.thinking:  # forcing the answer would re-read the prompt and the reasoning
            worst += steering.dollars(self._continuation_input(), 0)
        if steering.max_cost is not None:
            worst = min(worst, max(steering.max_cost, spent))
        return Meter(progress.reasoning_tokens, progress.answer_tokens, spent, worst)


def _before_finish(events: list[Event]) -> int:
    """Where a meter goes in a batch: before its Finish, which ends the stream."""
    return len(events) - 1 if events and isinstance(events[-1], Finish) else len(events)


def sentence_end(text: str) -> int:
    """Where to cut partial reasoning: after its last full sentence or line, if one ended in
    the last few hundred characters; else after its last whole word; else all of it.

    The reasoning went out token by token, so it may stop mid-word or mid-sentence; the model
    continues better from a finished thought.
    """
    start = max(len(text) - _SENTENCE_WINDOW, 0)
    ends = [found.end() for found in _SENTENCE_END.finditer(text, start)]
    if ends:
        return ends[-1]
    space = text.rfind(" ", start)
    return space if space > 0 else len(text)


publish(globals())
