"""What the settings ask of a call's thinking, checked before anything is sent, and what the
call can cost at worst (what a session budget checks).

`SteeredSource` (steering.py) carries it out while the reply streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import ConfigurationError
from ..core.public import publish
from ..core.settings import QwQSettings

__all__ = ["ANSWER_RESERVE", "MAX_EXTENSIONS", "Steering"]

#: How many times a too-short thinking is continued; the s1 paper saw no gain after a few.
MAX_EXTENSIONS = 3
#: Answer tokens kept in reserve under a cost cap: the answer is forced while they are
#: affordable (or while a quarter of the cap is, for a cap too small to pay for them).
ANSWER_RESERVE = 1_000


@dataclass(frozen=True)
class Steering:
    """How one call's thinking is steered, from its settings; validated before any request."""

    max_tokens: int
    input_tokens: int  # the prompt's estimated size: for the meter and the cost cap
    template: str  # the prompt as QwQ reads it, ending in `<think>\n`: what a continuation extends
    input_price: float = 0.66
    output_price: float = 1.00
    think_budget: int | None = None
    think_min: int | None = None
    on_loop: str = "answer"
    max_cost: float | None = None
    on_budget: str = "answer"
    #: A reply that is not streamed cannot be steered: no continuation, only its own cost.
    streamed: bool = True

    @classmethod
    def of(cls, settings: QwQSettings, template: str, input_tokens: int) -> Steering:
        """The steering `settings` ask for; ConfigurationError naming what cannot work."""
        budget, floor = settings.think_budget, settings.think_min
        if not settings.stream and (budget is not None or floor or settings.max_cost):
            raise ConfigurationError(
                "think_budget, think_min and max_cost act while the reply streams; "
                "they need stream=True (drop --no-stream)"
            )
        if budget is not None and budget >= settings.max_tokens:
            raise ConfigurationError(
                f"think_budget must be below max_tokens ({settings.max_tokens:,}) so the "
                f"answer has room, got {budget:,}"
            )
        if floor is not None and floor >= settings.max_tokens:
            raise ConfigurationError(
                f"think_min must be below max_tokens ({settings.max_tokens:,}), got {floor:,}"
            )
        if floor is not None and budget is not None and floor > budget:
            raise ConfigurationError(
                f"think_min ({floor:,}) must not be above think_budget ({budget:,})"
            )
        return cls(
            max_tokens=settings.max_tokens,
            input_tokens=input_tokens,
            template=template,
            input_price=settings.input_price,
            output_price=settings.output_price,
            think_budget=budget,
            think_min=floor,
            on_loop=settings.on_loop,
            max_cost=settings.max_cost,
            on_budget=settings.on_budget,
            streamed=bool(settings.stream),
        )

    def dollars(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1e6

    def continuations(self) -> int:
        """The most raw continuations one call can need: each extension, then one answer."""
        if not self.streamed:
            return 0
        return (MAX_EXTENSIONS if self.think_min else 0) + 1

    def worst_case(self) -> float:
        """The most this call can cost, before it is sent (what a session budget checks).

        The prompt, max_tokens of output, and each continuation re-reading the prompt and at
        most max_tokens of reasoning; under a cost cap, the cap.
        """
        rereads = self.continuations() * (self.input_tokens + self.max_tokens)
        worst = self.dollars(self.input_tokens + rereads, self.max_tokens)
        return worst if self.max_cost is None else min(worst, self.max_cost)


publish(globals())
