"""Asking before a tool runs, in JupyterLab: Run and Skip clicked in Chromium while the cell
waits, and a hostile name and arguments shown as text.

One JupyterLab server, kernel and page serve the module. Each cell calls
`confirm_in_notebook` and prints what it returned; the test clicks a button and reads the
printout, then checks the buttons became a one-line record. The hostile cell's payloads would
record their numbers in `window.qwqPwned`, and every `alert` would open a dialog; the test asks
the browser for both and for any element or event attribute that could carry script.
Screenshots of the question in the light and dark themes go to tests/artifacts/ and, when
missing or with QWQ_UPDATE_SCREENSHOTS=1, to docs/screenshots/confirm-tool-*.png.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hostile_corpus import mark
from jupyterlab_page import JupyterLabServer, NotebookPage, chromium_page, kernel_environment
from playwright.sync_api import Locator, Page

from qwq_jupyter.testing import QwQTestServer, Reply

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
NOTEBOOK = "confirm.ipynb"

ARGUMENTS = '{"column": "<img src=x onerror=alert(1)>", "where": "age > 30"}'
HOSTILE_NAME = f"count_rows<img src=x onerror={mark(1)}>\x1b[31m\u202eexe.txt"
HOSTILE_ARGUMENTS = (
    f'{{"q": "</pre></div><script>{mark(2)}</script><img src=x onerror={mark(3)}>",'
    f' "a": "[x](javascript:{mark(4)}) <svg onload={mark(5)}>\\u001b]52;c;aGk=\\u0007",'
    f' "b": "\u2066\u202e$\\\\alert(6)$"}}'
)
CELLS = {
    "import": "from qwq_jupyter.notebook.confirm import confirm_in_notebook",
    "run": f"print('run ->', confirm_in_notebook('count_rows', {ARGUMENTS!r}))",
    "skip": f"print('skip ->', confirm_in_notebook('count_rows', {ARGUMENTS!r}))",
    "hostile": f"print('hostile ->', confirm_in_notebook({HOSTILE_NAME!r}, {HOSTILE_ARGUMENTS!r}))",
    "tools": (
        "%load_ext qwq_jupyter\n"
        "def count_rows(column: str, value: str) -> int:\n"
        "    'Count the orders whose column equals value.'\n"
        "    return 42\n"
        "tools = [count_rows]"
    ),
    "qwq": "%%qwq --tools tools --confirm-tools\n'qwq ->' How many orders from the North?",
}


def _responder(body: dict[str, Any]) -> Reply:
    """The model of the `%%qwq` cell: one call, then an answer from its result."""
    messages = body.get("messages", [])
    if messages and messages[-1]["role"] == "tool":
        return Reply(reasoning="The tool said so.", answer=f"Result: {messages[-1]['content']}")
    call = {"name": "count_rows", "arguments": {"column": "region", "value": "North"}}
    return Reply(reasoning="I will count them with the tool.", answer="", tool_calls=[call])


# Over one cell's outputs: elements and attributes that could run script or load something.
# The question's own <button>s are ipywidgets' (inside .jupyter-button), so they are allowed.
_INSPECT_JS = """(cell) => {
  const forbidden = new Set(['script', 'iframe', 'frame', 'object', 'embed', 'applet', 'style',
    'meta', 'base', 'form', 'input', 'textarea', 'img', 'svg', 'math', 'link', 'video', 'audio',
    'source', 'template', 'noscript', 'marquee', 'portal', 'button']);
  const problems = [];
  for (const el of cell.querySelectorAll('.jp-OutputArea-output *')) {
    const tag = el.tagName.toLowerCase();
    if (forbidden.has(tag) && !(tag === 'button' && el.classList.contains('jupyter-button'))) {
      problems.push('<' + tag + '>');
    }
    for (const attr of el.attributes) {
      if (attr.name.toLowerCase().startsWith('on')) problems.push(attr.name + ' on <' + tag + '>');
      if (/javascript:/i.test(attr.value)) problems.push(attr.name + '=' + attr.value);
    }
  }
  return {problems, pwned: self.qwqPwned || [],
          text: cell.querySelector('.jp-OutputArea').innerText};
}"""


@dataclass
class Lab:
    page: Page
    notebook: NotebookPage
    jupyter: JupyterLabServer
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def screenshot(self, target: Locator | Page, name: str, *, docs: str | None = None) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        target.screenshot(path=path)
        if docs:
            published = SCREENSHOTS / docs
            if os.environ.get("QWQ_UPDATE_SCREENSHOTS") == "1" or not published.exists():
                published.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, published)
        return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("confirm-root")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS.values()]
    nbformat.write(notebook, root / NOTEBOOK)
    server = QwQTestServer(responder=_responder).start()
    jupyter = JupyterLabServer(
        root,
        tmp_path_factory.mktemp("confirm-home"),
        kernel_environment(server),
        ARTIFACTS / "jupyterlab-confirm.log",
    )
    try:
        jupyter.start()
        with chromium_page(1000, scale=2) as page:
            lab = Lab(page, NotebookPage(page), jupyter)
            page.on("dialog", lambda dialog: (lab.dialogs.append(dialog.message), dialog.dismiss()))
            page.on("pageerror", lambda error: lab.page_errors.append(str(error)))
            try:
                lab.notebook.open(jupyter.url, NOTEBOOK)
                lab.notebook.run(lab.notebook.code_cell(CELLS["import"]), timeout=60)
                lab.notebook.run(lab.notebook.code_cell("tools = [count_rows]"), timeout=60)
                yield lab
            except BaseException:
                lab.screenshot(page, "failure-confirm")
                print(jupyter.log_tail())
                raise
    finally:
        jupyter.stop()
        server.stop()


@dataclass
class Asked:
    waiting: dict[str, Any]  # what the cell showed while it waited
    final: dict[str, Any]  # and once answered
    printed: str


def _ask_and_click(lab: Lab, cell_name: str, label: str, *, shots: bool = False) -> Asked:
    try:
        return _asked(lab, cell_name, label, shots)
    except BaseException:
        lab.screenshot(lab.page, f"failure-confirm-{cell_name}")
        print(lab.jupyter.log_tail())
        raise


def _asked(lab: Lab, cell_name: str, label: str, shots: bool) -> Asked:
    notebook = lab.notebook
    cell = notebook.code_cell(f"'{cell_name} ->'")
    before = notebook.start(cell)
    # By its text: the accessible name would include the icon's glyph.
    button = cell.locator("button.jupyter-button", has_text=re.compile(rf"^\s*{label}\s*$"))
    button.wait_for(timeout=30_000)
    lab.page.wait_for_timeout(300)  # let a payload that could fire, fire
    waiting = cell.evaluate(_INSPECT_JS)
    outputs = cell.locator(".jp-OutputArea")
    lab.screenshot(outputs, f"confirm-{cell_name}-waiting")
    if shots:
        lab.screenshot(outputs, "confirm-tool-light", docs="confirm-tool-light.png")
        notebook.set_theme("JupyterLab Dark")
        lab.screenshot(outputs, "confirm-tool-dark", docs="confirm-tool-dark.png")
        notebook.set_theme("JupyterLab Light")
    assert notebook.snapshot(cell).prompt == "[*]:"  # the cell is still running
    button.click()
    snapshot = notebook.wait_finished(cell, before, timeout=15)
    lab.page.wait_for_timeout(300)
    lab.screenshot(outputs, f"confirm-{cell_name}-answered")
    return Asked(waiting, cell.evaluate(_INSPECT_JS), snapshot.stdout or "")


@pytest.fixture(scope="module")
def ran(lab: Lab) -> Asked:
    return _ask_and_click(lab, "run", "Run", shots=True)


@pytest.fixture(scope="module")
def skipped(lab: Lab, ran: Asked) -> Asked:
    return _ask_and_click(lab, "skip", "Skip")


@pytest.fixture(scope="module")
def hostile(lab: Lab, skipped: Asked) -> Asked:
    return _ask_and_click(lab, "hostile", "Skip")


def test_run_runs_and_leaves_a_record(ran: Asked) -> None:
    assert "QwQ wants to run count_rows with" in ran.waiting["text"]
    assert '"column": "<img src=x onerror=alert(1)>"' in ran.waiting["text"]  # shown as text
    assert ran.printed.strip() == "run -> True"
    assert "✔ ran count_rows" in ran.final["text"]
    assert "QwQ wants to run" not in ran.final["text"]  # the buttons and question are gone


def test_skip_skips_and_leaves_a_record(skipped: Asked) -> None:
    assert skipped.printed.strip() == "skip -> False"
    assert "✖ skipped count_rows" in skipped.final["text"]
    assert "QwQ wants to run" not in skipped.final["text"]


def test_hostile_name_and_arguments_run_nothing(lab: Lab, hostile: Asked) -> None:
    assert hostile.printed.strip() == "hostile -> False"
    for seen in (hostile.waiting, hostile.final):
        assert seen["problems"] == [] and seen["pwned"] == []
    text = hostile.waiting["text"]
    assert "count_rows<img src=x onerror=" in text and "<script>" in text  # as text
    assert "␛[31m⟨U+202E⟩exe.txt" in text  # controls and bidi overrides visible, not obeyed
    assert "✖ skipped count_rows<img src=x" in hostile.final["text"]


@pytest.fixture(scope="module")
def from_a_cell(lab: Lab, hostile: Asked) -> Asked:
    """`%%qwq --tools tools --confirm-tools`: the model's call waits for Run, then goes back."""
    asked = _ask_and_click(lab, "qwq", "Run")
    cell = lab.notebook.code_cell("'qwq ->'")
    asked.final["html"] = cell.locator(".jp-OutputArea").last.inner_html()
    return asked


def test_a_qwq_cell_asks_before_its_tool_runs(from_a_cell: Asked) -> None:
    assert "QwQ wants to run count_rows with" in from_a_cell.waiting["text"]
    assert '"value": "North"' in from_a_cell.waiting["text"]
    assert "I will count them" in from_a_cell.waiting["text"]  # the reasoning streamed first
    final = from_a_cell.final["text"]
    assert "Result: 42" in final and "count_rows(" in final and "→ 42" in final
    assert "✔ ran count_rows" not in final or "Result: 42" in final
    assert from_a_cell.final["problems"] == [] and from_a_cell.final["pwned"] == []


def test_no_dialog_or_page_error(
    lab: Lab, ran: Asked, skipped: Asked, hostile: Asked, from_a_cell: Asked
) -> None:
    assert lab.dialogs == []  # no alert(1) ran
    assert lab.page_errors == []
