"""A cell parsed once into one value, and the `%qwq` commands from one explicit table."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from shells import ask, command, session

from qwq_jupyter.notebook.commands import COMMANDS, Commands
from qwq_jupyter.notebook.magics import QwQMagics


def magic(shell) -> QwQMagics:
    return shell.magics_manager.registry["QwQMagics"]


@pytest.mark.parametrize(
    ("flags", "mode"),
    [
        ("", "answer"),
        ("--compare temperature=0.2,0.8", "compare"),
        ("--dry-run", "dry_run"),
        ("--background", "background"),
        ("--temperature 0.3 --chat side --out reply", "answer"),
    ],
)
def test_one_mode_per_cell(shell, qwq_env, flags: str, mode: str) -> None:
    request = magic(shell).parse_cell(flags, "q")
    assert request.mode == mode
    assert request.settings is not session(shell).settings  # the cell's own copy
    assert qwq_env.requests == []  # parsing sends nothing


def test_the_cells_settings_carry_its_flags_validated(shell, qwq_env) -> None:
    request = magic(shell).parse_cell("--temperature 0.3 --no-stream --system 'Be brief.'", "q")
    assert request.settings.temperature == 0.3 and request.settings.stream is False
    assert request.settings.system_prompt == "Be brief."
    assert session(shell).settings.temperature == 0.6  # the session's own are untouched
    with pytest.raises(UsageError, match="temperature must be from 0 to 5"):
        magic(shell).parse_cell("--temperature 9", "q")


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        ("--compare temperature=0.2,0.8 --background", "--compare and --background cannot be"),
        ("--dry-run --background", "--dry-run and --background cannot be combined"),
        ("--compare seed=1,2 --dry-run", "--dry-run and --compare cannot be combined"),
        ("--code --compare seed=1,2", "--code and --compare cannot be combined"),
        ("--code --background", "--code and --background cannot be combined"),
    ],
)
def test_conflicting_flags_are_refused_before_anything_runs(shell, qwq_env, flags, says) -> None:
    with pytest.raises(UsageError, match=says) as refused:
        ask(shell, "q", flags)
    assert "\n" not in str(refused.value)
    assert qwq_env.requests == []
    assert session(shell).store.conversations == {}


def test_commands_come_from_one_table_and_the_help_lists_them_all(shell) -> None:
    help_text = QwQMagics.qwq.__doc__ or ""
    for name, entry in COMMANDS.items():
        assert callable(getattr(Commands, name)), name
        assert entry.usage in " ".join(help_text.split()), entry.usage
    with pytest.raises(UsageError) as listed:
        command(shell, "")
    assert "login" in str(listed.value) and "TAKES_FLAGS" not in str(listed.value)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("pick 1 2", "usage: %qwq pick [N]"),
        ("pick", "nothing to pick from: run %%qwq --compare or --vote first"),
        ("pick two", "%qwq pick: N must be a whole number, not 'two'"),
        ("replay a.json fast", "%qwq replay: SPEED must be a number, not 'fast'"),
        ("replay a.json 1 2", "usage: %qwq replay PATH [SPEED]"),
        ("save", "usage: %qwq save PATH"),
        ("chats now", "usage: %qwq chats"),
        ("nothing", "unknown command 'nothing'"),
        ("_private", "unknown command '_private'"),
    ],
)
def test_wrong_words_get_the_usage_line(shell, line: str, says: str) -> None:
    with pytest.raises(UsageError) as refused:
        command(shell, line)
    assert str(refused.value) == says or str(refused.value).startswith(says)
    assert "positional argument" not in str(refused.value)  # no Python internals


def test_a_comment_may_follow_a_command(shell, qwq_env) -> None:
    _, out = command(shell, "chats   # which conversations are there?")
    assert "default: 0 turns" in out
    ask(shell, "first")
    _, out = command(shell, "usage # so far")
    assert out.startswith("1 call ·")
    command(shell, "retry --temperature 0.9  # once more, warmer")
    assert qwq_env.last_body["temperature"] == 0.9


def test_a_bug_inside_a_command_is_not_turned_into_a_usage_line(shell, monkeypatch) -> None:
    def broken(self) -> None:
        raise TypeError("a bug, not a usage error")

    monkeypatch.setattr(Commands, "usage", broken)
    with pytest.raises(TypeError, match="a bug"):
        command(shell, "usage")


def test_the_server_kind_is_a_flag_too(shell, qwq_env) -> None:
    request = magic(shell).parse_cell("--server ollama --backend openai", "q")
    assert request.settings.server == "ollama" and request.settings.backend == "openai"
    with pytest.raises(UsageError, match="invalid choice"):
        magic(shell).parse_cell("--server nginx", "q")
