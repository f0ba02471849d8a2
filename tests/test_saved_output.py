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


def test_verbose_tracebacks_in_a_saved_notebook_hold_no_secret(tmp_path) -> None:
    """%xmode Verbose prints every frame's locals; the .ipynb keeps what it printed."""
    from qwq_jupyter.testing import Fault, QwQTestServer

    token, account = "tok-NOTEBOOK-SENTINEL-5e1f", "acct-NOTEBOOK-SENTINEL-77"
    with QwQTestServer(token=token, account_id=account) as server:
        server.push(Reply(fault=Fault(status=500, code=3043, message="internal")))
        setup = (
            "import os\n"
            f"os.environ['CLOUDFLARE_ACCOUNT_ID'] = {account!r}\n"
            f"os.environ['CLOUDFLARE_API_TOKEN'] = {token!r}\n"
            "%load_ext qwq_jupyter\n"
            f"%config QwQSettings.api_base = {server.api_base!r}\n"
            "%config QwQSettings.max_retries = 0\n"
            "%xmode Verbose"
        )
        client = (
            "import datetime\n"
            "from qwq_jupyter import QwQClient, QwQSettings\n"
            "def ask(**settings):\n"
            f"    options = dict(api_base={server.api_base!r}, max_retries=0)\n"
            "    options.update(settings)\n"
            "    question = [{'role': 'user', 'content': 'q'}]\n"
            "    return QwQClient(QwQSettings(**options)).complete(question)"
        )
        sources = [
            setup,
            "%%qwq\nthe server fails with HTTP 500",
            "tools = [int]",  # a class: no tool
            "%%qwq --tools tools\nq",
            "schema = {'type': 'object', 'properties': {'x': {'enum': {1, 2}}}}",
            "%%qwq --json schema\nq",
            client,
            "ask(extra_body={'when': datetime.datetime.now()})",
            "ask(api_base='http://127.0.0.1:9/client/v4')",  # connection refused
            "ask(guided_json={'x': {1, 2}})",
        ]
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
        NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    path = tmp_path / "verbose.ipynb"
    nbformat.write(notebook, path)
    saved = path.read_text()
    outputs = json.dumps([cell.outputs for cell in notebook.cells[1:]])
    assert token not in outputs and account not in outputs
    assert saved.count(token) == 1 and saved.count(account) == 1  # only the setup cell's source
    errors = [o for cell in notebook.cells for o in cell.outputs if o.output_type == "error"]
    assert [e.evalue.split(":")[0] for e in errors] == [
        "extra_body['when']",
        "connection to 127.0.0.1",
        "guided_json",
    ]  # the Python API raises the package's errors, one line each
    usage = [o.text for o in notebook.cells[3].outputs + notebook.cells[5].outputs]
    assert [line.count("\n") for line in usage] == [1, 1]  # the magic: one line each
    assert usage[0].startswith("UsageError: tools[0]") and "guided_json" in usage[1]
    assert "HTTP 500" in outputs
