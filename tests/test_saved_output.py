"""What a saved notebook keeps: one portable HTML output per %%qwq cell, never the token."""

from __future__ import annotations

import json

import nbformat
from nbclient import NotebookClient

from qwq_jupyter.testing import Reply


def test_saved_notebook_holds_the_final_output_only(qwq_env, tmp_path) -> None:
    qwq_env.push(
        Reply(
            reasoning="Six sevens are 42.", answer="The answer is **42**.", tokens_per_second=400
        ),
        Reply(reasoning="Eight sevens.", answer="It is **56**."),
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"%load_ext qwq_jupyter\n%config QwQSettings.api_base = {qwq_env.api_base!r}"
        ),
        nbformat.v4.new_code_cell("%%qwq\nWhat is 6 × 7?"),
        nbformat.v4.new_code_cell("%%qwq\nAnd 7 × 8?"),
        nbformat.v4.new_code_cell("_.answer"),
    ]
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)

    for cell, answer in ((notebook.cells[1], "42"), (notebook.cells[2], "56")):
        assert len(cell.outputs) == 1, cell.outputs  # the live stream was replaced
        output = cell.outputs[0]
        assert output.output_type == "display_data"
        html = output.data["text/html"]
        assert html.startswith('<div class="qwq-output tex2jax_ignore mathjax_ignore">')
        assert '<details class="qwq-reasoning"><summary>Reasoning' in html
        assert f"<strong>{answer}</strong>" in html and "tok/s" in html
        assert answer in output.data["text/plain"]
    # history went back without the reasoning
    assert "Six sevens" not in json.dumps(qwq_env.last_body)
    assert notebook.cells[3].outputs[0].data["text/plain"] == "'It is **56**.'"
    saved = path.read_text()
    assert qwq_env.token not in saved and qwq_env.account_id not in saved
    nbformat.validate(nbformat.read(path, as_version=4))
