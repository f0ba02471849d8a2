"""The README's Quick tour, pasted verbatim into a real kernel, runs as it says it does."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

README = Path(__file__).resolve().parent.parent / "README.md"


def quick_tour() -> list[str]:
    """The ```python blocks of the Quick tour section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_quick_tour_pastes_and_runs(tmp_path: Path, monkeypatch) -> None:
    cells = quick_tour()
    assert len(cells) >= 4 and cells[0].startswith("%load_ext qwq_jupyter")
    for name in list(os.environ):  # a newcomer's machine: no keys, no server configured
        if name.startswith(("CLOUDFLARE_", "QWQ_")) or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell(source.strip()) for source in cells]
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={
        "metadata": {"path": str(tmp_path)}
    }).execute()  # fmt: skip  # raises on any error output
    for cell in notebook.cells:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
    first, answer, follow_up, values = notebook.cells[:4]
    assert "offline demo" in "".join(o.get("text", "") for o in first.outputs)
    assert "391" in answer.outputs[-1].data["text/html"]
    follow_up_html = follow_up.outputs[-1].data["text/html"]
    assert 'class="qwq-answer"' in follow_up_html and "· stop</sub>" in follow_up_html
    (result,) = [o for o in values.outputs if o.output_type == "execute_result"]
    assert "'stop'" in result.data["text/plain"]
