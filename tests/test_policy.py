"""An instructor's policy: written into a notebook, applied by %load_ext in one line, and held
against %config, the flags and the panel; answers folded until %qwq reveal; a class budget;
replay only. A classroom aid, not a security boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from shells import ask, command, session

from qwq_jupyter.cli import main
from qwq_jupyter.testing import Reply

POLICY = {
    "lock": {"temperature": 0.6, "max_tokens": [1000, 8000]},
    "system_prompt": "Give hints, never the whole solution.",
    "code": False,
    "fold_answers": True,
    "budget": 0.5,
}


@pytest.fixture
def lesson(tmp_path: Path) -> Path:
    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_the_command_writes_a_policy_into_the_notebook(lesson, capsys) -> None:
    fields = ["lock.temperature=0.6", "lock.max_tokens=[1000,8000]", "code=false",
              "fold_answers=true", "budget=0.5",
              'system_prompt="Give hints, never the whole solution."']  # fmt: skip
    assert main(["policy", "set", str(lesson), *fields]) == 0
    assert "wrote the class policy from" in capsys.readouterr().out
    saved = json.loads(lesson.read_text())["metadata"]["qwq-jupyter"]["policy"]
    assert saved == POLICY
    assert main(["policy", "set", str(lesson), "lock.api_base=x"]) == 2
    assert "cannot lock 'api_base'" in capsys.readouterr().err


@pytest.fixture
def governed(lesson, shell, monkeypatch):
    """The shell of a notebook whose metadata carries POLICY, applied as %load_ext does."""
    data = json.loads(lesson.read_text())
    data["metadata"]["qwq-jupyter"] = {"policy": POLICY}
    lesson.write_text(json.dumps(data))
    _, out = command(shell, f"policy load {lesson}")
    return shell, out


def test_applied_in_one_line_and_shown(governed) -> None:
    shell, out = governed
    assert out.count("\n") == 1 and out.startswith("class policy from ")
    assert "temperature fixed at 0.6" in out and "--code is off" in out
    _, shown = command(shell, "policy")
    assert "max_tokens from 1,000 to 8,000" in shown or "max_tokens from 1000 to 8000" in shown
    assert "not a security boundary" in shown


def test_locked_values_hold_against_config_flags_and_the_panel(governed, qwq_env, caplog) -> None:
    shell, _ = governed
    settings = session(shell).settings
    shell.run_line_magic("config", "QwQSettings.temperature = 1.2")
    assert settings.temperature == 0.6
    assert "temperature is fixed at 0.6 by the class's policy" in caplog.text
    with pytest.raises(UsageError, match=r"temperature is fixed at 0\.6"):
        ask(shell, "q", "--temperature 1.0")
    with pytest.raises(UsageError, match="max_tokens must stay from 1000 to 8000"):
        ask(shell, "q", "--max-tokens 16000")
    with pytest.raises(UsageError, match=r"--code is off under the class's policy"):
        ask(shell, "q", "--code")
    from qwq_jupyter.notebook.panel import ParameterPanel

    panel = ParameterPanel(session(shell))
    assert panel.controls["temperature"].disabled
    assert panel.controls["max_tokens"].max == 8000
    assert settings.system_prompt == "Give hints, never the whole solution."


def test_answers_fold_until_reveal_and_the_budget_is_the_policys(governed, qwq_env) -> None:
    shell, _ = governed
    assert session(shell).budget.cap == 0.5
    qwq_env.push(Reply(reasoning="Think.", answer="The SECRET solution."))
    _, out = ask(shell, "Solve it.")
    assert "SECRET" not in out and "Answer folded by the class's policy" in out
    assert qwq_env.last_body["messages"][0] == {
        "role": "system",
        "content": "Give hints, never the whole solution.",
    }
    _, out = command(shell, "reveal")
    assert "answers are shown from now on" in out
    qwq_env.push(Reply(reasoning="Think.", answer="Now shown."))
    _, out = ask(shell, "Again.")
    assert "Now shown." in out


def test_replay_only_refuses_a_live_call_in_one_line(lesson, shell, qwq_env) -> None:
    data = json.loads(lesson.read_text())
    data["metadata"]["qwq-jupyter"] = {"policy": {"replay_only": True}}
    lesson.write_text(json.dumps(data))
    command(shell, f"policy load {lesson}")
    before = len(qwq_env.requests)
    with pytest.raises(UsageError, match="this class replays recorded answers only"):
        ask(shell, "q")
    assert len(qwq_env.requests) == before


def test_a_policy_file_beside_the_notebook_wins(lesson, shell) -> None:
    lesson.with_name("lesson.qwq-policy.json").write_text(json.dumps({"code": False}))
    _, out = command(shell, f"policy load {lesson}")
    assert "lesson.qwq-policy.json" in out and "--code is off" in out


def test_a_bad_policy_is_refused_in_one_line(lesson, shell) -> None:
    data = json.loads(lesson.read_text())
    data["metadata"]["qwq-jupyter"] = {"policy": {"lock": {"temperature": 9}}}
    lesson.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="temperature must be from 0 to 5") as refused:
        command(shell, f"policy load {lesson}")
    assert "\n" not in str(refused.value)


def test_a_policy_cannot_put_escape_codes_on_the_screen(tmp_path, shell) -> None:
    # The path is shown in the line %load_ext prints; a file name may hold any character.
    path = tmp_path / "lesson\x1b]0;owned\x07.ipynb"
    notebook = {"cells": [], "metadata": {"qwq-jupyter": {"policy": {"code": False}}}}
    path.write_text(json.dumps(notebook))
    _, out = command(shell, f"policy load '{path}'")
    assert "\x1b" not in out and "\x07" not in out and "--code is off" in out
