"""Tools that run, end to end over HTTP to the local server, for both wire shapes.

`%%qwq --tools VAR` in a real IPython shell: the schema built from the function is sent, the
model's call runs with its arguments, the result goes back in the shape each dialect takes,
and QwQ answers from it. Errors, unknown tools, bad arguments, the round limit and a declined
confirmation all go back to the model as one line, never raised in the cell; the conversation
keeps the calls and results, so a later cell continues coherently.
"""

from __future__ import annotations

import json
from typing import Literal

import pytest
from shells import ask, session

from qwq_jupyter.client.stream import QwQClient
from qwq_jupyter.core.credentials import Credentials
from qwq_jupyter.core.settings import QwQSettings
from qwq_jupyter.testing import QwQTestServer, Reply

QUESTION = "How many orders came from the North?"
CALLED: list[tuple[str, dict]] = []


def count_rows(column: Literal["region", "product"], value: str) -> int:
    """Count the orders whose column equals value.

    Args:
        column: The column to filter on.
        value: The value the column must have.
    """
    CALLED.append(("count_rows", {"column": column, "value": value}))
    return {"North": 42, "South": 7}.get(value, 0)


def group_mean(by: str, column: str = "amount") -> dict[str, float]:
    """Mean of a numeric column per group."""
    CALLED.append(("group_mean", {"by": by, "column": column}))
    if column != "amount":
        raise KeyError(column)
    return {"North": 12.5, "South": 8.25}


def call(tool: str, **arguments) -> dict:
    return {"name": tool, "arguments": arguments}


def use(shell, backend: str) -> None:
    shell.run_line_magic("config", f"QwQSettings.backend = {backend!r}")
    if backend == "openai":
        shell.run_line_magic("config", "QwQSettings.model = 'qwq'")
        shell.run_line_magic("config", "QwQSettings.server = 'vllm'")


def tool_messages(body: dict) -> list[dict]:
    """The messages after the question: the model's calls and the results sent back."""
    return body["messages"][1:]


@pytest.fixture(autouse=True)
def _fresh() -> None:
    CALLED.clear()


@pytest.fixture
def tooled(shell):
    shell.user_ns["tools"] = [count_rows, group_mean]
    return shell


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_a_tool_runs_and_its_result_goes_back(tooled, qwq_env, backend) -> None:
    use(tooled, backend)
    qwq_env.push(
        Reply(answer="", tool_calls=[call("count_rows", column="region", value="North")]),
        Reply(answer="**42** orders came from the North."),
    )
    value, out = ask(tooled, QUESTION, "--tools tools")
    first, second = qwq_env.requests[-2:]
    # the schema, from the signature, the Literal and the docstring
    sent = first.body["tools"]
    schema = sent[0]["function"] if backend == "openai" else sent[0]
    assert schema["name"] == "count_rows"
    assert schema["description"] == "Count the orders whose column equals value."
    assert schema["parameters"]["properties"]["column"]["enum"] == ["region", "product"]
    assert schema["parameters"]["properties"]["column"]["description"] == "The column to filter on."
    assert schema["parameters"]["required"] == ["column", "value"]
    assert CALLED == [("count_rows", {"column": "region", "value": "North"})]
    # the result goes back in the dialect's own shape
    if backend == "openai":
        asked, answered = tool_messages(second.body)
        assert asked["role"] == "assistant" and asked["tool_calls"][0]["type"] == "function"
        function = asked["tool_calls"][0]["function"]
        assert function["name"] == "count_rows"
        assert json.loads(function["arguments"]) == {"column": "region", "value": "North"}
        assert answered == {
            "role": "tool",
            "tool_call_id": asked["tool_calls"][0]["id"],
            "content": "42",
        }
    else:
        asked, answered = tool_messages(second.body)
        assert asked["role"] == "assistant"
        assert asked["content"].startswith("<tool_call>\n") and "count_rows" in asked["content"]
        assert json.loads(asked["content"].split("\n")[1]) == {
            "name": "count_rows",
            "arguments": {"column": "region", "value": "North"},
        }
        assert answered == {"role": "tool", "content": "42", "tool_call_id": "call_0_0"}
    assert "tools" in second.body  # QwQ may call again
    assert value.answer == "**42** orders came from the North."
    assert value.finish_reason == "stop" and value.calls == 2 and value.tool_rounds == 1
    [done] = value.tool_calls
    assert (done.status, done.result, done.round) == ("ran", "42", 0)
    assert done.seconds is not None and done.seconds >= 0
    assert "count_rows" in out and "→ 42" in out
    assert value.usage.input_tokens and value.usage.output_tokens  # both rounds, summed


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_errors_go_back_to_the_model_not_into_the_cell(tooled, qwq_env, backend) -> None:
    use(tooled, backend)
    qwq_env.push(
        Reply(
            answer="",
            tool_calls=[
                call("group_mean", by="region", column="price"),  # the tool raises
                call("drop_table", table="orders"),  # not offered
                call("count_rows", column="city", value="Oslo"),  # not in the enum
                call("count_rows", column="region"),  # a required argument missing
                call("group_mean", by=3),  # the wrong type
            ],
        ),
        Reply(answer="I could not compute that."),
    )
    value, out = ask(tooled, QUESTION, "--tools tools")
    assert CALLED == [("group_mean", {"by": "region", "column": "price"})]  # only it ran
    statuses = [(c.name, c.status) for c in value.tool_calls]
    assert statuses == [
        ("group_mean", "failed"),
        ("drop_table", "refused"),
        ("count_rows", "refused"),
        ("count_rows", "refused"),
        ("group_mean", "refused"),
    ]
    errors = [c.error for c in value.tool_calls]
    assert errors[0] == "KeyError: 'price'"
    assert "drop_table" in errors[1] and "count_rows, group_mean" in errors[1]
    assert "column" in errors[2] and "region" in errors[2]
    assert "missing" in errors[3] and "value" in errors[3]
    assert "by" in errors[4] and "string" in errors[4]
    sent = [m for m in tool_messages(qwq_env.last_body) if m["role"] == "tool"]
    assert [m["content"] for m in sent] == [f"error: {error}" for error in errors]
    assert value.answer == "I could not compute that." and value.finish_reason == "stop"
    assert "raised KeyError" in out


def test_the_round_limit_ends_the_call_with_the_calls_unrun(tooled, qwq_env) -> None:
    tooled.run_line_magic("config", "QwQSettings.max_tool_rounds = 2")
    again = Reply(answer="", tool_calls=[call("count_rows", column="region", value="North")])
    qwq_env.push(again, again, again)
    before = len(qwq_env.requests)
    value, out = ask(tooled, QUESTION, "--tools tools")
    assert len(qwq_env.requests) - before == 3  # the first request and two rounds of results
    assert len(CALLED) == 2
    assert value.finish_reason == "tool_calls" and value.tool_rounds == 2
    last = value.tool_calls[-1]
    assert last.status == "not run" and "max_tool_rounds" in last.error
    assert "max_tool_rounds" in out


def test_max_tool_rounds_zero_shows_the_calls_and_runs_nothing(tooled, qwq_env) -> None:
    tooled.run_line_magic("config", "QwQSettings.max_tool_rounds = 0")
    qwq_env.push(Reply(answer="", tool_calls=[call("count_rows", column="region", value="N")]))
    value, _ = ask(tooled, QUESTION, "--tools tools")
    assert CALLED == [] and value.finish_reason == "tool_calls"
    assert value.tool_calls[0].status == "" and value.tool_calls[0].result is None


def test_a_declined_confirmation_tells_the_model(tooled, qwq_env, monkeypatch) -> None:
    tooled.run_line_magic("config", "QwQSettings.confirm_tools = True")
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "n" if len(asked) == 1 else "y"

    monkeypatch.setattr("builtins.input", answer)
    qwq_env.push(
        Reply(
            answer="",
            tool_calls=[
                call("count_rows", column="region", value="North"),
                call("count_rows", column="region", value="South"),
            ],
        ),
        Reply(answer="South had 7; North was not counted."),
    )
    value, _ = ask(tooled, QUESTION, "--tools tools")
    assert len(asked) == 2 and "count_rows" in asked[0] and "North" in asked[0]
    assert CALLED == [("count_rows", {"column": "region", "value": "South"})]
    first, second = value.tool_calls
    assert first.status == "refused" and first.error == "the user declined to run this call"
    assert second.status == "ran" and second.result == "7"
    contents = [m["content"] for m in tool_messages(qwq_env.last_body) if m["role"] == "tool"]
    assert contents == ["error: the user declined to run this call", "7"]


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_the_conversation_keeps_calls_and_results(tooled, qwq_env, backend) -> None:
    use(tooled, backend)
    qwq_env.push(
        Reply(answer="", tool_calls=[call("count_rows", column="region", value="North")]),
        Reply(answer="42 orders."),
        Reply(answer="And 7 from the South."),
    )
    ask(tooled, QUESTION, "--tools tools")
    second_round = tool_messages(qwq_env.last_body)
    ask(tooled, "And from the South?")  # no tools in this cell: the history still has them
    body = qwq_env.last_body
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert body["messages"][1:3] == second_round
    assert body["messages"][3] == {"role": "assistant", "content": "42 orders."}
    history = session(tooled).conversation().history()
    assert [m["role"] for m in history][:4] == ["user", "assistant", "tool", "assistant"]


def test_functions_are_sent_as_tools_with_a_note(tooled, qwq_env) -> None:
    tooled.user_ns["count_rows"] = count_rows
    tooled.run_line_magic("config", "QwQSettings.functions = [count_rows]")
    qwq_env.push(
        Reply(answer="", tool_calls=[call("count_rows", column="region", value="South")]),
        Reply(answer="7."),
    )
    value, out = ask(tooled, QUESTION)
    first = qwq_env.requests[-2]
    assert [tool["name"] for tool in first.body["tools"]] == ["count_rows"]
    assert "functions" not in first.body
    assert "functions is deprecated" in out
    assert value.tool_calls[0].result == "7"


def test_a_dict_names_the_tools_and_a_schema_only_tool_is_not_run(tooled, qwq_env) -> None:
    described = {
        "name": "weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    tooled.user_ns["kit"] = {"orders_in": count_rows, "weather": described}
    qwq_env.push(
        Reply(
            answer="",
            tool_calls=[
                call("orders_in", column="region", value="North"),
                call("weather", city="Oslo"),
            ],
        ),
        Reply(answer="42, and I cannot see the weather."),
    )
    value, _ = ask(tooled, QUESTION, "--tools kit")
    names = [tool["name"] for tool in qwq_env.requests[-2].body["tools"]]
    assert names == ["orders_in", "weather"]
    ran, described_only = value.tool_calls
    assert ran.status == "ran" and ran.result == "42"
    assert described_only.status == "refused" and "described only" in described_only.error


def test_bad_tools_are_refused_before_any_request(tooled, qwq_env) -> None:
    import pandas as pd

    def summarise(frame: pd.DataFrame) -> str:
        return ""

    tooled.user_ns["bad"] = [summarise]
    before = len(qwq_env.requests)
    with pytest.raises(Exception) as caught:
        ask(tooled, QUESTION, "--tools bad")
    message = str(caught.value)
    assert "summarise" in message and "frame" in message and "\n" not in message
    assert len(qwq_env.requests) == before


def test_results_are_bounded_and_secrets_masked(tooled, qwq_env) -> None:
    token = qwq_env.token

    def leaky() -> str:
        """Returns far too much, with the API token inside."""
        return f"key={token} " + "x" * 50_000

    tooled.user_ns["leak"] = [leaky]
    tooled.run_line_magic("config", "QwQSettings.tool_result_chars = 1000")
    qwq_env.push(Reply(answer="", tool_calls=[call("leaky")]), Reply(answer="done"))
    value, out = ask(tooled, QUESTION, "--tools leak")
    [sent] = [m for m in tool_messages(qwq_env.last_body) if m["role"] == "tool"]
    assert token not in sent["content"] and "****" in sent["content"]
    assert len(sent["content"]) < 1200 and "cut" in sent["content"]
    assert token not in json.dumps(value.to_dict()) and token not in out


def test_python_api_runs_tools_in_complete_and_stream(qwq_server: QwQTestServer) -> None:
    settings = QwQSettings(
        api_base=qwq_server.api_base, backend="workers-ai", tools={"count": count_rows}
    )
    client = QwQClient(settings, Credentials(qwq_server.account_id, qwq_server.token))
    question = [{"role": "user", "content": QUESTION}]
    for read in ("complete", "stream"):
        qwq_server.push(
            Reply(answer="", tool_calls=[call("count", column="region", value="North")]),
            Reply(answer="42"),
        )
        if read == "complete":
            response = client.complete(question)
        else:
            stream = client.stream(question)
            kinds = [type(event).__name__ for event in stream]
            assert kinds.index("ToolsRequested") < kinds.index("ToolResult")
            response = stream.response
        assert response.answer == "42" and response.tool_calls[0].result == "42"
    assert len(CALLED) == 2
    client.close()


def test_a_recorded_tool_call_replays_with_no_network(tooled, qwq_env, tmp_path) -> None:
    cassette = tmp_path / "tools.jsonl"
    qwq_env.push(
        Reply(answer="", tool_calls=[call("count_rows", column="region", value="North")]),
        Reply(answer="42 orders."),
    )
    tooled.run_line_magic("qwq", f"record {cassette}")
    recorded, _ = ask(tooled, QUESTION, "--tools tools --no-history")
    tooled.run_line_magic("qwq", f"replay {cassette} 0")
    before = len(qwq_env.requests)
    replayed, _ = ask(tooled, QUESTION, "--tools tools --no-history")
    assert len(qwq_env.requests) == before  # nothing was sent
    assert replayed.answer == recorded.answer == "42 orders."
    assert [c.result for c in replayed.tool_calls] == ["42"]
    assert len(CALLED) == 2  # the function ran again, in the kernel, on replay


def test_dry_run_and_budget_count_every_round(tooled, qwq_env) -> None:
    before = len(qwq_env.requests)
    preview, _ = ask(tooled, QUESTION, "--tools tools --dry-run --max-tokens 2000")
    text = repr(preview) + preview._repr_html_()
    assert "up to 5 more requests" in text
    one, _ = ask(tooled, QUESTION, "--dry-run --max-tokens 2000")
    assert preview.worst_case == pytest.approx(one.worst_case * 6, rel=0.1)
    # a budget that fits one request but not six is refused before anything is sent
    tooled.run_line_magic("qwq", f"budget {one.worst_case * 2:.6f}")
    with pytest.raises(Exception, match="refused: this call could cost"):
        ask(tooled, QUESTION, "--tools tools --max-tokens 2000")
    assert len(qwq_env.requests) == before


def test_the_tool_flags_set_rounds_and_confirmation_for_one_cell(
    tooled, qwq_env, monkeypatch
) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    again = Reply(answer="", tool_calls=[call("count_rows", column="region", value="North")])
    qwq_env.push(again, again)
    value, _ = ask(tooled, QUESTION, "--tools tools --max-tool-rounds 1 --confirm-tools")
    assert value.tool_rounds == 1 and value.finish_reason == "tool_calls"
    assert CALLED == []  # the user said no
    assert session(tooled).settings.max_tool_rounds == 5  # for this cell only
    before = len(qwq_env.requests)
    with pytest.raises(Exception, match="max_tool_rounds must be from 0 to 50, got 99"):
        ask(tooled, QUESTION, "--tools tools --max-tool-rounds 99")
    assert len(qwq_env.requests) == before


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_calls_written_in_the_answer_run_like_structured_ones(tooled, qwq_env, backend) -> None:
    """A server without a tool parser leaves QwQ's `<tool_call>` text in the answer."""
    use(tooled, backend)
    written = (
        "Let me count.\n<tool_call>\n"
        '{"name": "count_rows", "arguments": {"column": "region", "value": "South"}}\n'
        "</tool_call>"
    )
    qwq_env.push(Reply(answer=written), Reply(answer="7 orders came from the South."))
    value, _ = ask(tooled, QUESTION, "--tools tools")
    assert CALLED == [("count_rows", {"column": "region", "value": "South"})]
    assert value.answer == "Let me count.\n\n7 orders came from the South."
    assert "<tool_call>" not in value.answer
    [done] = value.tool_calls
    assert (done.id, done.status, done.result) == ("call_0_0", "ran", "7")
    asked, answered = tool_messages(qwq_env.last_body)
    assert asked["role"] == "assistant" and answered["role"] == "tool"
    if backend == "openai":
        assert asked["content"] == "Let me count."
        assert asked["tool_calls"][0]["function"]["name"] == "count_rows"
    else:
        assert asked["content"].startswith("Let me count.\n<tool_call>\n")
        assert asked["content"].count("<tool_call>") == 1


def test_a_malformed_written_call_is_left_as_the_answer(tooled, qwq_env) -> None:
    qwq_env.push(Reply(answer="<tool_call>{not json}</tool_call> sorry"))
    value, _ = ask(tooled, QUESTION, "--tools tools")
    assert CALLED == [] and value.finish_reason == "stop"
    assert value.answer == "<tool_call>{not json}</tool_call> sorry"


def test_reading_written_calls() -> None:
    from qwq_jupyter.core.template import calls_in_text, tool_call_text, without_calls

    one = tool_call_text({"name": "f", "arguments": {"x": [1, {"y": "}"}]}})
    assert [(c.name, c.arguments) for c in calls_in_text(f"a {one} b")] == [
        ("f", {"x": [1, {"y": "}"}]})
    ]
    assert without_calls(f"a {one} b") == "a  b"
    assert len(calls_in_text(one * 40)) == 16  # bounded
    as_text = '<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>'
    assert calls_in_text(as_text)[0].arguments == {"x": 1}
    for junk in ("<tool_call>[1]</tool_call>", '<tool_call>{"name": 3}</tool_call>',
                 "<tool_call>{", "no call"):  # fmt: skip
        assert calls_in_text(junk) == []


def test_history_shows_the_calls_that_went_back(tooled, qwq_env) -> None:
    qwq_env.push(
        Reply(answer="", tool_calls=[call("count_rows", column="region", value="<i>North</i>")]),
        Reply(answer="None."),
    )
    ask(tooled, QUESTION, "--tools tools")
    shown = tooled.run_line_magic("qwq", "history")
    html, text = shown.html, shown.plain
    assert "count_rows(" in html and "&lt;i&gt;North&lt;/i&gt;" in html and "<i>North" not in html
    assert "⚙ count_rows(" in text and "→ 0" in text


# --- What a review found: each of these once failed ---------------------------------------


def test_confirm_tools_is_refused_where_nothing_can_ask(tooled, qwq_env) -> None:
    tooled.run_line_magic("config", "QwQSettings.confirm_tools = True")
    before = len(qwq_env.requests)
    for flags in ("--compare temperature=0.2,0.6", "--vote 2"):
        with pytest.raises(Exception, match="confirm_tools asks before each tool call") as caught:
            ask(tooled, QUESTION, f"--tools tools {flags}")
        assert "\n" not in str(caught.value)
    settings = session(tooled).settings.override(tools=[count_rows])
    with pytest.raises(Exception, match="confirm_tools asks before each tool call"):
        QwQClient(settings, Credentials(qwq_env.account_id, qwq_env.token)).complete(
            [{"role": "user", "content": QUESTION}]
        )
    from qwq_jupyter import batch

    with pytest.raises(Exception, match="confirm_tools asks before each tool call"):
        batch("{@item}", ["a"], settings=settings, progress=False)
    assert len(qwq_env.requests) == before  # refused before anything was sent
    assert CALLED == []


def test_a_tool_that_exits_fails_and_the_client_lives(qwq_server: QwQTestServer) -> None:
    import sys

    def parse(args: str) -> str:
        """Run a command-line parser (which exits on bad input)."""
        sys.exit(2)

    settings = QwQSettings(api_base=qwq_server.api_base, tools=[parse], max_retries=0)
    client = QwQClient(settings, Credentials(qwq_server.account_id, qwq_server.token))
    question = [{"role": "user", "content": QUESTION}]
    for _ in range(2):  # in a worker thread (complete), then in the reader's (stream)
        qwq_server.push(Reply(answer="", tool_calls=[call("parse", args="-x")]), Reply(answer="ok"))
    response = client.complete(question)
    assert (
        response.tool_calls[0].status == "failed"
        and response.tool_calls[0].error == "SystemExit: 2"
    )
    stream = client.stream(question)
    list(stream)
    assert stream.response.tool_calls[0].error == "SystemExit: 2" and stream.response.answer == "ok"
    qwq_server.push(Reply(answer="still here"))
    assert client.complete(question, tools=None).answer == "still here"  # the loop thread lives
    client.close()


def test_a_secret_at_the_cut_is_masked_whole(tooled, qwq_env) -> None:
    token = qwq_env.token
    tooled.run_line_magic("config", "QwQSettings.tool_result_chars = 1000")

    def padded() -> str:
        """Returns the token right where the result is cut."""
        return "x" * 950 + token + "y" * 500

    def raises() -> str:
        """Raises with the token where the error line is cut."""
        raise ValueError("z" * 480 + token)

    tooled.user_ns["kit"] = [padded, raises]
    qwq_env.push(Reply(answer="", tool_calls=[call("padded"), call("raises")]), Reply(answer="ok"))
    value, _ = ask(tooled, QUESTION, "--tools kit")
    sent = json.dumps(qwq_env.last_body)
    for text in (sent, json.dumps(value.to_dict())):
        assert token[:8] not in text  # not even its beginning


def test_calls_ending_with_stop_run_and_at_most_16_a_reply(tooled, qwq_env) -> None:
    many = [call("count_rows", column="region", value=f"V{n}") for n in range(20)]
    qwq_env.push(Reply(answer="", tool_calls=many, finish_reason="stop"), Reply(answer="done"))
    value, _ = ask(tooled, QUESTION, "--tools tools")
    assert len(CALLED) == 16
    statuses = [c.status for c in value.tool_calls]
    assert statuses == ["ran"] * 16 + ["not run"] * 4
    assert "more than 16 calls" in value.tool_calls[-1].error
    sent = [m for m in tool_messages(qwq_env.last_body) if m["role"] == "tool"]
    assert len(sent) == 20  # every call the model made has its answer


def test_repeated_ids_and_deep_arguments_keep_the_call_whole(tooled, qwq_env) -> None:
    use(tooled, "openai")
    deep: object = "bottom"
    for _ in range(700):
        deep = [deep]
    calls = [  # a server that repeats an id
        {"id": "c1", "name": "count_rows", "arguments": {"column": "region", "value": "North"}},
        {"id": "c1", "name": "count_rows", "arguments": {"column": "region", "value": "South"}},
        {"id": "c2", "name": "group_mean", "arguments": {"by": deep}},
    ]
    qwq_env.push(Reply(answer="", tool_calls=calls), Reply(answer="done"))
    value, _ = ask(tooled, QUESTION, "--tools tools")
    ids = [c.id for c in value.tool_calls]
    assert ids[0] == "c1" and ids[2] == "c2" and len(set(ids)) == 3
    assert value.tool_calls[2].status == "refused" and value.answer == "done"
    sent = [m["tool_call_id"] for m in tool_messages(qwq_env.last_body) if m["role"] == "tool"]
    assert sent == ids


def test_a_call_shown_in_a_code_fence_is_an_example_not_a_call(tooled, qwq_env) -> None:
    example = (
        "Call it like this:\n```\n<tool_call>\n"
        '{"name": "count_rows", "arguments": {"column": "region", "value": "North"}}\n'
        "</tool_call>\n```"
    )
    qwq_env.push(Reply(answer=example))
    value, _ = ask(tooled, QUESTION, "--tools tools")
    assert CALLED == [] and value.answer == example and value.finish_reason == "stop"


def test_max_cost_caps_the_whole_loop(tooled, qwq_env) -> None:
    """Each round gets what the rounds before it left of max_cost; a round whose prompt alone
    would cost more is not sent."""
    again = Reply(answer="", tool_calls=[call("count_rows", column="region", value="North")])
    qwq_env.push(again)
    first, _ = ask(tooled, QUESTION, "--tools tools --max-tool-rounds 0 --no-history")
    cap = first.cost * 1.5  # one round, and half of one more
    qwq_env.push(again)
    before = len(qwq_env.requests)
    tooled.run_line_magic("config", "QwQSettings.on_budget = 'stop'")  # no early answer
    value, out = ask(tooled, QUESTION, f"--tools tools --max-cost {cap:.8f}")
    assert len(qwq_env.requests) - before == 1  # the results would cost more than what is left
    assert value.finish_reason == "incomplete" and "max_cost was spent after 1" in value.error
    assert value.tool_calls[0].status == "ran" and value.cost <= cap
    assert "max_cost was spent" in out
    qwq_env.push(again, Reply(answer="done"))
    roomy, _ = ask(tooled, QUESTION, f"--tools tools --max-cost {first.cost * 20:.8f}")
    assert roomy.answer == "done" and roomy.tool_rounds == 1  # with room, the loop goes on


def test_a_loop_that_spent_max_cost_sends_no_more() -> None:
    import asyncio

    from qwq_jupyter.client.tool_loop import ToolLoop
    from qwq_jupyter.core.events import Finish, ToolCall, ToolCallEvent, Usage, UsageEvent

    class OneRound:
        async def event_batches(self, request, settings=None):
            yield [ToolCallEvent(ToolCall("f", {}, "a")), UsageEvent(Usage(1000, 1000))]
            yield [Finish("tool_calls")]

    class Prepared:
        content = b"x" * 300  # a small next prompt: ≈100 tokens

    def never(*_):
        raise AssertionError("no second round may be sent")

    loop = ToolLoop(
        OneRound(),
        [{"role": "user", "content": "q"}],
        settings=QwQSettings(max_cost=0.001),
        prepare=lambda messages, settings: Prepared(),
        source_for=never,
        run_here=lambda calls: [
            c.__class__(**{**c.to_dict(), "status": "ran", "result": "1"}) for c in calls
        ],
    )  # the round cost (1000 × 0.66 + 1000 × 1.00) / 1e6 = $0.00166, over the $0.001 cap

    async def events():
        return [e async for batch in loop.event_batches(None) for e in batch]

    last = asyncio.run(events())[-1]
    assert last.reason == "incomplete" and "max_cost was spent after 1 round" in str(last.error)


def test_results_that_crowd_the_window_shrink_the_answer_or_end_the_loop(tooled, qwq_env) -> None:
    def page(size: int) -> str:
        """Return a page of text."""
        return "word " * (size // 5)

    tooled.user_ns["reader"] = [page]
    tooled.run_line_magic("config", "QwQSettings.context_window = 4000")
    tooled.run_line_magic("config", "QwQSettings.tool_result_chars = 100000")
    qwq_env.push(Reply(answer="", tool_calls=[call("page", size=6000)]), Reply(answer="read it"))
    value, _ = ask(tooled, QUESTION, "--tools reader --max-tokens 2000 --no-history")
    second = qwq_env.last_body
    assert value.answer == "read it"
    assert 256 <= second["max_tokens"] < 2000  # what the window left for the answer
    before = len(qwq_env.requests)
    qwq_env.push(Reply(answer="", tool_calls=[call("page", size=20000)]))
    value, out = ask(tooled, QUESTION, "--tools reader --max-tokens 2000 --no-history")
    assert len(qwq_env.requests) - before == 1  # the results would not fit: nothing more sent
    assert value.finish_reason == "incomplete" and "4,000-token window" in value.error
    assert "4,000-token window" in out
    assert value.tool_calls[0].status == "ran"
