"""Turns kept in a notebook's outputs, and conversations restored from them in a fresh kernel.

A notebook is executed by nbclient against the local server and saved; a fresh shell restores
its conversations with `%qwq restore` and goes on where the notebook left off.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from shells import ask, command, session

from qwq_jupyter.session.saved import TURN_MIME
from qwq_jupyter.testing import QwQTestServer, Reply

CELLS = [
    "%%qwq\nWhat is 17 × 23?",
    "%%qwq\nAnd twice that?",
    "%%qwq --chat other\nSay hello.",
    "%%qwq --no-history\nA one-off question.",
]


@pytest.fixture
def lesson(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The four cells run by nbclient against a server with distinctive keys, and saved."""
    token, account = "sentinel-token-5e1f", "sentinel-account-9c2d"
    with QwQTestServer(token=token, account_id=account) as server:
        server.push(
            Reply(reasoning="17 × 23: 340 + 51.", answer="**391**"),
            Reply(reasoning="Double 391.", answer="**782**"),
            Reply(reasoning="A greeting.", answer="Hello!"),
            Reply(reasoning="Once.", answer="Once only."),
        )
        monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", account)
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", token)
        setup = f"%load_ext qwq_jupyter\n%config QwQSettings.api_base = {server.api_base!r}"
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(setup)]
        notebook.cells += [nbformat.v4.new_code_cell(source) for source in CELLS]
        NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
        path = tmp_path / "lesson.ipynb"
        nbformat.write(notebook, path)
        yield path, server, token, account


def records(path: Path) -> list[dict]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [
        output["data"][TURN_MIME]
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if TURN_MIME in output.get("data", {})
    ]


def test_every_output_keeps_its_turn_and_never_a_key(lesson) -> None:
    path, _, token, account = lesson
    text = path.read_text(encoding="utf-8")
    assert token not in text and account not in text
    saved = records(path)
    assert [r["prompt"] for r in saved] == [c.split("\n", 1)[1] for c in CELLS]
    first = saved[0]
    assert first["version"] == 1 and first["conversation"] == "default"
    assert first["response"]["answer"] == "**391**" and first["kept"] is True
    assert len(first["request_hash"]) == 32 and first["source_hash"]
    assert saved[3]["kept"] is False  # the one-off question belongs to no conversation


def test_a_fresh_kernel_restores_the_conversations_and_goes_on(lesson, shell, qwq_env) -> None:
    path, *_ = lesson
    _, out = command(shell, f"restore {path}")
    assert out.startswith(f"restored 3 turn(s) from {path} (default: 2, other: 1)")
    qwq_env.push(Reply(answer="**1173**"))
    ask(shell, "And three times?")
    assert qwq_env.last_body["messages"] == [
        {"role": "user", "content": "What is 17 × 23?"},
        {"role": "assistant", "content": "**391**"},
        {"role": "user", "content": "And twice that?"},
        {"role": "assistant", "content": "**782**"},
        {"role": "user", "content": "And three times?"},
    ]
    other = session(shell).conversation("other").turns
    assert [t.response.answer for t in other] == ["Hello!"]


def test_an_edited_cell_and_a_bad_record_are_skipped_and_said(lesson, shell) -> None:
    path, *_ = lesson
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook["cells"][2]["source"] = "%%qwq\nAnd three times that?"  # edited since it ran
    notebook["cells"][3]["outputs"][0]["data"][TURN_MIME]["response"] = {"answer": 5}
    path.write_text(json.dumps(notebook), encoding="utf-8")
    _, out = command(shell, f"restore {path}")
    assert "restored 1 turn(s)" in out
    assert "skipped cell 3: edited since it ran" in out
    assert "skipped cell 4: the turn.response.answer must be text, not int" in out


def test_a_conversation_already_in_the_kernel_is_left_alone(lesson, shell, qwq_env) -> None:
    path, *_ = lesson
    ask(shell, "Something else first.")
    _, out = command(shell, f"restore {path}")
    assert "'default' already has turns in this kernel" in out
    assert "(other: 1)" in out


def test_without_a_path_outside_jupyter_server_one_line_says_to_give_it(shell, monkeypatch):
    from IPython.core.error import UsageError

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(UsageError, match=r"give it, e\.g\. %qwq restore lesson\.ipynb"):
        command(shell, "restore")
