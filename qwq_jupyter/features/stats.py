"""`%qwq stats`: tokens, dollars and time per conversation, and reasoning length per turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.printable import printable
from ..render.html import document, escape
from ..render.render import money, plural
from ..session.conversation import Conversation

__all__ = ["ConversationStats", "conversation_stats"]


@dataclass
class ConversationStats:
    name: str
    turns: int = 0
    input_tokens: int = 0
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    cost: float = 0.0
    thinking_seconds: float = 0.0
    answering_seconds: float = 0.0
    unknown_usage: int = 0
    loops: int = 0  # turns whose reasoning the loop guard found repeating
    forced: int = 0  # turns whose answer was forced from cut thinking
    reasoning_per_turn: list[int | None] = field(default_factory=list)

    def add(self, other: ConversationStats) -> None:
        for name in (
            "turns",
            "input_tokens",
            "reasoning_tokens",
            "answer_tokens",
            "cost",
            "thinking_seconds",
            "answering_seconds",
            "unknown_usage",
            "loops",
            "forced",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self) -> list[str]:
        return [
            self.name,
            f"{self.turns}",
            f"{self.input_tokens:,}",
            f"{self.reasoning_tokens:,}",
            f"{self.answer_tokens:,}",
            money(self.cost),
            f"{self.thinking_seconds:.1f} s",
            f"{self.answering_seconds:.1f} s",
            f"{self.loops}",
            f"{self.forced}",
        ]


HEADER = [
    "conversation",
    "turns",
    "input tok",
    "reasoning tok",
    "answer tok",
    "cost",
    "thinking",
    "answering",
    "loops",
    "forced",
]


def conversation_stats(conversation: Conversation) -> ConversationStats:
    stats = ConversationStats(conversation.name)
    for turn in conversation.turns:
        r = turn.response
        stats.turns += 1
        stats.reasoning_per_turn.append(r.reasoning_tokens)
        if not r.usage.known:
            stats.unknown_usage += 1
        stats.input_tokens += r.usage.input_tokens or 0
        stats.reasoning_tokens += r.reasoning_tokens or 0
        stats.answer_tokens += r.answer_tokens or 0
        stats.cost += r.cost or 0.0
        stats.loops += r.loop is not None
        stats.forced += r.forced
        thinking = r.thinking_time or 0.0
        stats.thinking_seconds += thinking
        stats.answering_seconds += max(0.0, r.total_time - (r.time_to_first_token or 0) - thinking)
    return stats


class SessionStats:
    """Per-conversation rows and a session total; shows a plot when matplotlib is there."""

    def __init__(self, conversations: list[Conversation]) -> None:
        self.conversations = [conversation_stats(c) for c in conversations]
        self.total = ConversationStats("session (all)")
        for stats in self.conversations:
            self.total.add(stats)

    def _rows(self) -> list[list[str]]:
        return [s.row() for s in self.conversations] + [self.total.row()]

    def _per_turn(self) -> list[tuple[str, str]]:
        return [
            (s.name, ", ".join("?" if n is None else f"{n:,}" for n in s.reasoning_per_turn) or "-")
            for s in self.conversations
        ]

    def _unknown_note(self) -> str:
        unknown = self.total.unknown_usage
        return f"{plural(unknown, 'turn')} had no usage from the server." if unknown else ""

    def _repr_html_(self) -> str:
        """A table of the extension's own numbers: no Markdown, so no `$` becomes math."""
        head = "".join(f"<th>{escape(name)}</th>" for name in HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self._rows()
        )
        per_turn = "".join(
            f"<li><code>{escape(name)}</code> reasoning tokens per turn: {escape(counts)}</li>"
            for name, counts in self._per_turn()
        )
        note = self._unknown_note()
        return document(
            [
                f'<table class="qwq-table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>",
                f"<ul>{per_turn}</ul>",
                f"<p>{escape(note)}</p>" if note else "",
            ]
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """The same table as aligned text, for terminal IPython."""
        rows = [HEADER, *self._rows()]
        widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
        lines = [
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines += [
            f"{name} reasoning tokens per turn: {counts}" for name, counts in self._per_turn()
        ]
        if self._unknown_note():
            lines.append(self._unknown_note())
        printer.text(printable("\n".join(lines)))

    def figure(self) -> Any:
        """A bar chart of reasoning tokens per turn, or None without matplotlib."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            return None
        from matplotlib.ticker import MaxNLocator

        figure, axes = plt.subplots(figsize=(6, 2.6))
        # An opaque white sheet: dark text on a transparent plot would vanish in a dark theme.
        figure.patch.set_facecolor("white")
        for stats in self.conversations:
            counts = [n or 0 for n in stats.reasoning_per_turn]
            turns = range(1, len(counts) + 1)
            axes.plot(turns, counts, marker="o", label=stats.name)
            for turn, count in zip(turns, counts, strict=True):
                axes.annotate(
                    f"{count:,}", (turn, count), textcoords="offset points", xytext=(0, 5),
                    ha="center", fontsize=8,
                )  # fmt: skip
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # turns are whole numbers
        axes.margins(y=0.25)
        axes.set_xlabel("turn")
        axes.set_ylabel("reasoning tokens")
        axes.set_title("How long QwQ thought, turn by turn")
        axes.legend()
        figure.tight_layout()
        plt.close(figure)
        return figure
