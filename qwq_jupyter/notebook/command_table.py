"""The `%qwq` commands as a table: names, typed arguments, usage lines.

Kept apart from the handlers (`commands.py`) so that `%load_ext` can list the commands in
`%%qwq?` without importing what the commands need to run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

__all__ = ["COMMANDS", "Argument", "Command", "command_list"]


@dataclass(frozen=True)
class Argument:
    """One word a command takes: its name in the usage line, its type, and whether optional."""

    name: str
    kind: type = str
    optional: bool = False

    def convert(self, command: str, word: str) -> Any:
        try:
            return self.kind(word)
        except ValueError:
            raise UsageError(
                f"%qwq {command}: {self.name} must be {_KINDS[self.kind]}, not {word!r}"
            ) from None


_KINDS = {str: "text", int: "a whole number", float: "a number"}


@dataclass(frozen=True)
class Command:
    """A `%qwq` command: its words, or the rest of the line as typed (`takes`), and its job."""

    name: str
    arguments: tuple[Argument, ...] = ()
    takes: str | None = None  # e.g. "[FLAGS]": the rest of the line, parsed like a %%qwq line

    @property
    def usage(self) -> str:
        """`replay PATH [SPEED]`: the command as its help and usage errors show it."""
        words = [f"[{a.name}]" if a.optional else a.name for a in self.arguments]
        return " ".join([self.name, *words, *([self.takes] if self.takes else [])])

    def words(self, rest: str) -> list[Any]:
        """The typed arguments in `rest`, or a one-line usage error. `# …` ends the line."""
        if self.takes is not None:
            return [_without_comment(rest)]
        try:
            words = shlex.split(rest, comments=True)
        except ValueError as err:  # an unclosed quote
            raise UsageError(f"%qwq {self.name}: {err}") from None
        required = sum(not a.optional for a in self.arguments)
        if not required <= len(words) <= len(self.arguments):
            raise UsageError(f"usage: %qwq {self.usage}")
        return [a.convert(self.name, w) for a, w in zip(self.arguments, words, strict=False)]


def _without_comment(rest: str) -> str:
    """The rest of a line as typed, up to a `#` word: quotes and apostrophes stay as they are.

    IPython's splitter, the one `%%qwq` flags go through, keeps a lone apostrophe ("What's")
    and the quotes around a quoted value, so the words join back into the same line.
    """
    # IPython re-exports its splitter untyped.
    from IPython.utils.process import arg_split  # type: ignore[attr-defined]

    words: list[str] = arg_split(rest, posix=False)
    for index, word in enumerate(words):
        if word.startswith("#"):
            return " ".join(words[:index])
    return rest


_NAME = Argument("NAME", optional=True)
#: Every `%qwq` command, in the order `%qwq` and `%%qwq?` list them.
COMMANDS = {
    command.name: command
    for command in (
        Command("panel"),
        Command("history", (_NAME,)),
        Command("chats"),
        Command("reset", (_NAME,)),
        Command("undo", (_NAME,)),
        Command("keep", (_NAME,)),
        Command("retry", takes="[FLAGS]"),
        Command("save", (Argument("PATH"),)),
        Command("load", (Argument("PATH"),)),
        Command("restore", (Argument("NOTEBOOK", optional=True),)),
        Command("settings"),
        Command("usage"),
        Command("stats", (_NAME,)),
        Command("anatomy", takes="[N | rN] [--chat NAME]"),
        Command("diff", takes="A B [--chat NAME]"),
        Command("explain", takes="[FLAGS]"),
        Command("request", takes="[FLAGS] TEXT"),
        Command("pick", (Argument("N", int, optional=True),)),
        Command("record", (Argument("PATH"),)),
        Command("replay", (Argument("PATH"), Argument("SPEED", float, optional=True))),
        Command("login"),
        Command("demo"),
        Command("answer"),
        Command("policy", (Argument("load", optional=True), Argument("NOTEBOOK", optional=True))),
        Command("reveal"),
        Command("budget", (Argument("DOLLARS|off", optional=True),)),
        Command("stop"),
    )
}


def command_list() -> str:
    """`panel | history [NAME] | …`: the commands as `%qwq` and `%%qwq?` show them."""
    return " | ".join(command.usage for command in COMMANDS.values())
