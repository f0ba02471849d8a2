"""A batch's journal: each finished item of `batch(..., journal=PATH)` kept on disk as it
completes, so a crash, a ■ or a closed laptop loses nothing that was paid for, and a re-run
sends only what is missing.

Why an SQLite file (the standard library's sqlite3) and not JSON lines:

- Atomic commits. Each finished item is one transaction: it is in the file whole or not at
  all. A kernel killed mid-write (SIGKILL, out of memory, a power cut) leaves that transaction
  uncommitted, and SQLite rolls it back when the file is next opened: no torn last line to
  detect and skip, no half-written JSON, nothing to repair by hand.
- Durable per item. The file is in WAL mode with `synchronous=FULL`: a commit returns once the
  item is on disk (one fsync, about 0.2 ms on the benchmark machine). Commits run on a writer
  thread of their own, so the event loop carrying the HTTP calls never waits for the disk.
- Keyed lookup. Rows are found by key through an index, so a re-run reads the rows it asks for
  and never loads the whole history into memory.
- One clear refusal. The header carries an application id and a schema version: a file that is
  not ours, is damaged, or comes from a newer qwq-jupyter is refused in one line before
  anything is sent.

Append-only: a retried item adds a row and never rewrites one. For a key, an answered row wins
over a failed one and a later row over an earlier one. Items left unsent (the budget, a ■) are
not written: the next run sends them.

An item's key is a hash of what decides its answer: the prompt as sent, the system prompt, the
model, and the parameters that change the answer (temperature, top_p, top_k, seed, max_tokens,
the penalties, raw, guided_json, tools, extra_body, and with tools the rounds and result size
allowed; a Python function by its name, signature and docstring); the offline demo's answers
are keyed apart. Not its place in the input list (a reordered or extended list reuses what
matches), not the backend or URL (the same model reached directly or through AI Gateway
answers alike), not timeouts, retries or prices.

Repeats: with a journal, inputs with the same key are one call whose result they all share (the
journal could not tell their answers apart anyway). Without a journal each input is asked, so
sampling one prompt several times stays possible.

Secrets: prompts are redacted before items are made and responses are masked as they arrive;
the journal masks every text, and the whole response, once more before writing, so no secret
the kernel knows reaches the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import queue
import reprlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.credentials import redact, redact_data
from ..core.errors import ConfigurationError, server_text
from ..core.events import Response
from ..core.printable import printable
from ..core.settings import MODEL_PARAMETERS, QwQSettings

__all__ = [
    "Journal",
    "JournalEntry",
    "check_journal",
    "describe",
    "item_key",
    "keyer",
    "reuse",
    "share_repeats",
]

#: In the SQLite header (PRAGMA application_id): "QwQb", this file is a batch journal.
APPLICATION_ID = 0x51775162
#: The schema this module writes (PRAGMA user_version); a newer one is refused, not guessed at.
VERSION = 1
#: The longest description of an input kept in the journal.
DESCRIPTION_LIMIT = 120
#: The parameters that change an answer: every model parameter but `stream` (a batch never
#: streams), and `extra_body`, whose fields go into the request as they are.
ANSWER_PARAMETERS = (*(name for name in MODEL_PARAMETERS if name != "stream"), "extra_body")
#: With tools, these too: Python functions among them run, and their results shape the answer.
TOOL_PARAMETERS = ("functions", "max_tool_rounds", "tool_result_chars")

_SCHEMA = """
CREATE TABLE items (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    input TEXT NOT NULL,
    prompt TEXT NOT NULL,
    answer TEXT,
    reasoning_tokens INTEGER,
    cost REAL,
    error TEXT,
    finish_reason TEXT,
    response TEXT,
    written REAL NOT NULL
);
CREATE INDEX items_by_key ON items (key, seq);
"""
_COLUMNS = (
    "key, input, prompt, answer, reasoning_tokens, cost, error, finish_reason, response, written"
)
_INSERT = f"INSERT INTO items ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
_LOOKUP_CHUNK = 500  # keys per query, well under SQLite's limit on parameters
_repr = reprlib.Repr()
_repr.maxstring = 4_096  # strings are cut in the middle: far past what a description keeps
_repr.maxother = 4_096
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 12


def item_key(prompt: str, settings: QwQSettings) -> str:
    """What decides an item's answer, as a short hash (see the module's docstring)."""
    return keyer(settings)(prompt)


def keyer(settings: QwQSettings) -> Callable[[str], str]:
    """`item_key` for many prompts with the same settings: those are read once."""
    parameters = {name: getattr(settings, name) for name in ANSWER_PARAMETERS}
    if parameters["tools"] or getattr(settings, "functions", None):
        parameters |= {name: getattr(settings, name, None) for name in TOOL_PARAMETERS}
    decides: dict[str, Any] = {
        "system": settings.system_prompt,
        "model": settings.model,
        "parameters": parameters,
    }
    if settings.backend == "demo":
        decides["demo"] = True  # scripted answers are not the model's
    canonical = json.dumps(decides, sort_keys=True, default=_stable)  # ASCII: any text

    def key(prompt: str) -> str:
        text = f"{json.dumps(prompt)}\n{canonical}"  # a JSON string holds no raw newline
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    return key


def _stable(value: Any) -> Any:
    """A value JSON cannot hold, the same in every kernel: a function by its name, signature
    and docstring (what the model is told of a tool), never by its address in memory."""
    if callable(value):
        try:
            signature = str(inspect.signature(value))
        except (TypeError, ValueError):
            signature = ""
        name = getattr(value, "__qualname__", type(value).__qualname__)
        return [getattr(value, "__module__", ""), name, signature, getattr(value, "__doc__", "")]
    return repr(value)


def describe(value: Any, secrets: tuple[str, ...] = ()) -> str:
    """An input as one short printable line with known secrets masked.

    Masked before it is shortened, so a cut never leaves part of a secret showing.
    """
    try:
        text = value if isinstance(value, str) else _repr.repr(value)
    except Exception as err:  # a value whose repr fails is still an item
        text = f"<{type(value).__name__}: repr failed with {type(err).__name__}>"
    return server_text(redact(text[:8_192], secrets), DESCRIPTION_LIMIT)


class Item(Protocol):
    """What the journal reads and fills in of a `BatchItem`."""

    input: Any
    prompt: str
    response: Response | None
    error: str | None
    from_journal: bool
    key: str
    duplicate_of: int | None


@dataclass(frozen=True)
class JournalEntry:
    """One row: an item as it finished in an earlier run."""

    key: str
    input: str
    prompt: str
    answer: str | None
    reasoning_tokens: int | None
    cost: float | None
    error: str | None
    finish_reason: str | None
    response_json: str | None
    written: float

    def response(self) -> Response | None:
        """The whole response again; ValueError if the row's JSON is not one."""
        if self.response_json is None:
            return None
        try:
            data = json.loads(self.response_json)
            if not isinstance(data, dict):
                raise TypeError(f"a JSON {type(data).__name__}, not an object")
            return Response.from_dict(data)
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"{type(err).__name__}: {err}") from None


class Journal:
    """An open journal: look items up by key, append finished items from any thread.

    Appends go to a queue a writer thread drains, one transaction per item; `close()` writes
    what is queued and closes the file. A failed write (a full disk) does not stop the batch:
    its results are still returned, and `error` says what was not kept.
    """

    def __init__(self, path: str | os.PathLike[str], secrets: tuple[str, ...] = ()) -> None:
        self.path = os.fspath(path)
        self.secrets = secrets
        self.written = 0
        #: The first write that failed, as one line; None while every item was kept.
        self.error: str | None = None
        self._db = _open(self.path)
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Item, float] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._drain, name="qwq-journal", daemon=True)
        self._writer.start()

    def lookup(self, keys: Iterable[str]) -> dict[str, JournalEntry]:
        """The row kept for each key that has one: answered before failed, later before earlier."""
        found: dict[str, JournalEntry] = {}
        wanted = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM items WHERE key IN ({marks}) ORDER BY seq", chunk
                )
                for row in rows:
                    entry = JournalEntry(*row)
                    kept = found.get(entry.key)
                    if kept is None or entry.error is None or kept.error is not None:
                        found[entry.key] = entry
        return found

    def append(self, item: Item) -> None:
        """Keep `item` (finished: answered or failed); safe from any thread, returns at once."""
        self._queue.put((item, time.time()))

    def close(self) -> None:
        """Write what is queued, then close the file (the WAL is folded back into it)."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        with self._lock:
            self._db.close()

    def _drain(self) -> None:
        while True:
            pending = self._queue.get()
            if pending is None:
                return
            try:
                row = self._row(*pending)
                with self._lock:  # one statement in autocommit mode: one transaction, atomic
                    self._db.execute(_INSERT, row)
                self.written += 1
            except Exception as err:  # the item stays in the result; the journal says so
                if self.error is None:
                    self.error = server_text(f"{type(err).__name__}: {err}", 160)

    def _row(self, item: Item, when: float) -> tuple[Any, ...]:
        secrets, response = self.secrets, item.response
        data = redact_data(response.to_dict(), secrets) if response is not None else None
        return (
            item.key,
            _text(describe(item.input, secrets)),
            _text(redact(item.prompt, secrets)),
            _text(data["answer"]) if data is not None else None,
            response.reasoning_tokens if response is not None else None,
            response.cost if response is not None else None,
            _text(redact(item.error, secrets)) if item.error is not None else None,
            response.finish_reason if response is not None else None,
            json.dumps(data, default=str) if data is not None else None,  # ASCII, so any text
            when,
        )


def reuse(items: Sequence[Item], journal: Journal, settings: QwQSettings, retry: bool) -> None:
    """Key every item, mark repeats of an earlier item, and fill in what the journal holds.

    An item whose prompt could not be made has no key. A repeat (same key as an earlier item)
    is sent once: it gets `duplicate_of`, the index of the first, and shares its result. A
    failed row is taken as it is unless `retry`; then the item is sent again.
    """
    key = keyer(settings)
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.error is not None:
            continue
        item.key = key(item.prompt)
        item.duplicate_of = first.setdefault(item.key, index)
        if item.duplicate_of == index:
            item.duplicate_of = None
    keys = list(first)
    for start in range(0, len(keys), _LOOKUP_CHUNK):  # a chunk's rows at a time in memory
        found = journal.lookup(keys[start : start + _LOOKUP_CHUNK])
        for entry in found.values():
            if retry and entry.error is not None:
                continue
            index = first[entry.key]
            item = items[index]
            try:
                item.response = entry.response()
            except ValueError as err:
                raise ConfigurationError(
                    f"journal {printable(journal.path)} holds a damaged row for item {index} "
                    f"({server_text(err, 80)}), so nothing was sent: move the file away or "
                    "give another path"
                ) from None
            item.error = entry.error
            item.from_journal = True


def share_repeats(items: Sequence[Item]) -> None:
    """Give each repeat the result of the item it repeats (once that one has finished)."""
    for item in items:
        if item.duplicate_of is not None:
            first = items[item.duplicate_of]
            item.response, item.error = first.response, first.error
            item.from_journal = first.from_journal


def check_journal(journal: Any, retry_failed: Any) -> None:
    """Refuse `batch()`'s journal arguments in one line if they are wrong."""
    if journal is not None and not isinstance(journal, (str, os.PathLike)):
        raise ConfigurationError(
            f"journal must be a file path (a str or Path), not {type(journal).__name__}"
        )
    if not isinstance(retry_failed, bool):
        raise ConfigurationError(f"retry_failed must be True or False, not {retry_failed!r}")
    if retry_failed and journal is None:
        raise ConfigurationError("retry_failed=True needs a journal= to take the failures from")


def _text(value: str) -> str:
    """`value` as SQLite can store it: a lone surrogate (from bad bytes) becomes U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")


def _open(path: str) -> sqlite3.Connection:
    """The journal at `path`, made if new; ConfigurationError (one line) if it is not ours."""
    shown = printable(path)
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConfigurationError(f"journal {shown} is a folder; give a file path")
    if not os.path.isdir(parent):
        raise ConfigurationError(f"journal {shown}: there is no folder {printable(parent)}")
    db: sqlite3.Connection | None = None
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        _check_or_make(db, shown)
    except sqlite3.OperationalError as err:  # cannot open, read-only, locked
        if db is not None:
            db.close()
        raise ConfigurationError(f"journal {shown} cannot be opened: {err}") from None
    except (sqlite3.DatabaseError, ConfigurationError) as err:
        if db is not None:
            db.close()
        if isinstance(err, ConfigurationError):
            raise
        raise ConfigurationError(
            f"journal {shown} is not a readable qwq-jupyter batch journal ({err}), so nothing "
            "was sent: move it away or give another path"
        ) from None
    return db


def _check_or_make(db: sqlite3.Connection, shown: str) -> None:
    refuse = (
        f"journal {shown} is not a qwq-jupyter batch journal"
        " ({}), so nothing was sent: move it away or give another path"
    )
    db.execute("BEGIN IMMEDIATE")  # made once even if two kernels open it at once
    try:
        application = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if application == 0 and not tables:  # new (or empty): make it ours
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {VERSION}")
            for statement in _SCHEMA.split(";")[:2]:  # not executescript: it would COMMIT
                db.execute(statement)
        elif application != APPLICATION_ID:
            raise ConfigurationError(refuse.format("an SQLite file of something else"))
        elif version > VERSION:
            raise ConfigurationError(
                f"journal {shown} was written by a newer qwq-jupyter (schema {version}; this one "
                f"reads {VERSION}), so nothing was sent: upgrade, or give another path"
            )
        else:
            columns = [row[1] for row in db.execute("PRAGMA table_info(items)")]
            if version != VERSION or columns != ["seq", *_COLUMNS.split(", ")]:
                raise ConfigurationError(
                    refuse.format(f"schema {version}, not the items it writes")
                )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise
    check = db.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise ConfigurationError(refuse.format(f"damaged: {server_text(check, 60)}"))
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
