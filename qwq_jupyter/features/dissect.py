"""`%qwq anatomy` and `%qwq diff`: a reasoning taken apart, and two reasonings side by side.

A reply is named the way a teacher points at it: `3` is turn 3 of the conversation (as
`%qwq history` numbers them), `r2` is run 2 of the last `--compare` or `--vote`, nothing is the
last reply (the one just above, a one-off question too), and `--chat NAME` alone the last turn
of that conversation. The analysis is the core's
(`core/anatomy.py`, `core/diverge.py`); what is shown is `render/anatomy.py`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.diverge import diverge
from ..core.errors import ConfigurationError, server_text
from ..core.public import publish
from ..render.anatomy import divergence_html, shown_anatomy
from ..render.html import document, escape
from ..render.render import Rendered

if TYPE_CHECKING:
    from ..core.events import Response
    from ..session.session import Session

__all__ = ["anatomy_of", "diff_of", "pick_response"]


def pick_response(session: Session, ref: str | None, chat: str | None) -> tuple[Response, str]:
    """The reply `ref` names, and how to call it; ConfigurationError saying what there is."""
    if ref and ref.lower().startswith("r"):
        return _run(session, ref)
    if ref is None and chat is None and session.last is not None:
        return session.last, "the last reply"  # the one just above, one-off questions too
    conversation = session.conversation(chat)
    turns = conversation.turns
    if ref is None:
        if turns:
            return turns[-1].response, f"turn {len(turns)} of {conversation.name!r}"
        raise ConfigurationError(f"no reply yet in {conversation.name!r}: ask with %%qwq first")
    try:
        number = int(ref)
    except ValueError:
        raise ConfigurationError(
            f"{ref!r} names no reply: give a turn number (1 to {len(turns)}) or rN for run N "
            "of the last --compare or --vote"
        ) from None
    if not 1 <= number <= len(turns):
        raise ConfigurationError(
            f"{conversation.name!r} has {len(turns)} turn(s); give a number from 1 to {len(turns)}"
            if turns
            else f"{conversation.name!r} has no turns yet"
        )
    return turns[number - 1].response, f"turn {number} of {conversation.name!r}"


def _run(session: Session, ref: str) -> tuple[Response, str]:
    runs = getattr(session.last_comparison, "runs", None)
    if not runs:
        raise ConfigurationError(f"{ref!r}: no --compare or --vote has run yet")
    try:
        number = int(ref[1:])
    except ValueError:
        raise ConfigurationError(f"{ref!r}: a run is rN, e.g. r1 to r{len(runs)}") from None
    if not 1 <= number <= len(runs):
        raise ConfigurationError(f"{ref!r}: the last comparison has runs r1 to r{len(runs)}")
    run = runs[number - 1]
    return run.response, f"run {number} ({run.label})"


def anatomy_of(session: Session, ref: str | None, chat: str | None) -> Rendered:
    response, label = pick_response(session, ref, chat)
    if not response.reasoning:
        raise ConfigurationError(f"{label} has no reasoning to take apart")
    return shown_anatomy(response.anatomy(), f"Anatomy of the reasoning of {label}")


def diff_of(session: Session, a: str, b: str, chat: str | None) -> Rendered:
    """Where the reasonings of two replies part, next to their answers."""
    (first, first_label), (second, second_label) = (
        pick_response(session, a, chat),
        pick_response(session, b, chat),
    )
    divergence = diverge(first.anatomy(), second.anatomy())
    answers = "".join(
        f"<li><b>{escape(label)}</b>: {escape(server_text(response.answer))}</li>"
        for label, response in ((first_label, first), (second_label, second))
    )
    html = document(
        [
            f"<p><b>{escape(f'Where {first_label} and {second_label} diverge')}</b></p>",
            divergence_html(divergence, first_label, second_label),
            f"<p>Their answers:</p><ul>{answers}</ul>",
        ]
    )
    plain = "\n".join(
        [
            f"Where {first_label} and {second_label} diverge",
            divergence.summary(),
            *(
                f"{label}: {[step.kind for step in branch]}"
                for label, branch in (
                    (first_label, divergence.a_branch),
                    (second_label, divergence.b_branch),
                )
            ),
            f"{first_label} answered: {server_text(first.answer)}",
            f"{second_label} answered: {server_text(second.answer)}",
        ]
    )
    return Rendered(html, plain)


publish(globals())
