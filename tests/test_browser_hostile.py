"""The hostile corpus in a real browser: JupyterLab runs cells whose replies try to run script.

A local `QwQTestServer` answers each cell with one entry of tests/hostile_corpus.py (as the
answer, the reasoning, a tool call's name, an error body, a retry note), plus a history that
mixes turns, a comparison and a dry run. Every payload, if it ran, would record its number in
`window.qwqPwned`. The module checks three places the output is rendered: live in JupyterLab,
after the saved notebook is reloaded, and in its nbconvert HTML opened in the same browser. In
each it also asks the browser itself, not a regex, for every link's protocol and for any
element or event attribute that could carry script. Math must still typeset, and the
extension's own dollar amounts must not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hostile_corpus import CORPUS, TOOL_NAMES, mark
from jupyterlab_page import JupyterLabServer, NotebookPage, chromium_page, kernel_environment
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from qwq_jupyter.testing import Fault, QwQTestServer, Reply

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NOTEBOOK = "hostile.ipynb"
MATH_ANSWER = "So $17 \\times 23 = \\boxed{391}$, and \\(a < b\\)."
# Markup of turns that is safe alone but not when joined: the first leaves a fence open.
OPEN_FENCE = "Here is the start:\n\n```\nunclosed"
CLOSES_IT = f"```\n<img src=x onerror={mark(950)}>\n```\nand [a](javascript:{mark(951)})"
ERROR_BODY = f"```\n<img src=x onerror={mark(960)}>\n[x](javascript:{mark(961)})"
RETRY_BODY = f"```js\n</div><img src=x onerror={mark(962)}>"
#: Tools that run: their arguments and results echo hostile text back into the cell.
TOOL_SETUP = (
    'def echo(text: str) -> str:\n    """Say it back."""\n    return text\n\nhostile_tools = [echo]'
)
TOOL_RUNS = [entry for entry in CORPUS if entry.kind == "answer"][:16]
DRY_RUN_PROMPT = f"<img src=x onerror={mark(970)}> [x](javascript:{mark(971)})"

# What the browser is asked, over every output that is HTML or text (images are skipped:
# `%qwq stats` draws a PNG plot, an <img> the extension made from matplotlib's bytes).
_INSPECT_JS = """() => {
  const forbidden = new Set(['script', 'iframe', 'frame', 'object', 'embed', 'applet', 'style',
    'meta', 'base', 'form', 'input', 'button', 'textarea', 'img', 'svg', 'math', 'link', 'video',
    'audio', 'source', 'template', 'noscript', 'xmp', 'marquee', 'portal']);
  const problems = [];
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output')].filter(
    (o) => !(o.getAttribute('data-mime-type') || '').startsWith('image/') &&
           !o.classList.contains('jp-RenderedImage'));
  for (const output of outputs) {
    for (const el of output.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      const inMath = el.closest('mjx-container') !== null;
      if (forbidden.has(tag) && !inMath) problems.push('<' + tag + '>');
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        if (name.startsWith('on')) problems.push(name + ' on <' + tag + '>');
      }
      if (tag === 'a' && el.hasAttribute('href')) {
        const protocol = new URL(el.href, location.href).protocol;
        if (!['http:', 'https:', 'mailto:'].includes(protocol) &&
            !(location.protocol === 'file:' && protocol === 'file:' &&
              !/^[a-z][a-z0-9+.-]*:/i.test(el.getAttribute('href')))) {
          problems.push(protocol + ' link: ' + el.getAttribute('href'));
        }
      }
    }
  }
  return {pwned: self.qwqPwned || [], problems, outputs: outputs.length,
          links: document.querySelectorAll('.jp-OutputArea-output a[href]').length};
}"""


def _responder() -> Any:
    """Replies chosen by the prompt: `hostile N`, `tool N`, `math`, and the special cells."""
    entries = {entry.number: entry for entry in CORPUS}
    retried: set[str] = set()

    def reply(body: dict[str, Any]) -> Reply:
        messages = body.get("messages", [])
        prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        word, _, number = prompt.partition(" ")
        if messages and messages[-1]["role"] == "tool":  # the results came back: answer
            return Reply(reasoning="The tool answered.", answer="done")
        if word == "toolrun":  # a tool that runs, echoing hostile text: argument and result
            text = entries[int(number)].text
            call = {"name": "echo", "arguments": {"text": text}}
            return Reply(reasoning="I will call echo.", answer="", tool_calls=[call])
        if word == "toolname":  # a hostile name for a tool that was not offered
            call = {"name": TOOL_NAMES[int(number)], "arguments": {"q": "<b>x</b>"}}
            return Reply(reasoning="a tool", answer="", tool_calls=[call])
        if word == "hostile":
            entry = entries[int(number)]
            if entry.kind == "reasoning":
                return Reply(reasoning=entry.text, answer="plain answer")
            return Reply(reasoning="thinking about it", answer=entry.text)
        if word == "tool":
            call = {"name": TOOL_NAMES[int(number)], "arguments": {"q": "</pre><b>x</b>"}}
            return Reply(reasoning="a tool", answer="", tool_calls=[call])
        if word == "math":
            return Reply(reasoning="Multiply: $17 \\times 23$.", answer=MATH_ANSWER)
        if word == "turn-a":
            return Reply(reasoning="r", answer=OPEN_FENCE)
        if word == "turn-b":
            return Reply(reasoning="r", answer=CLOSES_IT)
        if word == "error":
            return Reply(fault=Fault(status=400, code=5006, message=ERROR_BODY))
        if word == "retry" and prompt not in retried:
            retried.add(prompt)
            return Reply(fault=Fault(status=429, code=3040, message=RETRY_BODY, retry_after=0.05))
        if word == "compare":
            seed = body.get("seed", 0)
            return Reply(
                reasoning=f"</details><script>{mark(980 + seed)}</script>",
                answer=f"<img src=x onerror={mark(985 + seed)}> \\boxed{{{seed}}}",
            )
        return Reply(reasoning="r", answer="ok")

    return reply


def _cells() -> list[str]:
    cells = ["%load_ext qwq_jupyter\n%config QwQSettings.max_retries = 2"]
    cells += [f"%%qwq --no-history\nhostile {entry.number}" for entry in CORPUS]
    cells += [f"%%qwq --no-history\ntool {n}" for n in range(len(TOOL_NAMES))]
    cells.append(TOOL_SETUP)
    run = "%%qwq --no-history --tools hostile_tools\n"
    cells += [f"{run}toolrun {entry.number}" for entry in TOOL_RUNS]
    cells += [f"{run}toolname {n}" for n in range(len(TOOL_NAMES))]
    cells += [
        "%%qwq --no-history\nmath",
        "%%qwq --chat mixed\nturn-a",
        "%%qwq --chat mixed\nturn-b",
        "%qwq history mixed",
        "%%qwq --no-history\nerror",
        "%%qwq --no-history\nretry",
        "%%qwq --no-history --compare seed=1,2\ncompare",
        f"%%qwq --dry-run\n{DRY_RUN_PROMPT}",
        "%qwq stats",
    ]
    return cells


@dataclass
class Seen:
    pwned: list[int]
    problems: list[str]
    outputs: int
    links: int


@dataclass
class Lab:
    page: Page
    notebook: NotebookPage
    jupyter: JupyterLabServer
    server: QwQTestServer
    seen: dict[str, Seen] = field(default_factory=dict)
    math_typeset: bool = False
    stats_text: str = ""
    stats_math: int = -1
    math_in_reasoning: int = -1

    def inspect(self, where: str) -> Seen:
        self.page.wait_for_timeout(1000)  # let image errors and late handlers fire
        seen = Seen(**self.page.evaluate(_INSPECT_JS))
        self.seen[where] = seen
        return seen


def _screenshots(notebook: NotebookPage, theme: str) -> None:
    """What a user sees of the outputs that mix model text and the extension's own."""
    ARTIFACTS.mkdir(exist_ok=True)
    for name, source in (
        ("math", "math"),
        ("history", "%qwq history mixed"),
        ("compare", "compare"),
        ("error", "error"),
        ("retry", "retry"),
        ("dry-run", "--dry-run"),
        ("stats", "%qwq stats"),
        ("tool", "tool 0"),
        ("tool-run", f"toolrun {TOOL_RUNS[1].number}"),
    ):
        cell = notebook.output_of(source)
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=ARTIFACTS / f"hostile-{name}-{theme}.png")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("hostile-root")
    home = tmp_path_factory.mktemp("hostile-home")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in _cells()]
    nbformat.write(notebook, root / NOTEBOOK)
    server = QwQTestServer(responder=_responder()).start()
    jupyter = JupyterLabServer(
        root,
        home,
        kernel_environment(server),
        ARTIFACTS / "jupyterlab-hostile.log",
        every_cell_rendered=True,
    )
    try:
        jupyter.start()
        with chromium_page(1100) as page:
            notebook_page = NotebookPage(page)
            notebook_page.open(jupyter.url, NOTEBOOK)
            yield Lab(page, notebook_page, jupyter, server)
    finally:
        jupyter.stop()
        server.stop()


@pytest.fixture(scope="module")
def live(lab: Lab) -> Lab:
    """Run every cell, then look: payloads, dangerous DOM, math typeset, dollars literal."""
    page = lab.page
    try:
        lab.notebook.run_all(len(_cells()))
        math = lab.notebook.output_of("math")
        try:
            math.locator("mjx-container").first.wait_for(timeout=20_000)
            lab.math_typeset = True
        except PlaywrightTimeout:
            lab.math_typeset = False  # checked by its own test; the others still look
        lab.math_in_reasoning = math.locator("details mjx-container").count()
        stats = lab.notebook.output_of("%qwq stats").locator("table")
        lab.stats_text = stats.inner_text()
        lab.stats_math = lab.notebook.output_of("%qwq stats").locator("mjx-container").count()
        lab.inspect("live")
        ARTIFACTS.mkdir(exist_ok=True)
        _screenshots(lab.notebook, "light")
        lab.notebook.set_theme("JupyterLab Dark")
        _screenshots(lab.notebook, "dark")
        lab.notebook.set_theme("JupyterLab Light")
    except BaseException:
        page.screenshot(path=ARTIFACTS / "failure-hostile-live.png")
        print(lab.jupyter.log_tail())
        raise
    return lab


@pytest.fixture(scope="module")
def reloaded(live: Lab) -> Lab:
    """Save, reload the page: the saved outputs are rendered again from the .ipynb."""
    page = live.page
    path = live.jupyter.root / NOTEBOOK
    before = path.stat().st_mtime_ns
    live.notebook.save()
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(0.1)
    time.sleep(0.5)
    page.reload()
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.jp-OutputArea-output').length >= n",
        arg=live.seen["live"].outputs,
        timeout=60_000,
    )
    live.inspect("reloaded")
    return live


@pytest.fixture(scope="module")
def converted(reloaded: Lab, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """The saved notebook through `jupyter nbconvert --to html`, opened in the same browser."""
    out = tmp_path_factory.mktemp("nbconvert")
    shutil.copyfile(reloaded.jupyter.root / NOTEBOOK, out / NOTEBOOK)
    subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(out / NOTEBOOK)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    page = reloaded.page
    page.goto((out / "hostile.html").as_uri(), wait_until="load", timeout=60_000)
    reloaded.inspect("nbconvert")
    return reloaded


def test_the_notebook_runs_the_whole_corpus(live: Lab) -> None:
    assert len(CORPUS) >= 100
    assert live.seen["live"].outputs >= len(_cells()) - 2  # the two set-up cells show nothing
    assert live.seen["live"].links > 0  # allowed links stay links: the check has teeth


def test_no_payload_runs_live(live: Lab) -> None:
    assert live.seen["live"].pwned == []
    assert live.seen["live"].problems == []


def test_no_payload_runs_after_reload(reloaded: Lab) -> None:
    assert reloaded.seen["reloaded"].pwned == []
    assert reloaded.seen["reloaded"].problems == []


def test_no_payload_runs_in_nbconvert_html(converted: Lab) -> None:
    seen = converted.seen["nbconvert"]
    assert seen.outputs >= len(_cells()) - 2
    assert seen.pwned == [] and seen.problems == []


def test_math_typesets_and_dollar_amounts_stay_literal(live: Lab) -> None:
    assert live.math_typeset  # $\boxed{391}$ became MathJax output
    assert live.math_in_reasoning == 0  # the reasoning is shown as written
    assert live.stats_math == 0
    assert "$0.0" in live.stats_text  # e.g. "$0.00019 … $0.00009": literal dollar amounts
