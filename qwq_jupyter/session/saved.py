"""What a notebook keeps of a turn, and how conversations come back from a saved notebook.

Every finished `%%qwq` output also carries its turn as JSON under the extension's own MIME
type. Frontends do not render it (they show the HTML beside it); the .ipynb keeps it. So a
notebook opened tomorrow, or run by nbclient or papermill, still holds its lesson:
`%qwq restore` rebuilds the kernel's conversations from it, in cell order.

A record holds what the turn was: the conversation, the cell, the prompt as sent (secrets
already masked), the reply (answer, reasoning, usage, timings, finish reason, settings), a
hash of the request that produced it and a hash of the cell's source. Never a key: the prompt
and the reply were masked before they were recorded, and the record is masked once more here.
A saved notebook is anyone's file, so reading one checks every field (a record of the wrong
shape is skipped and said so, never trusted).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.credentials import redact_data
from ..core.errors import ConfigurationError
from ..core.events import (
    AnswerDelta,
    Event,
    Finish,
    ReasoningDelta,
    Response,
    ToolCallEvent,
    UsageEvent,
)
from ..core.public import publish
from .ask import Ask
from .conversation import Conversation, ConversationStore, Turn, read_turn

if TYPE_CHECKING:
    from ..core.settings import QwQSettings
    from ..wire.request import HTTPRequest

__all__ = [
    "TURN_MIME",
    "Restored",
    "SavedReply",
    "SavedTurns",
    "notebook_path",
    "restore",
    "saved_turns",
    "source_hash",
    "turn_record",
]

#: The MIME type of a turn's record in an output; versioned by its `version` field.
TURN_MIME = "application/vnd.qwq-jupyter.turn+json"
VERSION = 1
#: A notebook larger than this is not read (a lesson is far smaller; a hostile file is not).
NOTEBOOK_BYTES = 64 * 1024 * 1024


def source_hash(source: str) -> str:
    """A cell's source as a short hash: an edited cell no longer matches its saved turn."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def turn_record(ask: Ask, response: Response, secrets: tuple[str, ...]) -> dict[str, Any]:
    """The JSON a finished output carries for its turn (masked once more with `secrets`)."""
    record = {
        "version": VERSION,
        "conversation": ask.conversation.name,
        # False: a one-off question (or a failed call), not part of any conversation
        "kept": ask.slot is not None and response.finish_reason != "error",
        "cell_id": ask.cell_id,
        "source_hash": source_hash(ask.cell_source) if ask.cell_source else "",
        "request_hash": ask.request_hash,
        "system_prompt": ask.system_prompt,
        "prompt": ask.prompt,
        "response": response.to_dict(),
    }
    masked: dict[str, Any] = redact_data(record, secrets)
    return masked


class SavedTurns:
    """A saved notebook's turns by request hash, read again when the file changes."""

    def __init__(self) -> None:
        self._read: tuple[tuple[str, float], dict[str, Response]] | None = None

    def find(self, notebook: str, request_hash: str) -> Response | None:
        """A copy of the saved turn made by this very request, if the notebook holds one."""
        path = notebook_path(notebook or None)
        stamp = (path, os.path.getmtime(path))
        if self._read is None or self._read[0] != stamp:
            self._read = (stamp, saved_turns(path))
        found = self._read[1].get(request_hash)
        return Response.from_dict(found.to_dict()) if found is not None else None


@dataclass
class Restored:
    """What `%qwq restore` did: turns per conversation, and what it skipped and why."""

    path: str
    turns: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def report(self) -> str:
        if self.turns:
            each = ", ".join(f"{name}: {count}" for name, count in self.turns.items())
            lines = [f"restored {sum(self.turns.values())} turn(s) from {self.path} ({each})"]
        else:
            lines = [f"restored nothing from {self.path}: it holds no finished %%qwq turn"]
        lines += [f"skipped {reason}" for reason in self.skipped]
        return "\n".join(lines)


def notebook_path(path: str | None) -> str:
    """The notebook to read: `path`, else the one Jupyter Server started this kernel for."""
    if path:
        return path
    found = os.environ.get("JPY_SESSION_NAME", "")
    # Jupyter Server gives the notebook's path: absolute, or relative to its root (the kernel
    # runs in the notebook's folder, so then its name is what is found here).
    for candidate in (found, os.path.basename(found)):
        if candidate.endswith(".ipynb") and Path(candidate).is_file():
            return candidate
    raise ConfigurationError(
        "this kernel does not know its notebook's path (nbclient, papermill and terminals do "
        "not say it): give it, e.g. %qwq restore lesson.ipynb"
    )


def restore(store: ConversationStore, path: str | None = None) -> Restored:
    """Rebuild conversations from a saved notebook's turn records, in cell order.

    A conversation that already has turns in this kernel is left alone (said so); a cell
    edited since its turn ran, and a record of the wrong shape, are skipped and said so.
    """
    path = notebook_path(path)
    cells = _code_cells(path)
    restored = Restored(path)
    rebuilt: dict[str, Conversation] = {}
    for number, cell in enumerate(cells, 1):
        for record in _records(cell):
            where = f"cell {number}"
            try:
                turn, name, system_prompt, kept = _read(record)
            except ValueError as err:
                restored.skipped.append(f"{where}: {err}")
                continue
            if not kept:
                continue  # a one-off question: it was never part of a conversation
            if record.get("source_hash") and record["source_hash"] != source_hash(_source(cell)):
                restored.skipped.append(f"{where}: edited since it ran (it will be asked anew)")
                continue
            existing = store.conversations.get(name)
            if existing is not None and existing.turns and name not in rebuilt:
                restored.skipped.append(
                    f"{where}: {name!r} already has turns in this kernel (%qwq reset {name} first)"
                )
                continue
            conversation = rebuilt.setdefault(name, Conversation(name, system_prompt))
            conversation.put(conversation.slot_for(turn.cell_id), turn)
    for name, conversation in rebuilt.items():
        store.conversations[name] = conversation
        restored.turns[name] = len(conversation.turns)
    return restored


def saved_turns(path: str) -> dict[str, Response]:
    """Every well-formed turn a saved notebook holds, by the hash of the request that made it.

    What `reuse = 'saved'` looks a cell's request up in; a later output of the same request
    wins. Records of the wrong shape are left out (`%qwq restore` says which).
    """
    found: dict[str, Response] = {}
    for cell in _code_cells(path):
        for record in _records(cell):
            try:
                turn, *_ = _read(record)
            except ValueError:
                continue
            key = record.get("request_hash")
            if key and turn.response.finish_reason in ("stop", "tool_calls"):
                found[key] = turn.response
    return found


class SavedReply:
    """An event source that answers with a saved turn, at once, sending nothing."""

    def __init__(self, response: Response) -> None:
        self._response = response

    async def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]:
        saved = self._response
        if saved.reasoning:
            yield [ReasoningDelta(saved.reasoning)]
        if saved.answer:
            yield [AnswerDelta(saved.answer)]
        if saved.tool_calls:
            yield [ToolCallEvent(call) for call in saved.tool_calls]
        yield [UsageEvent(saved.usage), Finish(saved.finish_reason)]


def _code_cells(path: str) -> list[dict[str, Any]]:
    try:
        size = Path(path).stat().st_size
        if size > NOTEBOOK_BYTES:
            raise ConfigurationError(f"{path} is over {NOTEBOOK_BYTES // 2**20} MB; not read")
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigurationError(f"cannot read the notebook {path}: {err}") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ConfigurationError(f"{path} is not a notebook (no list of cells)")
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]


def _records(cell: dict[str, Any]) -> list[Any]:
    outputs = cell.get("outputs")
    if not isinstance(outputs, list):
        return []
    return [
        output["data"][TURN_MIME]
        for output in outputs
        if isinstance(output, dict)
        and isinstance(output.get("data"), dict)
        and TURN_MIME in output["data"]
    ]


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _read(record: Any) -> tuple[Turn, str, str, bool]:
    """(turn, conversation, system prompt, kept) from a record, or ValueError saying why not."""
    if not isinstance(record, dict):
        raise ValueError("a turn record that is not a JSON object")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise ValueError(f"a turn record of version {version!r} (this qwq-jupyter reads 1)")
    texts = ("conversation", "system_prompt", "prompt", "request_hash", "source_hash")
    for name in texts:
        if not isinstance(record.get(name, ""), str):
            raise ValueError(f"a turn record whose {name} is not text")
    if not record.get("conversation"):
        raise ValueError("a turn record with no conversation")
    if not isinstance(record.get("kept", True), bool):
        raise ValueError("a turn record whose kept is not true or false")
    turn = read_turn(
        {"prompt": record.get("prompt", ""), "response": record.get("response", {}),
         "cell_id": record.get("cell_id")}
    )  # fmt: skip
    return turn, record["conversation"], record.get("system_prompt", ""), record.get("kept", True)


publish(globals())
