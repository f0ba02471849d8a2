"""Real-kernel tests of the analysis and teaching features: --code, explain, record/replay."""

from __future__ import annotations

import json

import pytest
from kernels import Kernel

from qwq_jupyter.testing import QwQTestServer, Reply


@pytest.fixture
def server():
    with QwQTestServer() as server:
        yield server


@pytest.fixture
def kernel(server, tmp_path):
    kernel = Kernel(server, str(tmp_path))
    yield kernel
    kernel.shutdown()


def test_code_goes_into_a_new_cell_never_run(kernel, server) -> None:
    answer = "Like this:\n```python\nresult = sum(range(10))\nprint(result)\n```\nDone."
    server.push(Reply(answer=answer))
    run = kernel.execute("%%qwq --code\nsum the first ten numbers").raise_on_error()
    payload = run.reply["content"]["payload"]
    assert payload == [
        {
            "source": "set_next_input",
            "text": "result = sum(range(10))\nprint(result)",
            "replace": False,
        }
    ]
    assert kernel.execute("print('result' in dir())").stdout == "False\n"  # not executed


def test_explain_sends_the_traceback_and_failing_cell(kernel, server) -> None:
    run = kernel.execute("values = {'a': 1}\nvalues['b'] + 1  # token: " + server.token)
    assert run.of_type("error")
    server.push(
        Reply(
            answer="The key 'b' is missing. Use `values.get('b', 0)`.\n"
            "```python\nvalues.get('b', 0) + 1\n```"
        )
    )
    run = kernel.execute("%qwq explain --code").raise_on_error()
    prompt = server.last_body["messages"][-1]["content"]
    assert "KeyError: 'b'" in prompt and "values['b'] + 1" in prompt
    assert "\x1b[" not in prompt  # no ANSI colour codes
    assert server.token not in prompt  # secrets redacted from the failing cell
    assert run.reply["content"]["payload"][0]["text"] == "values.get('b', 0) + 1"


def test_record_replay_round_trip_with_the_server_stopped(server, tmp_path) -> None:
    cassette = tmp_path / "class.json"
    server.push(Reply(reasoning="Taught thinking.", answer="Taught answer.", tokens_per_second=100))
    recorder = Kernel(server, str(tmp_path))
    try:
        recorder.execute(f"%qwq record {cassette}").raise_on_error()
        first = recorder.execute("%%qwq\nWhat do reasoning models do?").raise_on_error()
    finally:
        recorder.shutdown()
    recorded = first.last_display()["text/html"]
    text = cassette.read_text()
    assert server.token not in text and server.account_id not in text

    student = Kernel(server, str(tmp_path), credentials=False)
    server.stop()  # from here on there is no server to talk to
    try:
        student.execute(f"%qwq replay {cassette} 0").raise_on_error()
        replay = student.execute("%%qwq\nWhat do reasoning models do?").raise_on_error()
        answer = replay.last_display()["text/html"]
        assert "Taught answer." in answer and "Taught answer." in recorded
        miss = student.execute("%%qwq\nA question nobody recorded").raise_on_error()
        assert "replay miss" in miss.last_display()["text/html"]
        env = json.loads(
            student.execute(
                "import os, json; print(json.dumps("
                "[k for k in os.environ if k.startswith('CLOUDFLARE')]))"
            ).stdout
        )
        assert env == []  # the student has no key at all
    finally:
        student.shutdown()


def test_compare_streams_side_by_side_then_shows_the_table(kernel, server) -> None:
    for answer in ("It is 42.", "42", "41"):
        server.push(Reply(reasoning="thinking " * 60, answer=answer, tokens_per_second=60))
    run = kernel.execute("%%qwq --compare seed=1,2,3\nWhat is 6 × 7?", timeout=60)
    run.raise_on_error()
    live = run.of_type("display_data", "update_display_data")
    assert len(live) >= 3  # the grid updated while the runs streamed
    assert live[0]["content"]["data"]["text/html"].count('class="qwq-run"') == 3
    assert all(len(m["content"]["data"]["text/html"]) < 4000 for m in live)  # fixed-size updates
    final = run.result()["text/html"]
    assert "<th>run</th>" in final and "seed=1" in final and "2 of 3 answers agree" in final
    assert sorted(r.body["seed"] for r in server.requests[-3:]) == [1, 2, 3]
