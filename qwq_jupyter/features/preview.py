"""`--dry-run` / `%qwq request`: exactly what would be sent, and what it would cost."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..core.credentials import MASK
from ..core.printable import printable
from ..core.template import apply_chat_template
from ..render.html import document, escape, preformatted
from ..render.render import money, note_html

if TYPE_CHECKING:
    from ..core.settings import QwQSettings
    from ..session.conversation import TokenEstimator
    from ..session.session import Ask, Session
    from ..wire.request import HTTPRequest

__all__ = ["RequestPreview", "preview"]


class RequestPreview:
    """A request that was built but not sent. Its attributes are what a test or a class reads."""

    def __init__(self, request: HTTPRequest, ask: Ask, estimator: TokenEstimator) -> None:
        settings = ask.settings
        self.url = request.shown_url
        self.body: dict[str, Any] = request.body
        self.headers = {
            name: (f"Bearer {MASK}" if name == "Authorization" else value)
            for name, value in request.headers.items()
        }
        self.input_tokens = ask.fit.input_tokens
        self.max_tokens = ask.settings.max_tokens
        self.input_cost = self.input_tokens * settings.input_price / 1_000_000
        self.max_output_cost = self.max_tokens * settings.output_price / 1_000_000
        self.calibrated = estimator.calibrated
        #: The text the model reads once the chat template is applied.
        self.template_text = (
            request.body["prompt"]
            if "prompt" in request.body
            else apply_chat_template(ask.fit.messages)
        )
        # The window's notices, a redaction, and what the server kind does not accept.
        self.notes = [*ask.notes, *request.notes]
        #: The most the call can cost, continuations of a cut thinking included.
        rounds = ask.requests_at_most  # one, or one more per round of tools
        self.worst_case = ask.steering.worst_case() * rounds if ask.steering else None
        self.steering = _steering(settings) if settings.stream else []
        if rounds > 1:
            self.steering.append(
                f"the functions among the tools run in this kernel when QwQ calls them, and "
                f"their results go back: up to {rounds - 1} more requests"
                + (", each asked about first" if settings.confirm_tools else "")
            )

    def __repr__(self) -> str:
        return (
            f"<RequestPreview {self.url}: ≈{self.input_tokens:,} input tokens, "
            f"max_tokens {self.max_tokens:,}>"
        )

    def cost_line(self) -> str:
        quality = "calibrated" if self.calibrated else "uncalibrated"
        line = (
            f"Input ≈{self.input_tokens:,} tokens ({quality} estimate) → "
            f"{money(self.input_cost)}; output up to {self.max_tokens:,} tokens → "
            f"at most {money(self.max_output_cost)}."
        )
        if self.worst_case is not None:
            line += (
                f" Worst case, with a cut thinking's continuation re-reading the prompt and "
                f"reasoning (and every round of tools): {money(self.worst_case)}."
            )
        return line

    def _repr_html_(self) -> str:
        """The request as sent: every piece escaped text, the dollar amounts never math."""
        headers = ", ".join(f"<code>{escape(f'{k}: {v}')}</code>" for k, v in self.headers.items())
        return document(
            [
                "<p><b>Dry run: nothing was sent.</b></p>",
                *[note_html(note) for note in self.notes],
                *[note_html(line) for line in self.steering],
                f"<p><code>POST {escape(self.url)}</code></p>",
                f"<p>Headers: {headers}</p>",
                preformatted(json.dumps(self.body, indent=2, ensure_ascii=False)),
                f"<p>{escape(self.cost_line())}</p>",
                "<p>What QwQ reads after its chat template (earlier reasoning is never sent "
                "back):</p>",
                preformatted(self.template_text),
            ]
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(
            printable(
                "Dry run: nothing was sent.\n"
                + "".join(f"note: {note}\n" for note in [*self.notes, *self.steering])
                + f"POST {self.url}\n"
                f"{json.dumps(self.body, indent=2, ensure_ascii=False)}\n"
                f"{self.cost_line()}\n"
                f"--- chat template text ---\n{self.template_text}"
            )
        )


def _steering(settings: QwQSettings) -> list[str]:
    """What would happen to the thinking while it streams, in sentences."""
    lines = []
    if settings.think_budget is not None:
        lines.append(
            f"the thinking is cut at {settings.think_budget:,} tokens, and QwQ is asked for the "
            "answer in a second, raw call"
        )
    if settings.think_min:
        lines.append(
            f"an end of thinking before {settings.think_min:,} tokens is continued with "
            '"Wait," (at most 3 times)'
        )
    if settings.max_cost is not None:
        then = "answer" if settings.on_budget == "answer" else "stop"
        lines.append(f"at most {money(settings.max_cost)} for this call, then {then}")
    if settings.on_loop != "answer":
        lines.append(f"a loop in the reasoning: {settings.on_loop}")
    return lines


def preview(session: Session, ask: Ask) -> RequestPreview:
    """What `ask` would send, shown in full; nothing is sent."""
    return RequestPreview(session.prepare(ask), ask, session.estimator)
