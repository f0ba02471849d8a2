"""End to end in a real browser: the quickstart notebook in JupyterLab, driven by Chromium.

One JupyterLab server, one kernel and one page serve the whole module; its kernel talks to a
local `QwQTestServer` that paces its replies like the real model (40 tokens/s). The module
checks what a user sees: the panel's slider reaching the request, reasoning streaming in grey
and then folding away, the footer, the ■ button stopping a call without losing what arrived,
and what the saved .ipynb keeps (never the credentials). The ■ button while QwQ thinks forces
the answer and a second ■ stops; a background call's Answer now button forces it too.

Screenshots go to tests/artifacts/. The README's screenshots in docs/screenshots/ are written
when missing, or refreshed with QWQ_UPDATE_SCREENSHOTS=1 (their numbers change every run, so
refreshing them on every run would dirty the working tree).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from jupyterlab_page import (
    JupyterLabServer,
    NotebookPage,
    Snapshot,
    chromium_page,
    kernel_environment,
)
from playwright.sync_api import Locator, Page

from qwq_jupyter.session.saved import TURN_MIME
from qwq_jupyter.testing import QwQTestServer, Reply

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
NOTEBOOK = "quickstart.ipynb"
TOKENS_PER_SECOND = 40  # ~150 reasoning tokens: about 4 s of live reasoning
SAMPLE_EVERY = 0.15

FIRST_CELL = "%load_ext qwq_jupyter"
PANEL_CELL = "%qwq panel"
STREAMED_CELL = "What is 17 × 23?"
INTERRUPTED_CELL = "And what is 23 × 17? Is it the same?"
BACKGROUND_CELL = "%%qwq --background --no-history\nThink about 23 × 17 once more."

REASONING = (
    "Okay, the user asks for 17 × 23. Let me work it out carefully rather than guess. One way "
    "is to split 23 into 20 + 3. Then 17 × 20 = 340, and 17 × 3 = 51. Adding them gives "
    "340 + 51 = 391. Let me double-check with a different split, so that a slip in one route "
    "shows up in the other. Write 17 as 10 + 7: 10 × 23 = 230 and 7 × 23 = 161, and "
    "230 + 161 = 391 again. Another check: 17 × 23 is (20 − 3)(20 + 3), a difference of "
    "squares, which is 400 − 9 = 391. Three methods agree. The last digit is right too, since "
    "7 × 3 = 21 ends in 1. And the size makes sense: 17 × 23 should be a little less than "
    "20 × 20 = 400. So the product is 391, and I can answer briefly with one line of working."
)
ANSWER = (
    "17 × 23 = **391**.\n\n"
    "Split 23 into 20 + 3: 17 × 20 = 340 and 17 × 3 = 51, so 340 + 51 = 391. As a check, "
    "(20 − 3)(20 + 3) = 20² − 3² = 400 − 9 = 391."
)
SLOW_ANSWER = (
    "Yes: 23 × 17 = 17 × 23 = **391**, because multiplication is commutative. "
    + " ".join(f"Example {n}: {n} × 3 = {3 * n} = 3 × {n}." for n in range(1, 200))
)
LONG_REASONING = "Multiplication is commutative, so 23 × 17 should equal 17 × 23. " + " ".join(
    f"Check {n}: 23 × 17 = {23 * 17}, and 17 × 23 = {17 * 23}." for n in range(1, 150)
)


def _normal(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Lab:
    server: QwQTestServer
    jupyter: JupyterLabServer
    page: Page
    notebook: NotebookPage
    outside_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.jupyter.root / NOTEBOOK

    def screenshot(self, target: Locator | Page, name: str, *, docs: str | None = None) -> Path:
        """Save a PNG to tests/artifacts/ and, for the README, to docs/screenshots/."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        target.screenshot(path=path)
        if docs:
            published = SCREENSHOTS / docs
            if os.environ.get("QWQ_UPDATE_SCREENSHOTS") == "1" or not published.exists():
                published.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, published)
        return path

    @contextmanager
    def page_on_failure(self, name: str) -> Iterator[None]:
        """On an exception, keep a screenshot of the whole window and the server's log tail."""
        try:
            yield
        except BaseException:
            try:
                self.screenshot(self.page, f"failure-{name}")
            finally:
                print(f"--- jupyter lab log ---\n{self.jupyter.log_tail()}")
            raise


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A paced QwQ server, JupyterLab pointed at it, and the quickstart open in Chromium."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copyfile(REPO / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    # Distinctive credentials, so finding them in the saved notebook would mean a real leak.
    server = QwQTestServer(token=f"tok-{secrets.token_hex(12)}", account_id=secrets.token_hex(16))
    server.start()
    jupyter = JupyterLabServer(
        root,
        tmp_path_factory.mktemp("lab-home"),
        kernel_environment(server),
        ARTIFACTS / "jupyterlab.log",
    )
    started = time.monotonic()
    try:
        jupyter.start()
        server_up = time.monotonic() - started
        with chromium_page(1000, scale=2) as page:
            lab = Lab(server, jupyter, page, NotebookPage(page))
            lab.timings["jupyter_lab_serving_s"] = server_up
            page.on("pageerror", lambda error: lab.page_errors.append(str(error)))
            page.on(
                "request",
                lambda request: (
                    None
                    if request.url.startswith(jupyter.url)
                    else lab.outside_requests.append(request.url)
                ),
            )
            with lab.page_on_failure("open"):
                lab.notebook.open(jupyter.url, NOTEBOOK)
            lab.timings["notebook_open_kernel_idle_s"] = time.monotonic() - started
            yield lab
            lab.screenshot(page, "final-window")
            lab.timings["module_total_s"] = time.monotonic() - started
            (ARTIFACTS / "timings.json").write_text(
                json.dumps({k: round(v, 2) for k, v in lab.timings.items()}, indent=2)
            )
    finally:
        jupyter.stop()
        server.stop()


@pytest.fixture(scope="module")
def loaded(lab: Lab) -> Snapshot:
    """The quickstart's first cell: `%load_ext qwq_jupyter` and `%qwq demo`."""
    with lab.page_on_failure("load-ext"):
        return lab.notebook.run(lab.notebook.code_cell(FIRST_CELL))


@dataclass
class PanelChange:
    before: str
    after: str
    aria_value: str | None


@pytest.fixture(scope="module")
def panel(lab: Lab, loaded: Snapshot) -> PanelChange:
    """Run `%qwq panel` and move the temperature slider 4 steps right with the keyboard."""
    notebook = lab.notebook
    with lab.page_on_failure("panel"):
        cell = notebook.code_cell(PANEL_CELL)
        notebook.run(cell)
        slider = cell.locator(".widget-slider").filter(
            has=lab.page.locator(".widget-label", has_text=re.compile(r"^temperature$"))
        )
        readout = slider.locator(".widget-readout")
        readout.wait_for()
        before = readout.inner_text()
        handle = slider.locator(".noUi-handle")
        handle.focus()
        for _ in range(4):  # step 0.05: 0.60 -> 0.80
            lab.page.keyboard.press("ArrowRight")
        lab.page.wait_for_function(
            "([readout, before]) => readout.textContent.trim() !== before",
            arg=[readout.element_handle(), before],
        )
        handle.blur()
        lab.screenshot(cell, "01-panel", docs="panel.png")
        return PanelChange(before, readout.inner_text(), handle.get_attribute("aria-valuenow"))


@dataclass
class Streamed:
    samples: list[Snapshot]
    final: Snapshot
    started: float
    details_text: str
    answer_text: str


@pytest.fixture(scope="module")
def streamed(lab: Lab, panel: PanelChange) -> Streamed:
    """Run the quickstart's first question and sample its output every 150 ms."""
    notebook = lab.notebook
    lab.server.push(Reply(reasoning=REASONING, answer=ANSWER, tokens_per_second=TOKENS_PER_SECOND))
    with lab.page_on_failure("streamed"):
        cell = notebook.code_cell(STREAMED_CELL)
        before = notebook.start(cell)
        started = time.monotonic()
        samples: list[Snapshot] = []
        live_shot = False
        deadline = started + 60
        while time.monotonic() < deadline:
            sample = notebook.snapshot(cell)
            samples.append(sample)
            if sample.done and sample.prompt != before:
                break
            stdout = sample.stdout or ""
            if not live_shot and sample.summary is None and len(stdout) > len(REASONING) * 0.5:
                lab.screenshot(cell, "02-live-reasoning", docs="live-reasoning.png")
                live_shot = True
            time.sleep(SAMPLE_EVERY)
        final = notebook.wait_finished(cell, before, timeout=5)
        first = next(s for s in samples if s.stdout)
        lab.timings["streamed_first_reasoning_visible_s"] = first.at - started
        lab.timings["streamed_cell_total_s"] = final.at - started
        lab.timings["streamed_samples"] = len(samples)
        lab.screenshot(cell, "03-streamed-answer", docs="streamed-answer.png")
        output = cell.locator(".jp-OutputArea-output").last
        details_text = output.locator("details pre").text_content() or ""
        answer_text = output.locator("p").first.inner_text()
        return Streamed(samples, final, started, details_text, answer_text)


@dataclass
class Interrupted:
    before_stop: Snapshot
    answering: Snapshot
    final: Snapshot
    disconnected: bool
    stopped_again: bool
    stop_to_output: float
    details_text: str
    after: Snapshot
    request: dict
    continuation: dict


@pytest.fixture(scope="module")
def interrupted(lab: Lab, streamed: Streamed) -> Interrupted:
    """A long reply: the toolbar's ■ while it thinks forces the answer, a second ■ stops it;
    then `print(6*7)` below it."""
    notebook = lab.notebook
    lab.server.push(
        Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40),
        Reply(answer=SLOW_ANSWER, tokens_per_second=20),
    )
    with lab.page_on_failure("interrupted"):
        cell = notebook.code_cell(INTERRUPTED_CELL)
        lab.server.reset_stats()
        before = notebook.start(cell)
        lab.page.wait_for_function(
            "(cell) => (cell.querySelector('.jp-OutputArea').innerText.match(/Check/g) || [])"
            ".length >= 3",
            arg=cell.element_handle(),
            polling=50,
        )
        before_stop = notebook.snapshot(cell)
        lab.screenshot(cell, "04-before-interrupt")
        notebook.interrupt()  # ■ while thinking: answer now
        disconnected = lab.server.wait_for_disconnect(15)
        lab.server.reset_stats()
        lab.page.wait_for_function(
            "(cell) => /Example 3:/.test(cell.querySelector('.jp-OutputArea').innerText)",
            arg=cell.element_handle(),
            polling=50,
            timeout=20_000,
        )
        answering = notebook.snapshot(cell)
        lab.screenshot(cell, "05-answer-now", docs="answer-now.png")
        stopped = time.monotonic()
        notebook.interrupt()  # ■ again: stop
        stopped_again = lab.server.wait_for_disconnect(15)
        final = notebook.wait_finished(cell, before, timeout=20)
        stop_to_output = time.monotonic() - stopped
        first, second = lab.server.requests[-2:]
        lab.timings["interrupt_click_to_final_output_s"] = stop_to_output
        lab.screenshot(cell, "05-interrupted")
        details_text = cell.locator("details pre").text_content() or ""

        probe = notebook.insert_below(cell, "print(6*7)")
        after = notebook.run(probe, timeout=20)
        lab.screenshot(probe, "06-kernel-after-interrupt")
    return Interrupted(
        before_stop,
        answering,
        final,
        disconnected,
        stopped_again,
        stop_to_output,
        details_text,
        after,
        first.body or {},
        second.body or {},
    )


@dataclass
class Background:
    button_seen: bool
    final: Snapshot
    continuation: dict


@pytest.fixture(scope="module")
def answered_in_background(lab: Lab, interrupted: Interrupted) -> Background:
    """A `--background` cell thinking at length; its Answer now button forces the answer."""
    notebook = lab.notebook
    lab.server.push(
        Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40),
        Reply(answer="In the background: **391**, both ways."),
    )
    with lab.page_on_failure("answer-now-button"):
        probe = notebook.code_cell("print(6*7)")
        cell = notebook.insert_below(probe, BACKGROUND_CELL)
        lab.server.reset_stats()
        notebook.run(cell, timeout=20)  # a background cell returns at once
        button = cell.locator("button", has_text="Answer now")
        button.wait_for(timeout=10_000)
        lab.page.wait_for_function(
            "(cell) => (cell.querySelector('.jp-OutputArea').innerText.match(/Check/g) || [])"
            ".length >= 3",
            arg=cell.element_handle(),
            polling=50,
        )
        lab.screenshot(cell, "07-background-buttons", docs="answer-now-button.png")
        button.click()
        assert lab.server.wait_for_disconnect(15)
        lab.page.wait_for_function(
            "(cell) => /In the background: 391/"
            ".test(cell.querySelector('.jp-OutputArea').innerText) && cell.querySelector('sub')",
            arg=cell.element_handle(),
            polling=50,
            timeout=20_000,
        )
        final = notebook.snapshot(cell)
        lab.screenshot(cell, "08-background-answered")
    return Background(True, final, lab.server.last_body or {})


# --- The checks ----------------------------------------------------------------------------


def test_extension_loads_and_uses_the_configured_server(loaded: Snapshot) -> None:
    assert "using Workers AI" in loaded.text, loaded.text


def test_panel_slider_moves_temperature(panel: PanelChange) -> None:
    assert panel.before == "0.60"
    assert panel.after == "0.80"
    assert panel.aria_value is not None and float(panel.aria_value) == pytest.approx(0.8)


def test_reasoning_streams_live_then_collapses(lab: Lab, streamed: Streamed) -> None:
    samples = streamed.samples
    # 1. Reasoning arrives progressively: many distinct, growing states over seconds.
    live = [s for s in samples if s.stdout and s.summary is None]
    states: list[Snapshot] = []
    for sample in live:
        if not states or _normal(sample.stdout or "") != _normal(states[-1].stdout or ""):
            states.append(sample)
    assert len(states) >= 6, [s.stdout for s in states]
    for earlier, later in itertools.pairwise(states):
        assert _normal(later.stdout or "").startswith(_normal(earlier.stdout or ""))
        assert len(_normal(later.stdout or "")) > len(_normal(earlier.stdout or ""))
    assert len(_normal(states[0].stdout or "")) < len(REASONING) / 2, "arrived in one jump"
    assert states[-1].at - states[0].at >= 2.0
    assert _normal(REASONING).startswith(_normal(states[-1].stdout or ""))
    # ... in grey (ANSI 256-colour 245)
    color = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", states[-1].stream_color or "")
    assert color and len(set(color.groups())) == 1 and 100 <= int(color[1]) <= 180, color

    # 2. The answer starts: the reasoning folds into <details>, the answer streams below it.
    collapsed = [s for s in samples if s.summary is not None and s.footer is None]
    assert collapsed, "never saw the folded reasoning before the footer"
    assert collapsed[0].at > states[-1].at
    assert collapsed[0].summary.startswith("Reasoning")
    assert REASONING[:40] not in collapsed[0].text  # folded: not shown any more

    # 3. The end: one HTML output, folded reasoning, the answer, the footer with stats.
    final = streamed.final
    assert final.outputs == 1 and final.stdout is None
    assert re.fullmatch(r"Reasoning · ≈\d+ tokens · \d+\.\d s", final.summary or ""), final
    assert _normal(streamed.details_text) == _normal(REASONING)
    assert streamed.answer_text == "17 × 23 = 391."
    footer = final.footer or ""
    for part in ("reasoning ≈", "answer ≈", "first token", "thinking", "tok/s", "$", "stop"):
        assert part in footer, footer
    speed = float(re.search(r"([\d.]+) tok/s", footer)[1])
    assert 0.5 * TOKENS_PER_SECOND < speed < 1.5 * TOKENS_PER_SECOND, footer

    # 4. The request carried the slider's temperature.
    body = lab.server.last_body
    assert body is not None and body["stream"] is True
    assert body["temperature"] == pytest.approx(0.8)


def test_interrupt_while_thinking_answers_now_and_twice_stops(interrupted: Interrupted) -> None:
    assert interrupted.disconnected, "the server never saw the client hang up at the first ■"
    assert interrupted.stopped_again, "nor at the second"
    assert interrupted.stop_to_output < 10
    # The first ■ cut the thinking and asked for the answer, which streamed into the cell.
    assert "thinking cut at" in interrupted.answering.text
    assert "by Answer now" in interrupted.answering.text
    prompt = interrupted.continuation["prompt"]
    assert prompt.endswith("</think>\n\n") and "Check 1: 23 × 17 = 391" in prompt
    # The second ■ stopped it: the reasoning, the cut and the answer so far are kept.
    final = interrupted.final
    assert "■ Interrupted: what arrived is kept." in final.text
    assert "thinking cut at" in final.text and "Example 1:" in final.text
    assert (final.summary or "").startswith("Reasoning")
    assert "interrupted" in (final.footer or "") and "2 calls" in (final.footer or "")
    kept = _normal(interrupted.details_text)
    assert kept.startswith(_normal(LONG_REASONING[:60]))
    assert _normal(interrupted.before_stop.stdout or "") in _normal(LONG_REASONING)
    assert len(kept) < len(_normal(LONG_REASONING)) / 2
    # The history sent along holds the first answer, never its reasoning.
    sent = json.dumps(interrupted.request, ensure_ascii=False)
    assert "391" in sent and REASONING[:40] not in sent
    assert REASONING[:40] not in prompt
    # The kernel still answers.
    assert interrupted.after.text.strip() == "42"


def test_answer_now_button_on_a_background_call(answered_in_background: Background) -> None:
    final = answered_in_background.final
    assert "by Answer now" in final.text and "In the background: 391" in final.text
    assert "answer forced" in (final.footer or "")
    assert answered_in_background.continuation["prompt"].endswith("</think>\n\n")


def test_saved_notebook_keeps_final_outputs_without_credentials(
    lab: Lab, streamed: Streamed, interrupted: Interrupted
) -> None:
    before = lab.path.stat().st_mtime_ns
    with lab.page_on_failure("save"):
        lab.notebook.save()
        deadline = time.monotonic() + 20
        while lab.path.stat().st_mtime_ns == before or "print(6*7)" not in lab.path.read_text():
            assert time.monotonic() < deadline, "the notebook was not saved"
            time.sleep(0.1)
    saved = lab.path.read_text()
    assert lab.server.token not in saved
    assert lab.server.account_id not in saved
    notebook = nbformat.reads(saved, as_version=4)
    nbformat.validate(notebook)
    cells = {cell.source.splitlines()[-1]: cell for cell in notebook.cells}

    (output,) = cells[STREAMED_CELL].outputs  # the live stream was replaced by one display
    assert output.output_type == "display_data"
    html = output.data["text/html"]
    assert '<details class="qwq-reasoning"><summary>Reasoning' in html
    assert "<strong>391</strong>" in html
    footer = re.search(r"<sub[^>]*>(.*)</sub>", html)
    assert footer and "tok/s" in footer[1] and "$" in footer[1], html
    assert "Reasoning" in output.data["text/plain"]

    (output,) = cells[INTERRUPTED_CELL].outputs
    assert "Interrupted: what arrived is kept." in output.data["text/html"]
    assert [o.get("text") for o in cells["print(6*7)"].outputs] == ["42\n"]


def test_browser_stayed_on_localhost_without_page_errors(
    lab: Lab, interrupted: Interrupted, answered_in_background: Background
) -> None:
    assert lab.outside_requests == []
    assert lab.page_errors == []


def test_restore_and_reuse_after_a_kernel_restart(
    lab: Lab, interrupted: Interrupted, answered_in_background: Background
) -> None:
    """The saved notebook keeps its turns; a restarted kernel gets its conversation back."""
    with lab.page_on_failure("restore"):
        lab.notebook.save()
        deadline = time.monotonic() + 20
        while TURN_MIME not in lab.path.read_text() or "Think about" not in lab.path.read_text():
            assert time.monotonic() < deadline, "the notebook was not saved with its turns"
            lab.notebook.save()
            time.sleep(0.5)
        lab.notebook.restart_kernel()
        below = lab.notebook.code_cell("Think about 23 × 17 once more.")
        setup = (
            "%load_ext qwq_jupyter\n%qwq restore\n%config QwQSettings.reuse = 'saved'\n"
            "%config QwQSettings.temperature = 0.8"  # as the panel had it when the cell ran
        )
        cell = lab.notebook.insert_below(below, setup)
        shown = lab.notebook.run(cell, timeout=30)
        lab.screenshot(cell, "09-restored")
        sent = len(lab.server.requests)
        again = lab.notebook.run(lab.notebook.code_cell(STREAMED_CELL), timeout=30)
        lab.screenshot(lab.notebook.code_cell(STREAMED_CELL), "10-reused")
    assert "restored 2 turn(s) from" in shown.text and "(default: 2)" in shown.text
    assert "quickstart.ipynb" in shown.text  # the kernel knew its notebook's path
    # Run again after the restart, the first question is shown from the notebook: $0
    assert len(lab.server.requests) == sent
    assert "reused from the notebook · $0" in again.text and "391" in again.text
