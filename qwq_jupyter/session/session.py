"""The kernel's QwQ state: settings, conversations, the client, and running totals.

The magics parse what the user typed and hand it here; this module turns it into a request,
runs it through a view, and records the turn. It knows nothing of argument parsing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.credentials import Credentials, known_secrets, redact, redact_data
from ..core.errors import ConfigurationError
from ..core.events import Response
from ..core.settings import QwQSettings
from .ask import PROMPT_REDACTED, REPLY_REDACTED, REUSED, Ask, Totals, steering_for
from .budget import Budget
from .conversation import (
    Conversation,
    ConversationStore,
    TokenEstimator,
    Turn,
    fit_to_window,
)
from .reading import View, stream_into
from .redaction import LiveRedaction, redact_response
from .saved import SavedReply, SavedTurns, restore, turn_record

if TYPE_CHECKING:
    from ..client.cassette import Cassette
    from ..client.source import EventSource
    from ..client.stream import QwQClient, ResponseStream
    from ..client.tool_runner import Around, Confirm
    from ..wire.request import HTTPRequest
    from .policy import Policy

__all__ = ["PROMPT_REDACTED", "REPLY_REDACTED", "Ask", "Session", "Totals", "View"]

#: How to leave the demo for the real model, said wherever the demo is.
_FOR_THE_REAL_MODEL = "(set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN for the real model)"
#: What every output of the offline demo says first.
DEMO_BANNER = (
    f"offline demo: this reply is scripted by qwq-jupyter, not written by QwQ {_FOR_THE_REAL_MODEL}"
)


@dataclass
class Session:
    settings: QwQSettings
    credentials: Credentials | None = None
    store: ConversationStore = field(default_factory=ConversationStore)
    estimator: TokenEstimator = field(default_factory=TokenEstimator)
    totals: Totals = field(default_factory=Totals)
    last: Response | None = None
    #: Called after each recorded turn (the panel refreshes its conversation size).
    listeners: list[Callable[[], None]] = field(default_factory=list)
    last_comparison: Any = None
    #: The cap on what this session may spend (`%qwq budget D`).
    budget: Budget = field(default_factory=Budget)
    cassette: Cassette | None = field(default_factory=lambda: _cassette_from_environment())
    #: The backend to go back to when the demo is left (`%qwq demo` then `%qwq login`).
    _before_demo: str | None = None
    _client: QwQClient | None = None
    #: The class's policy (`%load_ext` applies the notebook's), and whether answers are shown.
    policy: Policy | None = None
    revealed: bool = False
    #: The saved notebook's turns by request hash, and which file (and version) they are from.
    _saved: SavedTurns = field(default_factory=SavedTurns)
    _running: dict[str, ResponseStream] = field(default_factory=dict)
    _idle: dict[str, threading.Event] = field(default_factory=dict)

    @property
    def client(self) -> QwQClient:
        from ..client.stream import QwQClient

        if self._client is None:
            self._client = QwQClient(self.settings, self.credentials)
        return self._client

    def drop_client(self) -> None:
        """Forget the client (credentials or the server changed), closing its connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def use_credentials(self, credentials: Credentials) -> None:
        """Use these keys from now on (`%qwq login`), with a fresh client to carry them."""
        self.credentials = credentials
        self.drop_client()

    def count(self, responses: list[Response]) -> None:
        """Add calls made outside `run` (a comparison, a batch) to the session's totals."""
        for response in responses:
            self.totals.add(response)

    def keep_comparison(self, comparison: Any) -> None:
        """The comparison `%qwq pick N` chooses from."""
        self.last_comparison = comparison

    def __post_init__(self) -> None:
        self.store.secrets = self.secrets  # saved files are masked too, as a second layer

    def conversation(self, name: str | None = None) -> Conversation:
        return self.store.get(name, system_prompt=self.settings.system_prompt)

    def secrets(self, settings: QwQSettings | None = None) -> tuple[str, ...]:
        """The known secrets to mask: this kernel's keys, the environment's and the .env's."""
        return known_secrets(self.client.credentials, settings=settings or self.settings)

    def redact_response(self, response: Response) -> bool:
        """Mask known secrets a server echoed into `response`, in place; whether any was."""
        return redact_response(response, self.secrets())

    def ask(
        self,
        prompt: str,
        settings: QwQSettings,
        *,
        chat: str | None = None,
        new: bool = False,
        history: bool = True,
        append: bool = False,
        cell_id: str | None = None,
    ) -> Ask:
        """Resolve one question: history before its slot, trimmed to the window.

        A call of the same conversation still running in the background is waited for first,
        so its answer is part of the history.
        """
        name = chat or self.store.current
        try:
            self.wait_idle(name)
        except KeyboardInterrupt:
            raise ConfigurationError(
                f"stopped waiting for the background call of {name!r} (%qwq stop cancels it)"
            ) from None
        system_prompt = settings.system_prompt
        fresh = new or name not in self.store.conversations
        if fresh:
            # Not stored until a turn is recorded, so a dry run changes nothing.
            conversation = Conversation(name, system_prompt)
        else:
            conversation = self.store.conversations[name]
            system_prompt = system_prompt or conversation.system_prompt
        slot = conversation.slot_for(cell_id, append=append) if history else None
        messages = conversation.history(before=slot) if history else []
        if messages and messages[0]["role"] == "system":
            messages = messages[1:]
        if system_prompt:
            messages.insert(0, {"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": prompt})
        # Masked once here, where the text is final, so dry runs, comparisons, retries,
        # background calls and %qwq explain all send and show the masked text.
        secrets = self.secrets(settings)
        masked = redact_data(messages, secrets)
        redacted = masked != messages
        prompt, system_prompt = redact(prompt, secrets), redact(system_prompt, secrets)
        fit = fit_to_window(masked, settings.max_tokens, settings.context_window, self.estimator)
        if fit.clamped_from is not None:
            settings = settings.override(max_tokens=fit.max_tokens)
        ask = Ask(
            prompt,
            settings,
            conversation,
            slot,
            masked,
            fit,
            cell_id,
            system_prompt,
            fresh,
            redacted,
        )
        ask.steering = steering_for(ask)
        if ask.tools_run and settings.raw:
            raise ConfigurationError(
                "tools run through the chat template, and a raw prompt has none: "
                "set raw = False to give QwQ tools"
            )
        return ask

    @property
    def demo(self) -> bool:
        """Replies come from the offline demo: every output must say so."""
        return self.settings.backend == "demo"

    def start(
        self, ask: Ask, confirm: Confirm | None = None, around: Around | None = None
    ) -> ResponseStream:
        """Send the request to where its events come from: the server, a cassette, the demo.

        Three sources of events behind one interface (`event_batches(request, settings)`):
        the HTTP client; a cassette, which records the client's events or replays them with
        no network; and the demo, which answers in-process. Only the HTTP client needs a key,
        so a replay or the demo prepares its request without one.
        """
        from ..client.cassette import request_key
        from ..client.tool_loop import with_tools
        from ..client.tool_runner import ToolRunner

        reusing = ask.settings.reuse == "saved"
        if not reusing:  # refused before any request, the server's GET /models too
            self.check_sendable(ask)
        request = self.prepare(ask)
        ask.request_hash = request_key(request)
        saved = self._saved.find(ask.settings.notebook, ask.request_hash) if reusing else None
        if saved is not None:  # the notebook already holds this very turn: send nothing
            ask.reused = saved
            return self.client.send(request, ask.settings, source=SavedReply(saved))
        if reusing:
            self.check_sendable(ask)
        base: EventSource = self.client.async_client  # the demo in-process, others over HTTP
        if self.cassette is not None:
            base = self.cassette.wrap(base)
        source = self.steered(ask, base, request)  # as is, if the reply is not streamed
        secrets = self.secrets(ask.settings)
        runner = ToolRunner.for_settings(
            ask.settings, confirm=confirm, secrets=secrets, around=around
        )
        messages = ask.request_input().get("messages")
        client, needed = self.client.async_client, not self.offline
        source = with_tools(client, source, messages, ask.settings, runner, base=base,
                            credentials_needed=needed)  # fmt: skip
        return self.client.send(request, ask.settings, source=source, tools=runner)

    def check_sendable(self, ask: Ask) -> None:
        """Refuse a call the class's policy or the budget does not allow, in one line."""
        if self.policy is not None and self.policy.replay_only and not self.offline:
            raise ConfigurationError(
                f"this class replays recorded answers only ({self.policy.source}): "
                "%qwq replay PATH, or the notebook's saved turns with reuse = 'saved'"
            )
        self.check_budget([ask])

    def follow(self, policy: Policy) -> None:
        """The class's policy: its budget caps spending, its answers arrive folded."""
        self.policy = policy
        if policy.budget is not None:
            self.cap_spending(policy.budget)

    @property
    def folded(self) -> bool:
        """Answers arrive folded (the class's policy) until `%qwq reveal`."""
        return self.policy is not None and self.policy.fold_answers and not self.revealed

    def reveal(self) -> Response | None:
        """`%qwq reveal`: answers unfolded from now on; the last reply, to show it."""
        self.revealed = True
        return self.last

    def cap_spending(self, dollars: float | None) -> None:
        """`%qwq budget D`: what this session may spend from now on in all (None: no cap)."""
        self.budget.cap = dollars

    def check_budget(self, asks: list[Ask]) -> None:
        """Refuse, before anything is sent, calls whose worst case would cross the budget."""
        worst = sum(
            ask.steering.worst_case() * ask.requests_at_most
            for ask in asks
            if ask.steering is not None
        )
        self.budget.check(worst, self.totals.cost)

    def steered(self, ask: Ask, source: EventSource, request: HTTPRequest) -> EventSource:
        """`source` with its thinking steered: budgets, Answer now, the loop guard, caps."""
        return self.client.async_client.steer(
            source, request, ask.settings, ask.steering, credentials_needed=not self.offline
        )

    @property
    def offline(self) -> bool:
        """Replies come from a cassette's replay: nothing is sent, no key is needed."""
        return self.cassette is not None and self.cassette.mode == "replay"

    def prepare(self, ask: Ask) -> HTTPRequest:
        """The request `ask` makes; a replay or the demo sends nothing, so needs no key."""
        return self.client.prepare(
            settings=ask.settings, credentials_needed=not self.offline, **ask.request_input()
        )

    def use_cassette(self, path: str | None, mode: str, speed: float = 1.0) -> str:
        """Record to or replay from `path`; `None` turns it off."""
        from ..client.cassette import Cassette

        if path is None:
            self.cassette = None
            return f"{mode} is off"
        self.cassette = Cassette(path, mode, speed=speed)
        if mode == "record":
            return f"recording replies to {path}"
        return f"replaying {len(self.cassette.entries)} recorded replies from {path} (no network)"

    def run(self, ask: Ask, view: View, stream: ResponseStream | None = None) -> Response:
        """Stream into `view` until the call ends; ■ interrupts it, keeping what arrived.

        The request is sent inside the protected region, so an interrupt landing at any
        moment after it left (even before the view started) cancels it rather than leaving it
        running unread.
        """
        notes = self.banner() + ask.notes
        started = False
        secrets = self.secrets(ask.settings)  # read once: the live text and the final reply
        live = LiveRedaction(secrets)
        try:
            if stream is None:
                stream = self.start(ask, confirm=view.confirm_tool, around=view.tool_output)
            if ask.reused is not None:
                notes = [*notes, REUSED]
            view.start(notes)
            started = True
            stream_into(view, stream, live, answer_first=ask.settings.interrupt == "answer")
        except KeyboardInterrupt:
            if stream is None:
                raise  # nothing was sent
            stream.cancel()
        if not started:
            view.start(notes)
        else:
            for shown in live.end():
                view.on_event(shown)
        response = stream.response
        if ask.reused is not None and response.finish_reason != "interrupted":
            # Shown again whole: the saved counts and times, not those of the instant replay.
            response = Response.from_dict({**ask.reused.to_dict(), "reused": True})
        if redact_response(response, secrets):
            notes = [*notes, REPLY_REDACTED]
        self.record(ask, response)
        view.finish(response, notes, turn_record(ask, response, secrets))
        return response

    def restore(self, path: str | None = None) -> str:
        """`%qwq restore`: conversations back from a saved notebook; what was done, in lines."""
        restored = restore(self.store, path)
        for listener in self.listeners:
            listener()
        return restored.report()

    def banner(self) -> list[str]:
        """What every output says first: replies of the offline demo are scripted."""
        return [DEMO_BANNER] if self.demo else []

    def run_in_background(self, ask: Ask, view: View) -> ResponseStream:
        """Stream from a thread; the cell returns at once. Output stays in the cell's area."""
        import contextvars

        self.check_background(ask)
        name = ask.conversation.name
        idle = self._idle.setdefault(name, threading.Event())
        stream: ResponseStream | None = None
        try:
            stream = self.start(ask)
            idle.clear()
            self._running[name] = stream
            context = contextvars.copy_context()  # keeps the thread's output in this cell
            thread = threading.Thread(
                target=context.run, args=(self._consume, ask, view, stream, idle), daemon=True
            )
            thread.start()
        except BaseException:
            # Interrupted before the thread took over: cancel the call, or it would run unread
            # and a later cell of this conversation would wait for it forever.
            if stream is not None:
                stream.cancel(wait=False)
            self._running.pop(name, None)
            idle.set()
            raise
        return stream

    def check_background(self, ask: Ask) -> None:
        """Refuse, in one line, what a cell running in the background cannot do."""
        if ask.settings.confirm_tools and ask.tools_run:
            raise ConfigurationError(
                "confirm_tools asks before each call, which a background cell cannot: "
                "run the cell without --background, or set confirm_tools = False"
            )

    def _consume(self, ask: Ask, view: View, stream: ResponseStream, idle: threading.Event) -> None:
        """The background thread: stream into the view, then mark the conversation idle."""
        try:
            self.run(ask, view, stream)
        finally:
            self._running.pop(ask.conversation.name, None)
            idle.set()

    def wait_idle(self, name: str, timeout: float | None = None) -> None:
        idle = self._idle.get(name)
        if idle is not None:
            idle.wait(timeout)

    def answer_all(self) -> int:
        """Answer now for the background calls still thinking; how many there were."""
        return sum(stream.answer_now() for stream in list(self._running.values()))

    def stop_all(self) -> int:
        """Cancel the calls running in the background; how many there were."""
        running = list(self._running.values())
        for stream in running:
            stream.cancel(wait=False)
        return len(running)

    def close(self) -> None:
        """On unload: stop background calls."""
        self.stop_all()

    def leave_demo(self) -> None:
        """Back from the offline demo to the backend used before (e.g. after %qwq login)."""
        if self.demo:
            self.settings.backend = self._before_demo or "workers-ai"
        self._before_demo = None

    def use_demo_unless_configured(self) -> str:
        """Use the offline demo unless a real backend is configured; say which.

        Only `backend` changes (to 'demo'): no server starts, no other setting is touched.
        """
        settings = self.settings
        if self.demo:
            return "offline demo: replies are scripted, not written by QwQ"
        if settings.backend == "openai" and settings.base_url:
            return f"using the OpenAI-compatible server at {settings.base_url}"
        credentials = self.credentials or Credentials.from_env()
        if credentials.account_id and credentials.api_token:
            return f"using Workers AI ({settings.model})"
        self._before_demo = settings.backend
        settings.backend = "demo"
        return (
            "no credentials found, so this notebook uses the offline demo: replies are "
            f"scripted, not written by QwQ {_FOR_THE_REAL_MODEL}"
        )

    def record(self, ask: Ask, response: Response) -> None:
        """Keep the turn (unless one-off), learn the token ratio, add to the totals.

        `response` was masked by `run`; `keep_turn` masks once more what enters a conversation.
        """
        self.last = response
        if ask.reused is None:  # shown again from the notebook: nothing was spent
            self.totals.add(response)
        # Tools and schemas add prompt tokens the messages do not show: learning from such a
        # call would skew the estimate for every later one.
        settings = ask.settings
        plain = not (settings.raw or settings.tools or settings.functions or settings.guided_json)
        if response.usage.input_tokens and plain:
            self.estimator.calibrate(ask.fit.messages, response.usage.input_tokens)
        if ask.slot is not None and response.finish_reason != "error":
            self.keep_turn(ask, response, ask.slot)

    def keep_turn(self, ask: Ask, response: Response, slot: int | None = None) -> bool:
        """Put a turn into its conversation (at `slot`, else at the end).

        If the conversation was reset or loaded while the call ran, the turn belongs to one
        that no longer exists: it is dropped rather than bringing the old one back.
        """
        conversation = ask.conversation
        current = self.store.conversations.get(conversation.name)
        if not ask.fresh and current is not conversation:
            return False
        self.redact_response(response)  # e.g. a run of --compare picked with %qwq pick
        conversation.system_prompt = ask.system_prompt
        position = len(conversation.turns) if slot is None else slot
        conversation.put(position, Turn(ask.prompt, response, ask.cell_id))
        self.store.conversations[conversation.name] = conversation
        ask.fresh = False  # a second keep (e.g. %qwq pick twice) must find it in the store
        for listener in self.listeners:
            listener()
        return True

    def conversation_tokens(self, name: str | None = None) -> int:
        return self.estimator.estimate(self.conversation(name).history())


def _cassette_from_environment() -> Cassette | None:
    from ..client.cassette import cassette_from_environment

    return cassette_from_environment()
