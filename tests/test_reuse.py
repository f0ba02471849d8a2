"""Reuse on re-run: a notebook executed twice by nbclient sends nothing the second time.

The first run asks the local server and saves its outputs; the second run of the saved file
finds every cell's request in its saved turn and shows that again, at $0. A changed prompt
changes the request: that cell and the ones after it (whose history changed) ask again.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from qwq_jupyter.session.saved import TURN_MIME
from qwq_jupyter.testing import QwQTestServer, Reply

QUESTIONS = ["What is 17 × 23?", "And twice that?", "And three times?"]


def answer(body: dict) -> Reply:
    """Each question's own answer, whatever order or history it comes with."""
    question = body["messages"][-1]["content"]
    return Reply(reasoning=f"Thinking about: {question}", answer=f"Answer to: {question}")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    with QwQTestServer(responder=answer) as server:
        monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", server.account_id)
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", server.token)
        yield server


def lesson(server: QwQTestServer, path: Path) -> None:
    setup = (
        "%load_ext qwq_jupyter\n"
        f"%config QwQSettings.api_base = {server.api_base!r}\n"
        "%config QwQSettings.reuse = 'saved'\n"
        f"%config QwQSettings.notebook = {path.name!r}"
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(setup)]
    notebook.cells += [nbformat.v4.new_code_cell(f"%%qwq\n{q}") for q in QUESTIONS]
    nbformat.write(notebook, path)


def execute(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(notebook, path)
    return notebook


def answers(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        output["data"][TURN_MIME]["response"]["answer"]
        for cell in notebook.cells[1:]
        for output in cell.outputs
        if TURN_MIME in output.get("data", {})
    ]


def test_a_second_run_sends_nothing_and_shows_the_same(server, tmp_path) -> None:
    path = tmp_path / "lesson.ipynb"
    lesson(server, path)
    first = execute(path)
    assert len(server.requests) == 3
    second = execute(path)
    assert len(server.requests) == 3  # nothing was sent
    assert answers(second) == answers(first) == [f"Answer to: {q}" for q in QUESTIONS]
    html = second.cells[1].outputs[0]["data"]["text/html"]
    assert "reused from the notebook · $0" in html and "$0.00000" in html
    records = [json.dumps(o["data"][TURN_MIME]) for c in second.cells[1:] for o in c.outputs]
    assert all('"reused": true' in record for record in records)


def test_an_edited_cell_asks_again_and_so_do_the_cells_after_it(server, tmp_path) -> None:
    path = tmp_path / "lesson.ipynb"
    lesson(server, path)
    execute(path)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[2].source = "%%qwq\nAnd four times that?"
    nbformat.write(notebook, path)
    third = execute(path)
    sent = [request.body["messages"][-1]["content"] for request in server.requests[3:]]
    assert sent == ["And four times that?", "And three times?"]  # cell 1 was reused
    assert answers(third)[1] == "Answer to: And four times that?"
    history = server.requests[-1].body["messages"]
    assert {"role": "user", "content": "And four times that?"} in history


def test_reuse_without_a_known_notebook_is_one_line(shell, qwq_env, monkeypatch) -> None:
    from IPython.core.error import UsageError
    from shells import ask

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    before = len(qwq_env.requests)
    with pytest.raises(UsageError, match="does not know its notebook's path"):
        ask(shell, "What is 17 × 23?", "--reuse")
    assert len(qwq_env.requests) == before
