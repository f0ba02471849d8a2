"""Tools in a real kernel: what the cell shows, ■ stopping a slow tool, and what is kept.

The tools are the user's own functions, so they run in the kernel's main thread, where ■
(a real SIGINT from the kernel manager) reaches them.
"""

from __future__ import annotations

import json

import pytest
from kernels import Kernel

from qwq_jupyter.testing import QwQTestServer, Reply

SETUP = '''
import time
from typing import Literal

def count_rows(column: Literal["region", "product"], value: str) -> int:
    """Count the orders whose column equals value."""
    return {"North": 42}.get(value, 0)

def slow_total(region: str) -> float:
    """Sum of the amounts of a region (slow)."""
    print("slow_total started", flush=True)
    time.sleep(60)
    return 1.0

def pause(seconds: float) -> str:
    """Wait a while."""
    print("pause started", flush=True)
    time.sleep(seconds)
    return "rested"

def noisy(x: str) -> str:
    """Prints and shows something while it works."""
    from IPython.display import HTML, display

    print("noisy says", x)
    display(HTML("<b>shown by noisy</b>"))
    return "done"

tools = [count_rows, slow_total, pause, noisy]
'''


def call(tool: str, **arguments) -> dict:
    return {"name": tool, "arguments": arguments}


@pytest.fixture(scope="module")
def server():
    with QwQTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(server, tmp_path_factory):
    kernel = Kernel(server, str(tmp_path_factory.mktemp("kernel")))
    kernel.execute(SETUP).raise_on_error()
    yield kernel
    kernel.shutdown()


def test_a_tool_round_in_the_cell_output(kernel, server) -> None:
    server.push(
        Reply(answer="", tool_calls=[call("count_rows", column="region", value="<b>North</b>")]),
        Reply(reasoning="The tool says 0.", answer="**0** orders."),
    )
    run = kernel.execute("%%qwq --tools tools\nHow many orders from the North?").raise_on_error()
    html = run.last_display()["text/html"]
    # one folded block per call, its line as the summary: name, arguments, result, time
    assert html.count("<details><summary>⚙ count_rows(") == 1  # one folded block per call
    assert "&lt;b&gt;North&lt;/b&gt;" in html and "<b>North</b>" not in html
    assert "→ 0" in html and "<strong>0</strong> orders." in html
    assert html.index("qwq-tool") < html.index("qwq-answer")  # the calls came first
    live = "".join(m["content"]["text"] for m in run.of_type("stream"))
    assert "running count_rows…" in live and "→ 0" in live
    value = json.loads(kernel.execute("import json; print(json.dumps(_.to_dict()))").stdout)
    [done] = value["tool_calls"]
    assert done["status"] == "ran" and done["result"] == "0" and value["tool_rounds"] == 1


def test_interrupt_stops_a_slow_tool_and_keeps_the_turn_consistent(kernel, server) -> None:
    server.push(
        Reply(
            answer="",
            tool_calls=[
                call("count_rows", column="region", value="North"),
                call("slow_total", region="North"),
                call("count_rows", column="region", value="South"),
            ],
        )
    )
    before = len(server.requests)
    msg_id = kernel.send("%%qwq --tools tools\nTotals for the North?")
    kernel.wait_for(
        msg_id,
        lambda m: m["msg_type"] == "stream" and "slow_total started" in m["content"]["text"],
    )
    kernel.manager.interrupt_kernel()
    run = kernel.collect(msg_id, timeout=20)
    assert run.reply["content"]["status"] == "ok"  # one readable output, no traceback
    assert len(server.requests) - before == 1  # the results never went back
    html = run.last_display()["text/html"]
    assert "Interrupted" in html and "slow_total" in html and "stopped" in html
    value = json.loads(kernel.execute("import json; print(json.dumps(_.to_dict()))").stdout)
    statuses = [(c["name"], c["status"]) for c in value["tool_calls"]]
    assert statuses == [("count_rows", "ran"), ("slow_total", "stopped"), ("count_rows", "not run")]
    assert value["finish_reason"] == "interrupted" and value["calls"] == 1
    # the kernel lives, and the next question's history is well formed
    server.push(Reply(answer="ok"))
    kernel.execute("%%qwq\nAnd now?").raise_on_error()
    messages = server.last_body["messages"]
    assert messages[-1] == {"role": "user", "content": "And now?"}
    for message in messages:
        assert message["role"] != "tool" or message["tool_call_id"]


def test_a_background_cell_runs_tools_but_cannot_ask_first(kernel, server) -> None:
    run = kernel.execute("%%qwq --tools tools --background --confirm-tools\nCount them.")
    said = "".join(m["content"].get("text", "") for m in run.of_type("stream"))
    assert (
        said.startswith("UsageError: confirm_tools asks before each call") and said.count("\n") == 1
    )
    assert run.of_type("comm_open") == []  # refused before any button was made
    server.push(
        Reply(answer="", tool_calls=[call("count_rows", column="region", value="North")]),
        Reply(answer="42 in the background."),
    )
    kernel.execute("%%qwq --tools tools --background --out job\nCount them.").raise_on_error()
    done = kernel.execute(
        "job.wait(); print(job.response.answer, job.response.tool_calls[0].result)"
    )
    assert "42 in the background. 42" in done.stdout


def test_stop_while_a_background_tool_runs_keeps_the_turn(kernel, server) -> None:
    server.push(Reply(answer="", tool_calls=[call("pause", seconds=2)]))
    before = len(server.requests)
    msg_id = kernel.send("%%qwq --tools tools --background --out paused --chat stopped\nWait.")
    kernel.wait_for(
        msg_id,
        lambda m: m["msg_type"] == "stream" and "pause started" in m["content"]["text"],
    )
    kernel.execute("%qwq stop").raise_on_error()  # the Stop button's call, while pause runs
    out = kernel.execute(
        "paused.wait()\n"
        "import time; time.sleep(2.5)\n"  # the tool returns; the thread writes the turn
        "r = paused.response\n"
        "print(r.finish_reason, r.tool_calls[0].status, r.tool_calls[0].result)\n"
        "print(len(get_ipython().magics_manager.registry['QwQMagics'].session"
        ".store.conversations['stopped'].turns))"
    ).stdout
    assert out.split() == ["interrupted", "ran", "rested", "1"]
    assert len(server.requests) - before == 1  # the result never went back
    kernel.execute("%qwq usage").raise_on_error()  # its cost was counted, nothing broke


def test_what_a_tool_prints_or_shows_stays_after_the_answer(kernel, server) -> None:
    server.push(
        Reply(answer="", tool_calls=[call("noisy", x="hello")]),
        Reply(reasoning="It is done.", answer="All done."),
    )
    run = kernel.execute("%%qwq --tools tools\nMake some noise.").raise_on_error()
    kinds = [m["msg_type"] for m in run.messages]
    live = "".join(m["content"]["text"] for m in run.messages if m["msg_type"] == "stream")
    assert live.index("noisy says hello") < live.index("→ done")  # live, as it printed
    after = run.messages[len(kinds) - 1 - kinds[::-1].index("clear_output") :]
    texts = [str(m["content"]) for m in after]
    final = next(i for i, t in enumerate(texts) if "All done." in t)
    note = next(i for i, t in enumerate(texts) if "what noisy printed or showed" in t)
    printed = next(i for i, t in enumerate(texts) if "noisy says hello" in t)
    shown = next(i for i, t in enumerate(texts) if "<b>shown by noisy</b>" in t)
    assert final < note < printed and note < shown
