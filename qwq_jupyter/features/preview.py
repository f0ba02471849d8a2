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

    def __repr__(self) -> str:
        return (
            f"<RequestPreview {self.url}: ≈{self.input_tokens:,} input tokens, "
            f"max_tokens {self.max_tokens:,}>"
        )

    def cost_line(self) -> str:
        quality = "calibrated" if self.calibrated else "uncalibrated"
        return (
            f"Input ≈{self.input_tokens:,} tokens ({quality} estimate) → "
            f"{money(self.input_cost)}; output up to {self.max_tokens:,} tokens → "
            f"at most {money(self.max_output_cost)}."
        )

    def _repr_html_(self) -> str:
        """The request as sent: every piece escaped text, the dollar amounts never math."""
        headers = ", ".join(f"<code>{escape(f'{k}: {v}')}</code>" for k, v in self.headers.items())
        return document(
            [
                "<p><b>Dry run: nothing was sent.</b></p>",
                *[note_html(note) for note in self.notes],
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
                + "".join(f"note: {note}\n" for note in self.notes)
                + f"POST {self.url}\n"
                f"{json.dumps(self.body, indent=2, ensure_ascii=False)}\n"
                f"{self.cost_line()}\n"
                f"--- chat template text ---\n{self.template_text}"
            )
        )


def preview(session: Session, ask: Ask) -> RequestPreview:
    """What `ask` would send, shown in full; nothing is sent."""
    return RequestPreview(session.prepare(ask), ask, session.estimator)
