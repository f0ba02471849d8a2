"""One cell's question, resolved (`Ask`), and what the session has spent (`Totals`).

`Session.ask` builds an `Ask`: the messages after trimming to the window, the settings of this
call, where its turn goes, and how its thinking is steered. Everything else reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.events import Response
from ..core.settings import QwQSettings
from ..core.template import apply_chat_template
from .conversation import Conversation, WindowFit

if TYPE_CHECKING:
    from ..client.steering_rules import Steering

__all__ = ["PROMPT_REDACTED", "REPLY_REDACTED", "REUSED", "Ask", "Totals", "steering_for"]

PROMPT_REDACTED = (
    "a known secret (API token, key or account id) in the prompt was replaced by **** "
    "before sending"
)
#: What a reused turn's output says first.
REUSED = (
    "reused from the notebook · $0: this cell's request is the one its saved output was "
    "made by, so nothing was sent"
)
#: What a call given tools through the deprecated `functions` setting says first.
FUNCTIONS_DEPRECATED = "functions is deprecated in the API: they were sent as tools"
REPLY_REDACTED = "a known secret (API token, key or account id) in the reply is shown as ****"


@dataclass
class Ask:
    """One `%%qwq` cell, resolved: what to send, where its turn goes, and what to say first."""

    prompt: str
    settings: QwQSettings
    conversation: Conversation
    slot: int | None  # None: a one-off question, not recorded
    messages: list[dict[str, Any]]
    fit: WindowFit
    cell_id: str | None = None
    system_prompt: str = ""
    fresh: bool = False  # the conversation starts with this turn (new, or --new)
    redacted: bool = False  # a known secret was masked in what is sent
    #: How the thinking is steered while it streams, and the call's worst case (set by
    #: `Session.ask`, once the rest is known).
    steering: Steering | None = None
    #: The cell's whole source (its flags and prompt as typed), for the saved turn's record.
    cell_source: str = ""
    #: A hash of the request that was sent (set when it is sent).
    request_hash: str = ""
    #: The saved turn shown again from the notebook (`reuse = 'saved'`): nothing was sent.
    reused: Response | None = None

    @property
    def notes(self) -> list[str]:
        notes = self.fit.notices() + ([PROMPT_REDACTED] if self.redacted else [])
        return notes + ([FUNCTIONS_DEPRECATED] if self.settings.functions else [])

    @property
    def tools_run(self) -> bool:
        """Some of the call's tools are functions, which run when QwQ calls them."""
        from ..client.tool_runner import runs_tools

        return runs_tools(self.settings)

    @property
    def requests_at_most(self) -> int:
        """Requests this call may make: one, and one more per round of tools."""
        return 1 + self.settings.max_tool_rounds if self.tools_run else 1

    def request_input(self) -> dict[str, Any]:
        """`messages=` for the chat template, or `prompt=` for a raw request."""
        if self.settings.raw:
            if "<|im_start|>" in self.prompt:
                return {"prompt": self.prompt}  # the user wrote the template themselves
            return {"prompt": apply_chat_template(self.fit.messages)}
        return {"messages": self.fit.messages}

    def template(self) -> str:
        """The prompt as QwQ reads it: what a raw continuation of its thinking extends."""
        return self.request_input().get("prompt") or apply_chat_template(self.fit.messages)


def steering_for(ask: Ask) -> Steering:
    """How the call's thinking is steered, and its worst case; ConfigurationError for
    settings that cannot work (a budget without streaming, a budget above max_tokens)."""
    from ..client.steering_rules import Steering

    return Steering.of(ask.settings, ask.template(), ask.fit.input_tokens)


@dataclass
class Totals:
    """Tokens and dollars spent in this session."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    unknown_usage_calls: int = 0

    def add(self, response: Response) -> None:
        self.calls += 1
        if not response.usage.known:
            self.unknown_usage_calls += 1
            return
        self.input_tokens += response.usage.input_tokens or 0
        self.output_tokens += response.usage.output_tokens or 0
        self.cost += response.cost or 0.0
