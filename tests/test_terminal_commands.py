"""Every `%qwq` command has a terminal form: text, never an object's repr."""

from __future__ import annotations

import re

import pytest
from shells import ask, command

from qwq_jupyter.notebook.command_table import COMMANDS

OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>|IPython\.core\.display|Figure\(")
LINES = {
    "panel": "panel",
    "history": "history",
    "chats": "chats",
    "reset": "reset side",
    "undo": "undo side",
    "keep": "keep",
    "retry": "retry --no-history",
    "save": "save {tmp}/chat.json",
    "load": "load {tmp}/chat.json",
    "settings": "settings",
    "usage": "usage",
    "stats": "stats",
    "explain": "explain",
    "request": "request What is 2 + 2?",
    "pick": "pick 1",
    "record": "record {tmp}/lesson.json",
    "replay": "replay {tmp}/lesson.json 0",
    "demo": "demo",
    "answer": "answer",
    "policy": "policy",
    "reveal": "reveal",
    "restore": "restore {tmp}/lesson.ipynb",
    "anatomy": "anatomy",
    "diff": "diff r1 r2",
    "budget": "budget 5",
    "stop": "stop",
}


def test_every_command_is_covered_here() -> None:
    assert set(LINES) == set(COMMANDS) - {"login"}  # login reads a hidden token: tested apart


@pytest.fixture
def ready(shell, qwq_env, tmp_path):
    """A conversation, a comparison and an error, so every command has something to show."""
    ask(shell, "What is 6 x 7?")
    ask(shell, "q", "--compare seed=1,2")
    return shell, tmp_path


@pytest.mark.parametrize("name", list(LINES))
def test_the_command_prints_text(ready, name: str) -> None:
    shell, tmp = ready
    if name == "replay":
        command(shell, f"record {tmp}/lesson.json")
        ask(shell, "recorded", "--no-history")
        command(shell, "record off")
    if name == "load":
        command(shell, f"save {tmp}/chat.json")
    if name == "explain":
        shell.run_cell("1 / 0")
    if name == "restore":
        (tmp / "lesson.ipynb").write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5}')
    value, out = command(shell, LINES[name].format(tmp=tmp))
    shown = out
    if value is not None:
        shown += shell.display_formatter.format(value)[0].get("text/plain", "")
    assert shown.strip(), f"%qwq {name} showed nothing"
    assert not OBJECT_REPR.search(shown), shown
    assert "\x1b]" not in shown  # no terminal control sequence of anyone's
