"""Asking before a tool runs: the `[y/N]` prompt, the notebook's question, and clicks in a
real kernel while the cell waits (the browser test clicks them in JupyterLab)."""

from __future__ import annotations

import builtins
import json
import re
import time
from collections.abc import Sequence
from typing import Any

import pytest
from html_safety import dangers
from kernels import Kernel

from qwq_jupyter.notebook.confirm import (
    ARGUMENTS_SHOWN,
    confirm_in_notebook,
    confirm_in_terminal,
    question_html,
)
from qwq_jupyter.testing import QwQTestServer

HOSTILE_NAME = "count_rows\x1b]52;c;cm0gLXJmIH4=\x07\u202e\x1b[2J\r<script>alert(1)</script>"
HOSTILE_ARGUMENTS = json.dumps(
    {
        "column": "<img src=x onerror=alert(1)>\x1b[31mred\x1bc",
        "note": "</pre><script>alert(2)</script>\u2066\u202eevil\r\n\x9b",
    },
    ensure_ascii=False,
)
# Escape sequences, C0/C1 controls, bidi overrides and isolates: none may reach the terminal.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _answering(monkeypatch: pytest.MonkeyPatch, answer: str | BaseException) -> list[str]:
    prompts: list[str] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(builtins, "input", fake_input)
    return prompts


@pytest.mark.parametrize("answer", ["y", "Y", "yes", " YES \n"])
def test_terminal_yes_runs(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    prompts = _answering(monkeypatch, answer)
    assert confirm_in_terminal("count_rows", '{"column": "age"}') is True
    assert prompts == ['Run count_rows({"column": "age"})? [y/N] ']


@pytest.mark.parametrize("answer", ["", "n", "no", "yy", "ja", "y es", "sure"])
def test_terminal_anything_else_skips(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    _answering(monkeypatch, answer)
    assert confirm_in_terminal("count_rows", "{}") is False


def test_terminal_end_of_input_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    _answering(monkeypatch, EOFError())
    assert confirm_in_terminal("count_rows", "{}") is False


def test_terminal_interrupt_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    _answering(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        confirm_in_terminal("count_rows", "{}")


def test_terminal_hostile_text_is_shown_not_obeyed(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = _answering(monkeypatch, "y")
    assert confirm_in_terminal(HOSTILE_NAME, HOSTILE_ARGUMENTS) is True
    (prompt,) = prompts
    assert CONTROL.search(prompt) is None, repr(prompt)
    assert "\n" not in prompt and prompt.endswith(")? [y/N] ")  # one line, ours at the end
    assert "␛]52;c;" in prompt and "⟨U+202E⟩" in prompt and "␍" in prompt  # visible
    assert "<img src=x onerror=alert(1)>" in prompt  # plain text in a terminal: as written


def test_terminal_bounds_what_it_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = _answering(monkeypatch, "n")
    arguments = json.dumps({"rows": list(range(10_000))})
    confirm_in_terminal("count_rows", arguments)
    (prompt,) = prompts
    assert len(prompt) < ARGUMENTS_SHOWN + 100
    assert prompt.endswith("…)? [y/N] ")


def test_terminal_shows_non_json_arguments_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = _answering(monkeypatch, "n")
    confirm_in_terminal("f", "{not json" + "[" * 100_000)  # and nothing deep is parsed
    assert prompts[0].startswith("Run f({not json[[[")


def test_outside_a_kernel_the_notebook_question_is_asked_in_the_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prompts = _answering(monkeypatch, "yes")
    assert confirm_in_notebook("count_rows", "{}") is True
    assert prompts == ["Run count_rows({})? [y/N] "]


def test_the_question_is_safe_html() -> None:
    html = question_html(HOSTILE_NAME, HOSTILE_ARGUMENTS)
    assert dangers(html) == []
    assert "<script" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;/pre&gt;" in html
    assert CONTROL.search(html.replace("\n", "")) is None
    assert "␛]52;c;" in html and "⟨U+202E⟩" in html
    assert "mathjax_ignore" in html  # a $ in the arguments is never typeset


def test_the_question_bounds_the_arguments() -> None:
    html = question_html("count_rows", json.dumps({"text": "x" * 50_000}))
    assert html.count("x") < ARGUMENTS_SHOWN + 50 and "…" in html
    huge = question_html("count_rows", "<" * 3_000_000)
    assert len(huge) < 20 * ARGUMENTS_SHOWN


# --- clicks in a real kernel ---------------------------------------------------------------

CLICK = {"method": "custom", "content": {"event": "click"}}
ASK = 'print("asked:", confirm_in_notebook("count_rows", \'{"column": "age"}\'EXTRA))'


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with QwQTestServer() as server:
        kernel = Kernel(server, str(tmp_path_factory.mktemp("confirm")))
        kernel.execute("from qwq_jupyter.notebook.confirm import confirm_in_notebook")
        yield kernel
        kernel.shutdown()


def _buttons(
    kernel: Kernel, msg_id: str, opened: list[str] | None = None, seen: Sequence[Any] = ()
) -> dict[str, str]:
    """The comm ids of the question's buttons, by label, once it is on display (reading the
    messages already `seen` first)."""
    found: dict[str, str] = {}
    opened = [] if opened is None else opened

    def shown(message: dict[str, Any]) -> bool:
        if message["msg_type"] == "comm_open":
            opened.append(message["content"]["comm_id"])
            state = message["content"]["data"].get("state", {})
            if state.get("_model_name") == "ButtonModel":
                found[state["description"]] = message["content"]["comm_id"]
        return message["msg_type"] == "display_data"

    if not any([shown(message) for message in seen]):  # a list: every message is read
        kernel.wait_for(msg_id, shown)
    assert set(found) == {"Run", "Run all", "Skip"}
    return found


def _records(execution: Any) -> list[str]:
    """The one-line records: every display that is not the question's widget."""
    messages = execution.of_type("display_data", "update_display_data")
    widget = "application/vnd.jupyter.widget-view+json"
    return [
        m["content"]["data"]["text/plain"] for m in messages if widget not in m["content"]["data"]
    ]


@pytest.mark.parametrize(("label", "printed"), [("Run", "True"), ("Skip", "False")])
def test_a_click_answers_while_the_cell_waits(kernel: Kernel, label: str, printed: str) -> None:
    asking = kernel.send(ASK.replace("EXTRA", ""))
    opened: list[str] = []
    kernel.comm_msg(_buttons(kernel, asking, opened)[label], CLICK)
    run = kernel.collect(asking, timeout=10).raise_on_error()
    assert run.stdout == f"asked: {printed}\n"
    assert _records(run) == [f"{'✔ ran' if printed == 'True' else '✖ skipped'} count_rows"]
    # The question's widgets are gone, with their layouts and styles.
    closed = [m["content"]["comm_id"] for m in run.of_type("comm_close")]
    assert sorted(closed) == sorted(opened) and len(opened) > 5


def test_cells_queued_while_waiting_run_after_it_in_order(kernel: Kernel) -> None:
    asking = kernel.send(ASK.replace("EXTRA", "") + "\norder = ['asked']")
    buttons = _buttons(kernel, asking)
    queued = [kernel.send(f"order.append({n})") for n in range(3)]
    time.sleep(0.3)  # the queued requests reach the kernel while it waits
    kernel.comm_msg(buttons["Run"], CLICK)
    assert kernel.collect(asking).raise_on_error().stdout == "asked: True\n"
    for msg_id in queued:
        kernel.collect(msg_id).raise_on_error()
    assert kernel.execute("print(order)").stdout == "['asked', 0, 1, 2]\n"


def test_no_answer_within_the_timeout_skips(kernel: Kernel) -> None:
    started = time.monotonic()
    run = kernel.execute(ASK.replace("EXTRA", ", timeout=0.3")).raise_on_error()
    assert run.stdout == "asked: False\n" and time.monotonic() - started < 5
    assert _records(run) == ["✖ skipped count_rows: no answer within 0.3 s"]


def test_interrupt_while_waiting_propagates(kernel: Kernel) -> None:
    asking = kernel.send(ASK.replace("EXTRA", ""))
    _buttons(kernel, asking)
    kernel.manager.interrupt_kernel()
    run = kernel.collect(asking)
    assert [m["content"]["ename"] for m in run.of_type("error")] == ["KeyboardInterrupt"]
    assert _records(run) == ["✖ skipped count_rows: interrupted"]
    assert kernel.execute("print('alive')").stdout == "alive\n"


def test_run_all_approves_the_rest_of_the_cell(kernel: Kernel) -> None:
    asking = kernel.send('print([confirm_in_notebook(n, "{}") for n in "abc"])')
    kernel.comm_msg(_buttons(kernel, asking)["Run all"], CLICK)
    run = kernel.collect(asking).raise_on_error()
    assert run.stdout == "[True, True, True]\n"
    assert _records(run) == ["✔ ran a (Run all)", "✔ ran b (Run all)", "✔ ran c (Run all)"]
    # The next cell asks again.
    assert kernel.execute(ASK.replace("EXTRA", ", timeout=0.1")).stdout == "asked: False\n"


def test_a_background_thread_waits_while_the_kernel_takes_the_click(kernel: Kernel) -> None:
    asking = kernel.send(
        "import threading\nanswers = []\nworker = threading.Thread(target=lambda: "
        "answers.append(confirm_in_notebook('count_rows', '{}')))\nworker.start()"
    )
    started = kernel.collect(asking).raise_on_error()  # the cell is done; the worker waits
    buttons = _buttons(kernel, asking, seen=started.messages)
    kernel.comm_msg(buttons["Run"], CLICK)
    assert kernel.execute("worker.join(10); print(answers)").stdout == "[True]\n"
