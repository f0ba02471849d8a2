"""The anatomy of a reasoning, shown: a timeline strip coloured by step kind, a small table,
and the steps one click away; a plain outline for terminals.

Everything here is text the extension writes about model text: step texts are escaped (they
are the model's), and the strip is our own markup with a fixed palette, sanitised like every
output (`html.document`). The rules behind the numbers are in docs/ANATOMY.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import server_text
from ..core.printable import printable
from .html import block, document, escape
from .render import Rendered

if TYPE_CHECKING:
    from ..core.anatomy import Anatomy, Step
    from ..core.diverge import Divergence

__all__ = ["KIND_COLOURS", "anatomy_html", "anatomy_plain", "divergence_html", "shown_anatomy"]

#: One colour per kind, readable on a light and a dark background (Tableau's palette).
KIND_COLOURS = {
    "explore": "#4c78a8",
    "compute": "#f58518",
    "verify": "#54a24b",
    "backtrack": "#e45756",
    "conclude": "#b279a2",
}
#: Characters of a step's text in its tooltip and in the list of steps.
_SHOWN = 400


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _strip(anatomy: Anatomy) -> str:
    """The reasoning as a bar: one segment per step, as wide as its tokens; hover for text."""
    segments = []
    for number, step in enumerate(anatomy.steps, 1):
        width = max(step.end - step.start, 1)
        text = server_text(step.text, _SHOWN)
        tip = f"{number}. {step.kind} · tokens {step.start:,}–{step.end:,}: {text}"
        segments.append(
            f'<span title="{escape(tip)}" style="flex: {width} 1 0; min-width: 2px; '
            f'background-color: {KIND_COLOURS.get(step.kind, "#888888")}; height: 1.3em">'
            "</span>"
        )
    bar = '<div style="display: flex; gap: 1px; width: 100%">' + "".join(segments) + "</div>"
    return bar + _answer_mark(anatomy)


def _answer_mark(anatomy: Anatomy) -> str:
    """A caret under the strip where the final answer first appears in the reasoning."""
    share = anatomy.first_answer_share
    if share is None:
        return ""
    left = min(max(share, 0.0), 1.0) * 100
    label = f"▲ answer first reached ({share:.0%})"
    return (
        '<div style="display: flex; width: 100%; font-size: 0.85em">'
        f'<span style="width: {left:.1f}%"></span><span style="white-space: nowrap">'
        f"{escape(label)}</span></div>"
    )


def _legend(anatomy: Anatomy) -> str:
    counts = {str(kind): count for kind, count in anatomy.counts().items()}
    items = [
        f'<span style="background-color: {colour}; padding: 0 0.6em">&nbsp;</span> '
        f"{escape(f'{kind} {counts.get(kind, 0)}')}"
        for kind, colour in KIND_COLOURS.items()
    ]
    return '<p style="font-size: 0.9em">' + " &nbsp; ".join(items) + "</p>"


def _facts(anatomy: Anatomy) -> list[tuple[str, str]]:
    """The table's rows: what a teacher points at."""
    rows = [
        ("reasoning tokens", f"{anatomy.tokens:,}"),
        ("steps", f"{len(anatomy.steps):,}"),
        ("final answer", anatomy.answer or "none found"),
    ]
    if anatomy.first_answer_at is None:
        rows.append(("answer first reached", "never stated in the reasoning"))
    else:
        rows.append(
            (
                "answer first reached",
                f"token {anatomy.first_answer_at:,} ({_percent(anatomy.first_answer_share)})",
            )
        )
        after = anatomy.after_first_answer or 0
        share = after / anatomy.tokens if anatomy.tokens else None
        rows.append(("thinking after it", f"{after:,} tokens ({_percent(share)})"))
    rows += [
        ("backtracks", f"{anatomy.backtracks}"),
        ("self-checks", f"{anatomy.self_checks}"),
    ]
    for switch in anatomy.switches:
        rows.append(("script switch", f"{switch.before} → {switch.after} at token {switch.at:,}"))
    loop = anatomy.loop
    if loop is not None:
        rows.append(("loop", str(getattr(loop, "describe", lambda: loop)())))
    return rows


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in rows
    )
    return f'<table class="qwq-table"><tbody>{body}</tbody></table>'


def _steps(steps: tuple[Step, ...]) -> str:
    """Every step, folded: its kind (coloured), its tokens, its text as written."""
    items = "".join(
        f'<li><span style="color: {KIND_COLOURS.get(step.kind, "#888888")}; font-weight: bold">'
        f"{escape(step.kind)}</span> {escape(f'tokens {step.start:,}–{step.end:,}')}: "
        f"{escape(server_text(step.text, _SHOWN))}</li>"
        for step in steps
    )
    return (
        f"<details><summary>{escape(f'The {len(steps)} steps, in order')}</summary>"
        f"<ol>{items}</ol></details>"
    )


def anatomy_html(anatomy: Anatomy, title: str = "Anatomy of the reasoning") -> str:
    """The strip, the legend, the summary, the table and the steps, as one safe output."""
    return document(
        [
            f"<p><b>{escape(title)}</b></p>",
            block(_strip(anatomy), "qwq-anatomy", "margin-bottom: 0.3em"),
            _legend(anatomy),
            f"<p>{escape(anatomy.summary())}</p>",
            _table(_facts(anatomy)),
            _steps(anatomy.steps),
        ]
    )


def anatomy_plain(anatomy: Anatomy, title: str = "Anatomy of the reasoning") -> str:
    """The same as an outline, for terminals: one line per step."""
    lines = [title, anatomy.summary(), ""]
    lines += [f"{name}: {value}" for name, value in _facts(anatomy)]
    lines.append("")
    for number, step in enumerate(anatomy.steps, 1):
        lines.append(
            f"{number:>3}. {step.kind:<9} {step.start:>6,}–{step.end:<6,} "
            f"{server_text(step.text, 90)}"
        )
    return printable("\n".join(lines))


def shown_anatomy(anatomy: Anatomy, title: str = "Anatomy of the reasoning") -> Rendered:
    """Both forms, for a cell's value: HTML in a notebook, the outline in a terminal."""
    return Rendered(anatomy_html(anatomy, title), anatomy_plain(anatomy, title))


def divergence_html(divergence: Divergence, a_label: str, b_label: str) -> str:
    """Where two runs part: the shared steps, then each branch's first steps side by side."""
    columns = []
    for label, branch in ((a_label, divergence.a_branch), (b_label, divergence.b_branch)):
        steps = "".join(
            f'<li><span style="color: {KIND_COLOURS.get(step.kind, "#888888")}; '
            f'font-weight: bold">{escape(step.kind)}</span> '
            f"{escape(server_text(step.text, 240))}</li>"
            for step in branch
        )
        columns.append(
            block(
                f"<p><b>{escape(label)}</b></p><ol>{steps or '<li>(ended)</li>'}</ol>",
                "qwq-run",
                "flex: 1 1 16em; min-width: 0; overflow-wrap: anywhere",
            )
        )
    return f"<p>{escape(divergence.summary())}</p>" + block(
        "".join(columns), "qwq-grid", "display: flex; flex-wrap: wrap; gap: 1.5em"
    )
