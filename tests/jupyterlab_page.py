"""JupyterLab in headless Chromium, for end-to-end tests: start the server, drive a notebook.

Everything stays on 127.0.0.1: Chromium resolves no other host name, JupyterLab fetches no
news or update checks, and the settings and workspace directories are temporary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    # Belt and braces: any host but 127.0.0.1 fails to resolve, so nothing leaves the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

# Environment variables that would send the kernel somewhere else than the test server.
_FOREIGN_SETTINGS = (
    "QWQ_BASE_URL",
    "QWQ_BACKEND",
    "QWQ_MODEL",
    "QWQ_GATEWAY_ID",
    "QWQ_JUPYTER_DEMO",
    "QWQ_API_KEY",
    "OPENAI_API_KEY",
)


def find_chromium() -> str:
    """The Chromium binary (Debian's `chromium` package), or a failure saying how to get it."""
    candidates = [os.environ.get("QWQ_TEST_CHROMIUM", ""), "/usr/bin/chromium"]
    candidates += [shutil.which(name) or "" for name in ("chromium", "chromium-browser")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "the browser test needs Chromium: install it with `apt-get install -y chromium` "
        "(or point QWQ_TEST_CHROMIUM at a Chromium binary)",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """`python -m jupyterlab` in a temporary root, quiet and offline, as a subprocess."""

    def __init__(
        self,
        root: Path,
        home: Path,
        env: dict[str, str],
        log_path: Path,
        *,
        every_cell_rendered: bool = False,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._home = home
        self._env = {k: v for k, v in env.items() if k not in _FOREIGN_SETTINGS}
        self._process: subprocess.Popen[bytes] | None = None
        # No windowing: every cell is in the DOM, so a test can inspect every output.
        self._every_cell_rendered = every_cell_rendered

    def start(self, timeout: float = 60.0) -> JupyterLabServer:
        settings = self._home / "lab-settings"
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        # No "Would you like to receive official Jupyter news?" toast, no update check.
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        if self._every_cell_rendered:
            tracker = settings / "@jupyterlab" / "notebook-extension"
            tracker.mkdir(parents=True, exist_ok=True)
            (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
        env = dict(
            self._env,
            JUPYTER_CONFIG_DIR=str(self._home / "config"),
            JUPYTER_DATA_DIR=str(self._home / "data"),
            JUPYTER_RUNTIME_DIR=str(self._home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self._home / "workspaces"),
            IPYTHONDIR=str(self._home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.disable_check_xsrf=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                env=env,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_until_serving(timeout)
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/lab", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"jupyter lab did not answer in {timeout} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM: the server shuts its kernels down and exits; SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Snapshot:
    """What one cell shows at one moment, read in a single round trip to the page."""

    at: float  # seconds, time.monotonic() of the test process
    prompt: str  # "[ ]:", "[*]:" or "[3]:"
    text: str  # the output area's rendered text
    stdout: str | None  # text of the stream output, if there is one
    summary: str | None  # text of a <details><summary>, if there is one
    footer: str | None  # text of a <sub>, if there is one
    stream_color: str | None  # computed colour of the last span of the stream output
    outputs: int  # how many outputs the cell has

    @property
    def done(self) -> bool:
        return re.fullmatch(r"\[\d+\]:", self.prompt) is not None


_SNAPSHOT_JS = """(cell) => {
  const area = cell.querySelector('.jp-OutputArea');
  const prompt = cell.querySelector('.jp-InputArea-prompt').textContent.trim();
  const stdout = area.querySelector('[data-mime-type="application/vnd.jupyter.stdout"]');
  const summary = area.querySelector('details > summary');
  const sub = area.querySelector('sub');
  const spans = stdout ? stdout.querySelectorAll('span') : [];
  return {
    prompt,
    text: area.innerText,
    stdout: stdout ? stdout.innerText : null,
    summary: summary ? summary.textContent : null,
    footer: sub ? sub.textContent : null,
    stream_color: spans.length ? getComputedStyle(spans[spans.length - 1]).color : null,
    outputs: area.querySelectorAll('.jp-OutputArea-output').length,
  };
}"""


class NotebookPage:
    """One notebook open in JupyterLab: find cells, run them, read their outputs."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def open(self, base_url: str, name: str, timeout: float = 60.0) -> NotebookPage:
        self.page.goto(f"{base_url}/lab/tree/{name}", timeout=timeout * 1000)
        self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(
            timeout=timeout * 1000
        )
        self.wait_for_kernel_idle(timeout)
        self.dismiss_toasts()
        # Close the file browser so cells (and screenshots) use the window's width.
        if self.page.locator("#jp-left-stack").is_visible():
            self.page.locator(".jp-NotebookPanel .jp-Notebook").click(position={"x": 5, "y": 5})
            self.page.keyboard.press("Control+b")
            self.page.locator("#jp-left-stack").wait_for(state="hidden")
        return self

    def wait_for_kernel_idle(self, timeout: float = 60.0) -> None:
        """The status bar says `… | Idle` and the toolbar's kernel indicator agrees."""
        self.page.wait_for_function(
            """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
                   .some(e => / \\| Idle$/.test(e.textContent.trim()))
               && document.querySelector(
                   '.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]')""",
            timeout=timeout * 1000,
        )

    def dismiss_toasts(self) -> None:
        for button in self.page.locator(".jp-toast-button, .Toastify__close-button").all():
            if button.is_visible():
                button.click()

    def code_cell(self, source: str) -> Locator:
        """The code cell whose input contains `source` (one exactly)."""
        cells = self.page.locator(".jp-Notebook .jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=source)
        )
        cells.first.wait_for()
        assert cells.count() == 1, f"{cells.count()} cells contain {source!r}"
        return cells.first

    def snapshot(self, cell: Locator) -> Snapshot:
        data: dict[str, Any] = cell.evaluate(_SNAPSHOT_JS)
        return Snapshot(at=time.monotonic(), **data)

    def start(self, cell: Locator) -> str:
        """Run the cell (Ctrl+Enter in its editor) without waiting; returns the prompt before."""
        cell.scroll_into_view_if_needed()
        before = self.snapshot(cell).prompt
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")
        return before

    def wait_finished(self, cell: Locator, before: str, timeout: float = 30.0) -> Snapshot:
        """Wait until the cell shows a new execution count (each run gets a fresh one)."""
        self.page.wait_for_function(
            """([cell, before]) => {
                 const prompt = cell.querySelector('.jp-InputArea-prompt').textContent.trim();
                 return /^\\[\\d+\\]:$/.test(prompt) && prompt !== before;
               }""",
            arg=[cell.element_handle(), before],
            polling=50,
            timeout=timeout * 1000,
        )
        return self.snapshot(cell)

    def run(self, cell: Locator, timeout: float = 30.0) -> Snapshot:
        return self.wait_finished(cell, self.start(cell), timeout)

    def insert_below(self, cell: Locator, source: str) -> Locator:
        """A new code cell right below `cell`, holding `source` (as a user would paste it)."""
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Escape")  # command mode
        self.page.keyboard.press("b")
        self.page.keyboard.press("Enter")  # edit the new, active cell
        # Inserted, not typed: typing would trigger the editor's auto-closing quotes and
        # brackets and its auto-indent.
        self.page.keyboard.insert_text(source)
        self.page.keyboard.press("Escape")
        return self.code_cell(source.splitlines()[-1])  # the editor shows lines, not "\n"

    def toolbar_button(self, command: str) -> Locator:
        return self.page.locator(f'.jp-NotebookPanel-toolbar [data-command="{command}"]')

    def interrupt(self) -> None:
        """The ■ button of the notebook toolbar."""
        self.toolbar_button("notebook:interrupt-kernel").click()

    def save(self) -> None:
        self.toolbar_button("docmanager:save").click()

    def restart_kernel(self, timeout: float = 60.0) -> None:
        """↻ in the toolbar, then Restart in the dialog; back when the new kernel is idle."""
        self.toolbar_button("notebook:restart-kernel").click()
        self.page.locator(".jp-Dialog button", has_text="Restart").click()
        self.page.wait_for_timeout(500)
        self.wait_for_kernel_idle(timeout)

    def run_all(self, cells: int, timeout: float = 240) -> None:
        """Run ▸ Run All Cells, then wait until all `cells` code cells show a count."""
        self.page.locator(".jp-NotebookPanel .jp-Notebook").click(position={"x": 5, "y": 5})
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        self.page.wait_for_function(
            """(count) => {
                 const selector = '.jp-CodeCell .jp-InputArea-prompt';
                 const prompts = [...document.querySelectorAll(selector)];
                 return prompts.length === count &&
                        prompts.every((p) => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
               }""",
            arg=cells,
            polling=250,
            timeout=timeout * 1000,
        )

    def output_of(self, source: str) -> Locator:
        """The last output of the first code cell whose input contains `source`."""
        return (
            self.page.locator(".jp-Notebook .jp-CodeCell")
            .filter(has=self.page.locator(".jp-InputArea-editor", has_text=source))
            .first.locator(".jp-OutputArea-output")
            .last
        )

    def set_theme(self, theme: str) -> None:
        """Settings → Theme → `theme`, as a user would pick it."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
        self.page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
        light = theme.endswith("Light")
        self.page.wait_for_function(
            "(light) => document.body.dataset.jpThemeLight === String(light)", arg=light
        )
        self.page.wait_for_timeout(500)


def kernel_environment(server: Any) -> dict[str, str]:
    """The environment JupyterLab hands its kernels: pointed at `server`, with its keys."""
    return dict(
        os.environ,
        QWQ_API_BASE=server.api_base,
        CLOUDFLARE_ACCOUNT_ID=server.account_id,
        CLOUDFLARE_API_TOKEN=server.token,
    )


@contextmanager
def chromium_page(width: int, height: int = 900, scale: float = 1) -> Iterator[Page]:
    """A page in Debian's headless Chromium, offline but for 127.0.0.1."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=scale
            )
            context.set_default_timeout(30_000)
            yield context.new_page()
        finally:
            browser.close()
