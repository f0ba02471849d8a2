"""Real-kernel tests: what JupyterLab receives over IOPub, ■ interrupt, Stop, cell ids."""

from __future__ import annotations

import json

import pytest
from kernels import Kernel

from qwq_jupyter.testing import QwQTestServer, Reply

LONG_REASONING = " ".join(f"step{i} of the reasoning." for i in range(400))


@pytest.fixture(scope="module")
def server():
    with QwQTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(server, tmp_path_factory):
    kernel = Kernel(server, str(tmp_path_factory.mktemp("kernel")))
    yield kernel
    kernel.shutdown()


def test_streamed_answer_over_iopub(kernel, server) -> None:
    server.push(
        Reply(
            reasoning="Six sevens < 43 & </details> <think>",
            answer="**42** <script>x</script>",
            tokens_per_second=200,
        )
    )
    run = kernel.execute("%%qwq\nWhat is 6 × 7?").raise_on_error()
    streams = run.of_type("stream")
    assert len(streams) >= 2  # the reasoning arrived in several pieces, live
    assert streams[0]["content"]["text"].startswith("\x1b[38;5;245m")  # grey reasoning
    kinds = [
        m["msg_type"] for m in run.messages if m["msg_type"] not in ("status", "execute_input")
    ]
    # the status line, live grey reasoning, collapse at the answer, answer, final display
    status = str(run.of_type("display_data")[0]["content"])
    assert kinds[0] == "display_data" and "thinking…" in status
    assert "■ answers now, twice stops" in status
    kinds = kinds[1:]
    assert kinds.index("stream") < kinds.index("clear_output") < kinds.index("display_data")
    final = run.last_display()
    html = final["text/html"]
    assert html.count("<details") == 1 and "</details>" in html
    assert "&lt;/details&gt;" in html and "&lt;think&gt;" in html  # cannot break layout
    assert "&lt;script&gt;" in html and "<script>" not in html  # never executed
    assert "<strong>42</strong>" in html and "tok/s" in html and "stop" in html
    assert "42" in final["text/plain"]
    # the cell's value is the response object, but the answer is not shown twice
    assert run.of_type("execute_result") == []
    value = kernel.execute("print(repr(_), _.answer, _.finish_reason)").stdout
    assert "QwQ Response stop" in value and "stop" in value


def _interrupt_while_thinking(kernel, server, cell: str) -> str:
    """Send `cell`, wait for the live reasoning, press ■; the request's id."""
    server.reset_stats()
    msg_id = kernel.send(cell)
    kernel.wait_for(
        msg_id,
        lambda m: m["msg_type"] == "stream" and ("step3" in m["content"]["text"]
                                                 or "step4" in m["content"]["text"]),
    )  # fmt: skip
    kernel.manager.interrupt_kernel()
    assert server.wait_for_disconnect(1.0)  # the HTTP connection closed at once
    return msg_id


def test_interrupt_while_thinking_forces_the_answer(kernel, server) -> None:
    server.push(
        Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40),
        Reply(answer="Answered from the reasoning so far."),
    )
    msg_id = _interrupt_while_thinking(kernel, server, "%%qwq\nthink long")
    run = kernel.collect(msg_id)
    assert run.reply["content"]["status"] == "ok"
    final = run.last_display()["text/html"]
    assert "thinking cut at" in final and "by Answer now" in final
    assert "Answered from the reasoning so far." in final and "step1" in final
    assert server.last_body["prompt"].endswith("</think>\n\n")
    history = kernel.execute("%qwq history").result()["text/html"]
    assert "Answered from the reasoning so far." in history


def test_interrupt_twice_stops(kernel, server) -> None:
    slow_answer = " ".join(f"word{i}" for i in range(400))
    server.push(
        Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40),
        Reply(answer=slow_answer, tokens_per_second=40),
    )
    msg_id = _interrupt_while_thinking(kernel, server, "%%qwq --no-history\nthink long")
    server.reset_stats()
    kernel.wait_for(msg_id, lambda m: m["msg_type"] == "stream" and "word3" in m["content"]["text"])
    kernel.manager.interrupt_kernel()
    assert server.wait_for_disconnect(1.0)
    final = kernel.collect(msg_id).last_display()["text/html"]
    assert "Interrupted" in final and "word1" in final and "word399" not in final


def test_interrupt_stops_when_set_to_stop_keeps_partial_and_kernel_lives(kernel, server) -> None:
    kernel.execute("%config QwQSettings.interrupt = 'stop'").raise_on_error()
    server.push(Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40))
    try:
        msg_id = _interrupt_while_thinking(kernel, server, "%%qwq\nthink long")
        run = kernel.collect(msg_id)
    finally:
        kernel.execute("%config QwQSettings.interrupt = 'answer'").raise_on_error()
    assert run.reply["content"]["status"] == "ok"  # one line, not a traceback
    final = run.last_display()["text/html"]
    assert "Interrupted" in final and "step1" in final
    history = kernel.execute("%qwq history").result()["text/html"]
    assert "not sent back: interrupted" in history
    assert kernel.execute("print(1 + 1)").stdout == "2\n"


def _button(run, description: str) -> str:
    return next(
        m["content"]["comm_id"]
        for m in run.of_type("comm_open")
        if m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
        and m["content"]["data"]["state"].get("description") == description
    )


def test_background_stop_button(kernel, server) -> None:
    server.push(Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40))
    server.reset_stats()
    msg_id = kernel.send("%%qwq --background\nthink in the background")
    run = kernel.collect(msg_id, timeout=10)  # the cell returns at once
    button = _button(run, "Stop")
    kernel.wait_for(msg_id, lambda m: m["msg_type"] == "stream" and "step2" in m["content"]["text"])
    assert not server.wait_for_disconnect(0.1)
    kernel.comm_msg(button, {"method": "custom", "content": {"event": "click"}})
    assert server.wait_for_disconnect(2.0)
    messages = kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "display_data"
            and "Interrupted" in m["content"]["data"].get("text/html", "")
        ),
    )
    assert messages
    assert kernel.execute("print('alive')").stdout == "alive\n"


def test_background_answer_now_button(kernel, server) -> None:
    server.push(
        Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40),
        Reply(answer="Forced in the background."),
    )
    server.reset_stats()
    msg_id = kernel.send("%%qwq --background --no-history\nthink in the background")
    run = kernel.collect(msg_id, timeout=10)
    button = _button(run, "Answer now")
    kernel.wait_for(msg_id, lambda m: m["msg_type"] == "stream" and "step2" in m["content"]["text"])
    kernel.comm_msg(button, {"method": "custom", "content": {"event": "click"}})
    assert server.wait_for_disconnect(2.0)
    messages = kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "display_data"
            and "Forced in the background." in m["content"]["data"].get("text/html", "")
        ),
    )
    assert "by Answer now" in messages[-1]["content"]["data"]["text/html"]


def test_answer_command_forces_background_calls(kernel, server) -> None:
    server.push(
        Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40),
        Reply(answer="Forced by command."),
    )
    msg_id = kernel.send("%%qwq --background --no-history\nthink in the background")
    kernel.collect(msg_id, timeout=10)
    kernel.wait_for(msg_id, lambda m: m["msg_type"] == "stream" and "step2" in m["content"]["text"])
    assert kernel.execute("%qwq answer").stdout == "answering now: 1 background call\n"
    kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "display_data"
            and "Forced by command." in m["content"]["data"].get("text/html", "")
        ),
    )
    assert kernel.execute("%qwq answer").stdout == "no background call is thinking\n"


def test_background_call_is_awaited_by_the_next_cell(kernel, server) -> None:
    server.push(Reply(reasoning="r " * 30, answer="first", tokens_per_second=100))
    kernel.execute("%%qwq --background --new --chat bg\nfirst").raise_on_error()
    kernel.execute("%%qwq --chat bg\nsecond").raise_on_error()
    users = [m["content"] for m in server.last_body["messages"] if m["role"] == "user"]
    assert users == ["first", "second"]
    assert {"role": "assistant", "content": "first"} in server.last_body["messages"]


def test_rerunning_a_cell_replaces_its_turn(kernel, server) -> None:
    kernel.execute("%qwq reset").raise_on_error()
    kernel.execute("%%qwq\nversion one", cell_id="cell-1").raise_on_error()
    kernel.execute("%%qwq\nversion two", cell_id="cell-1").raise_on_error()
    assert [m["content"] for m in server.last_body["messages"]] == ["version two"]
    kernel.execute("%%qwq\nfollow-up", cell_id="cell-2").raise_on_error()
    users = [m["content"] for m in server.last_body["messages"] if m["role"] == "user"]
    assert users == ["version two", "follow-up"]


def test_panel_and_config_stay_in_sync(kernel, server) -> None:
    run = kernel.execute(
        "from qwq_jupyter.notebook.panel import ParameterPanel\n"
        "import qwq_jupyter.notebook.magics as m\n"
        "session = next(iter(m._loaded.values())).session\n"
        "panel = ParameterPanel(session)\n"
        "panel.controls['temperature'].value = 1.25\n"
        "%config QwQSettings.top_k = 12\n"
        "print(session.settings.temperature, panel.controls['top_k'].value)"
    )
    assert run.raise_on_error().stdout.split() == ["1.25", "12"]
    kernel.execute("%%qwq --no-history\nq").raise_on_error()
    assert (server.last_body["temperature"], server.last_body["top_k"]) == (1.25, 12)
    kernel.execute("panel.controls['seed:set'].value = True\npanel.controls['seed'].value = 99")
    kernel.execute("%%qwq --no-history\nq").raise_on_error()
    assert server.last_body["seed"] == 99
    kernel.execute("%config QwQSettings.seed = None")
    assert kernel.execute("print(panel.controls['seed:set'].value)").stdout == "False\n"
    kernel.execute("%config QwQSettings.temperature = 0.6\n%config QwQSettings.top_k = 40")


def test_token_never_reaches_iopub(kernel, server) -> None:
    from qwq_jupyter.testing import Fault

    server.push(Reply(fault=Fault(status=401, message=f"token {server.token} is not valid")))
    runs = [
        kernel.execute("%qwq settings"),
        kernel.execute("%%qwq\nq"),
        kernel.execute("%%qwq\nq"),
    ]
    error = runs[1].last_display()["text/html"]
    assert "HTTP 401" in error and "CLOUDFLARE_API_TOKEN" in error
    for run in runs:
        assert server.token not in json.dumps([m["content"] for m in run.messages], default=str)


def test_retries_are_noted_in_the_final_output(kernel, server) -> None:
    from qwq_jupyter.testing import Fault

    kernel.execute("%config QwQSettings.max_retries = 2").raise_on_error()
    server.push(Reply(fault=Fault(status=429, code=3040, retry_after=0.1)))
    final = kernel.execute("%%qwq --no-history\nq").raise_on_error().last_display()
    assert "Capacity temporarily exceeded" in final["text/html"]
    assert "retried after 0.1 s" in final["text/html"] and "stop" in final["text/html"]


def test_hidden_reasoning_shows_a_status_not_the_text(kernel, server) -> None:
    server.push(Reply(reasoning="SECRET " * 80, answer="visible", tokens_per_second=200))
    run = kernel.execute("%%qwq --hide-reasoning --no-history\nq").raise_on_error()
    assert "SECRET" not in run.stdout
    statuses = [m for m in run.of_type("display_data") if "thinking…" in str(m["content"])]
    assert statuses  # a small "thinking… N tokens" line instead of the reasoning
    final = run.last_display()["text/html"]
    assert "visible" in final and "SECRET" not in final and "<details" not in final


def test_stop_command_cancels_background_calls(kernel, server) -> None:
    server.push(Reply(reasoning=LONG_REASONING, answer="never", tokens_per_second=40))
    server.reset_stats()
    msg_id = kernel.send("%%qwq --background --no-history\nthink in the background")
    kernel.collect(msg_id, timeout=10)
    kernel.wait_for(msg_id, lambda m: m["msg_type"] == "stream" and "step2" in m["content"]["text"])
    kernel.execute("%qwq stop").raise_on_error()
    assert server.wait_for_disconnect(2.0)
