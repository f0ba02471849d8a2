"""The session's spending cap (`%qwq budget D`): what is spent, what is left, what may be sent.

A call is refused before it is sent when its worst case (`Steering.worst_case`: the prompt,
max_tokens of output, and the continuations a cut thinking may need; under `max_cost`, that
cap) would cross what is left. Spent money is the session's running total: reported usage,
and the client's estimate for calls cut before their server reported any.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import BudgetExceeded
from ..core.public import publish

__all__ = ["Budget", "dollars"]


def dollars(amount: float) -> str:
    """Money as the budget lines show it: four decimals below a dollar, two above."""
    return f"${amount:,.4f}" if abs(amount) < 1 else f"${amount:,.2f}"


@dataclass
class Budget:
    """A cap on what this session may spend; None: no cap."""

    cap: float | None = None

    def left(self, spent: float) -> float | None:
        return None if self.cap is None else max(self.cap - spent, 0.0)

    def check(self, worst: float, spent: float) -> None:
        """Refuse a call whose worst case would cross the cap (BudgetExceeded, one line)."""
        left = self.left(spent)
        if left is None or worst <= left:
            return
        raise BudgetExceeded(
            f"refused: this call could cost up to {dollars(worst)}, and the session budget has "
            f"{dollars(left)} left of {dollars(self.cap or 0)}; lower max_tokens, set "
            "--max-cost, or raise it with %qwq budget"
        )

    def describe(self, spent: float, unknown_calls: int = 0) -> str:
        """One line: spent, and left of the cap."""
        unknown = (
            f" (+ {unknown_calls} call{'s' if unknown_calls != 1 else ''} whose server "
            "reported no usage)"
            if unknown_calls
            else ""
        )
        if self.cap is None:
            return f"spent {dollars(spent)}{unknown}; no budget set (%qwq budget D sets one)"
        left = self.left(spent) or 0.0
        return f"spent {dollars(spent)} of {dollars(self.cap)}, {dollars(left)} left{unknown}"


publish(globals())
