"""The shipped notebooks run top to bottom with no credentials, against the offline demo."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["quickstart.ipynb", "reasoning.ipynb", "data_analysis.ipynb"]
#: Anything that would point a kernel at a real backend, or at a server started elsewhere.
BACKEND_VARIABLES = (
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    "QWQ_BASE_URL",
    "QWQ_JUPYTER_DEMO",
    "QWQ_API_BASE",
    "QWQ_BACKEND",
)
DEMO_TOKEN = "test-token"  # the offline demo server's token


def run_notebook(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> nbformat.NotebookNode:
    """Execute a copy of the notebook in `tmp_path` (no `.env` there), save it, read it back."""
    for variable in BACKEND_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    shutil.copy(NOTEBOOKS / name, path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    nbformat.write(notebook, path)
    for written in tmp_path.iterdir():  # the notebook and what `%qwq save` wrote
        assert DEMO_TOKEN not in written.read_text(encoding="utf-8"), written.name
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    check_outputs(saved)
    return saved


def check_outputs(notebook: nbformat.NotebookNode) -> None:
    """No errors anywhere; each %%qwq cell is one portable Markdown output, banner to footer."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        if not cell.source.startswith("%%qwq"):
            continue
        assert len(cell.outputs) == 1, (cell.source, cell.outputs)
        output = cell.outputs[0]
        assert output.output_type == "display_data", cell.source
        markdown = output.data["text/markdown"]
        assert markdown.startswith("> offline demo"), markdown
        assert "tok/s" in markdown, markdown
        # every scripted reply reasons first; the reasoning is folded away
        assert "<details><summary>Reasoning" in markdown, markdown
        assert "</pre>\n\n</details>" in markdown, markdown


def cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def stdout(code_cell: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in code_cell.outputs if o.output_type == "stream")


def markdown_of(code_cell: nbformat.NotebookNode) -> str:
    return code_cell.outputs[0].data["text/markdown"]


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for code_cell in notebook.cells:
        if code_cell.cell_type == "code":
            assert code_cell.outputs == [] and code_cell.execution_count is None


def test_quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = run_notebook("quickstart.ipynb", tmp_path, monkeypatch)
    assert "offline demo" in stdout(notebook.cells[1])
    (save_load,) = [c for c in notebook.cells if "%qwq load" in c.source]
    assert "loaded default from quickstart-chat.json" in stdout(save_load)
    assert (tmp_path / "quickstart-chat.json").exists()
    (response_cell,) = [c for c in notebook.cells if c.source.startswith("print(repr(reply))")]
    assert "finish reason: stop" in stdout(response_cell)


def test_reasoning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = run_notebook("reasoning.ipynb", tmp_path, monkeypatch)
    assert "offline demo" in stdout(cell(notebook, "setup"))

    stats = stdout(cell(notebook, "first-stats"))
    reasoning = int(re.search(r"reasoning tokens: (\d+)", stats)[1])
    answer = int(re.search(r"answer tokens: +(\d+)", stats)[1])
    assert reasoning > answer > 0
    assert "split estimated:  True" in stats
    assert re.search(r"thinking time: +\d+\.\d\d s", stats)

    assert "Stopped at max_tokens while still reasoning" in markdown_of(cell(notebook, "cut-ask"))
    cut = stdout(cell(notebook, "cut-stats"))
    assert "finish reason: length" in cut and "answer: ''" in cut
    assert "reasoning tokens: 40" in cut

    compare = stdout(cell(notebook, "sampling-compare"))
    assert "temperature sent: 0.2 and 1.0" in compare and "seed sent: 7 and 7" in compare
    assert "same answer at temperature 0.2 and 1.0: True" in compare  # scripted replies
    assert "same answer with seed 7 twice: True" in compare

    history = cell(notebook, "history").outputs[0].data["text/markdown"]
    assert "2 turns" in history and "hamster" not in history  # --no-history stays out
    assert "Let me split" not in history  # the reasoning is not part of the history

    usage = stdout(cell(notebook, "usage"))
    assert usage.startswith("7 calls")
    cost = stdout(cell(notebook, "cost"))
    by_hand = re.search(r"= (\$[\d.]+)", cost)[1]
    assert f"its response object says:   {by_hand}" in cost
    total = re.search(r"(\$[\d.]+)$", usage.strip())[1]
    assert f"all 7 calls: {total} " in cost


def test_data_analysis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = run_notebook("data_analysis.ipynb", tmp_path, monkeypatch)
    assert "missing values:" in stdout(cell(notebook, "summary"))
    assert "```python" in markdown_of(cell(notebook, "ask-advice"))

    run = cell(notebook, "run-code")
    text = stdout(run)
    assert "QwQ's code:\n" in text and "df.groupby(" in text
    assert "ran QwQ's code: no errors" in text and "failed" not in text
    (table,) = [o for o in run.outputs if o.output_type == "display_data"]
    assert "text/html" in table.data
    assert "North" in table.data["text/plain"] and "1230.0" in table.data["text/plain"]
    assert stdout(cell(notebook, "usage")).startswith("2 calls")
