"""`%%qwq` flags and `%qwq` commands in a real IPython shell, against the local server."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError
from shells import ask, command, session

from qwq_jupyter.notebook.magics import QwQMagics
from qwq_jupyter.testing import Reply

SECRET_TOKEN_MARKER = "test-token"


def test_a_cell_streams_reasoning_grey_then_answer_and_footer(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning="Six sevens.", answer="It is **42**."))
    value, out = ask(shell, "What is 6 × 7?")
    grey_part = out[out.index("\x1b[38;5;245m") : out.index("It is")]
    assert "Six" in grey_part and "sevens." in grey_part
    assert "reasoning" in out and "tok/s" in out and "$" in out and "stop" in out
    assert value.answer == "It is **42**." and value.reasoning.strip() == "Six sevens."
    assert value.finish_reason == "stop" and value.cost > 0
    assert value.settings["temperature"] == 0.6


def test_conversation_continues_without_reasoning(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning="SECRET THOUGHT", answer="first answer"))
    ask(shell, "one")
    ask(shell, "two")
    messages = qwq_env.last_body["messages"]
    assert messages == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "two"},
    ]
    assert "SECRET THOUGHT" not in json.dumps(qwq_env.last_body)


@pytest.mark.parametrize(
    ("flag", "field", "value"),
    [
        ("--temperature 1.3", "temperature", 1.3),
        ("--top-p 0.5", "top_p", 0.5),
        ("--top-k 7", "top_k", 7),
        ("--max-tokens 900", "max_tokens", 900),
        ("--seed 42", "seed", 42),
        ("--presence-penalty 1.5", "presence_penalty", 1.5),
        ("--frequency-penalty 0.2", "frequency_penalty", 0.2),
        ("--repetition-penalty 1.1", "repetition_penalty", 1.1),
    ],
)
def test_parameter_flags_reach_the_request_for_this_cell_only(shell, qwq_env, flag, field, value):
    ask(shell, "q", flag)
    assert qwq_env.last_body[field] == value
    ask(shell, "q")
    assert qwq_env.last_body.get(field) != value


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--temperature 9", "temperature must be from 0 to 5, got 9"),
        ("--top-k 0", "top_k must be from 1 to 50, got 0"),
        ("--max-tokens 30000", "max_tokens must be from 1 to 24,000, got 30,000"),
        ("--seed 0", "seed must be from 1 to 9,999,999,999"),
        ("--top-p abc", "invalid float value: 'abc'"),
        ("--top-k 2.5", "invalid int value: '2.5'"),
        ("--bogus", "unrecognized arguments: --bogus"),
        ("--backend bedrock", "invalid choice: 'bedrock'"),
        ("--json nowhere", "--json: no variable named 'nowhere'"),
    ],
)
def test_bad_flags_give_one_line_and_send_nothing(shell, qwq_env, flag, message) -> None:
    with pytest.raises(UsageError) as info:
        ask(shell, "q", flag)
    assert message in str(info.value)
    assert "\n" not in str(info.value).strip()
    assert qwq_env.requests == []


def test_empty_cell_is_refused(shell, qwq_env) -> None:
    with pytest.raises(UsageError, match="the cell is empty"):
        ask(shell, "   ")
    assert qwq_env.requests == []


def test_system_prompt(shell, qwq_env) -> None:
    ask(shell, "q", "--system 'Answer in French.'")
    assert qwq_env.last_body["messages"][0] == {"role": "system", "content": "Answer in French."}
    ask(shell, "q2")
    assert qwq_env.last_body["messages"][0]["content"] == "Answer in French."


def test_named_chats_are_separate_and_new_starts_afresh(shell, qwq_env) -> None:
    ask(shell, "in default")
    ask(shell, "in other", "--chat other")
    assert len(qwq_env.last_body["messages"]) == 1
    ask(shell, "again in default")
    assert [m["content"] for m in qwq_env.last_body["messages"] if m["role"] == "user"] == [
        "in default",
        "again in default",
    ]
    ask(shell, "fresh", "--new")
    assert len(qwq_env.last_body["messages"]) == 1
    _, out = command(shell, "chats")
    assert "* default: 1 turn\n" in out and "other: 1 turn\n" in out


def test_no_history_is_a_one_off(shell, qwq_env) -> None:
    ask(shell, "remembered")
    ask(shell, "one-off", "--no-history")
    assert len(qwq_env.last_body["messages"]) == 1
    ask(shell, "next")
    users = [m["content"] for m in qwq_env.last_body["messages"] if m["role"] == "user"]
    assert users == ["remembered", "next"]


def test_rerun_of_a_cell_replaces_its_turn_unless_append(shell, qwq_env, monkeypatch) -> None:
    cell = {"id": "cell-A"}
    monkeypatch.setattr(QwQMagics, "_cell_id", lambda self: cell["id"])
    ask(shell, "first version")
    ask(shell, "second version")  # same cell re-run
    state = session(shell)
    assert [t.prompt for t in state.conversation().turns] == ["second version"]
    assert len(qwq_env.last_body["messages"]) == 1  # its earlier turn is not history
    ask(shell, "third", "--append")
    assert [t.prompt for t in state.conversation().turns] == ["second version", "third"]
    cell["id"] = "cell-B"
    ask(shell, "other cell")
    assert len(state.conversation().turns) == 3


def test_hide_and_show_reasoning(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning="HIDDEN THOUGHT", answer="visible"))
    _, out = ask(shell, "q", "--hide-reasoning")
    assert "HIDDEN THOUGHT" not in out and "visible" in out
    shell.run_line_magic("config", "QwQSettings.show_reasoning = False")
    qwq_env.push(Reply(reasoning="SHOWN THOUGHT", answer="visible"))
    _, out = ask(shell, "q", "--show-reasoning")
    assert "SHOWN THOUGHT" in out


def test_raw_sends_the_chat_template(shell, qwq_env) -> None:
    ask(shell, "hello")
    ask(shell, "again", "--raw")
    body = qwq_env.last_body
    assert body["raw"] is True and "messages" not in body
    assert body["prompt"].endswith(
        "<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )
    assert "<|im_start|>user\nhello<|im_end|>" in body["prompt"]


def test_no_stream(shell, qwq_env) -> None:
    value, _ = ask(shell, "q", "--no-stream")
    assert qwq_env.last_body["stream"] is False and value.answer


def test_json_schema_from_a_variable_and_parsed_value(shell, qwq_env) -> None:
    shell.user_ns["schema"] = {"type": "object", "properties": {"n": {"type": "integer"}}}
    qwq_env.push(Reply(answer='{"n": 42}'))
    value, _ = ask(shell, "q", "--json schema")
    assert qwq_env.last_body["guided_json"] == shell.user_ns["schema"]
    assert value.value == {"n": 42}


def test_tools_from_a_variable(shell, qwq_env) -> None:
    shell.user_ns["tools"] = [{"name": "add", "description": "Add", "parameters": {}}]
    qwq_env.push(Reply(answer="", tool_calls=[{"name": "add", "arguments": {"a": 1}}]))
    value, out = ask(shell, "q", "--tools tools")
    assert qwq_env.last_body["tools"] == shell.user_ns["tools"]
    assert value.tool_calls[0].name == "add" and "QwQ calls add(a=1)" in out


def test_out_stores_the_response(shell, qwq_env) -> None:
    value, _ = ask(shell, "q", "--out result")
    assert shell.user_ns["result"] is value


def test_backend_base_url_and_model_flags(shell, qwq_env) -> None:
    ask(shell, "q", f"--backend openai --base-url {qwq_env.openai_base_url} --model my/qwq")
    assert qwq_env.requests[-1].path == "/v1/chat/completions"
    assert qwq_env.last_body["model"] == "my/qwq"


def test_missing_credentials_is_one_line(shell, qwq_env, monkeypatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    state = session(shell)
    state._client = None
    with pytest.raises(
        UsageError,
        match=r"set CLOUDFLARE_API_TOKEN \(or CLOUDFLARE_AUTH_TOKEN\) in the environment",
    ):
        ask(shell, "q")
    assert qwq_env.requests == []


def test_api_error_shows_one_line_and_keeps_the_conversation(shell, qwq_env) -> None:
    from qwq_jupyter.testing import Fault

    ask(shell, "kept")
    qwq_env.push(Reply(fault=Fault(status=429, code=3036)))
    value, out = ask(shell, "refused")
    assert value.finish_reason == "error"
    assert "daily free allocation" in out and "Traceback" not in out
    state = session(shell)
    assert [t.prompt for t in state.conversation().turns] == ["kept"]


def test_commands_history_undo_keep(shell, qwq_env) -> None:
    from qwq_jupyter.testing import Fault

    ask(shell, "first <b>question</b>")
    qwq_env.push(Reply(reasoning="r.", answer="a b c d e f g h i j", fault=Fault(reset_after=6)))
    ask(shell, "cut off")
    value, _ = command(shell, "history")
    html = value._repr_mimebundle_()["text/html"]
    assert "first &lt;b&gt;question" in html and "not sent back: incomplete" in html
    ask(shell, "next")
    assert len(qwq_env.last_body["messages"]) == 3  # the cut-off turn is not sent
    command(shell, "undo")
    _, out = command(shell, "keep")
    assert "will be sent back" in out
    ask(shell, "after keep")
    users = [m["content"] for m in qwq_env.last_body["messages"] if m["role"] == "user"]
    assert users == ["first <b>question</b>", "cut off", "after keep"]
    command(shell, "reset")
    ask(shell, "clean")
    assert len(qwq_env.last_body["messages"]) == 1


def test_retry_regenerates_the_last_turn_with_new_flags(shell, qwq_env) -> None:
    ask(shell, "question")
    qwq_env.push(Reply(answer="better"))
    value, _ = command(shell, "retry --temperature 1.1")
    assert qwq_env.last_body["temperature"] == 1.1
    assert qwq_env.last_body["messages"] == [{"role": "user", "content": "question"}]
    state = session(shell)
    assert [t.answer for t in state.conversation().turns] == ["better"]
    assert value.answer == "better"


def test_save_and_load_round_trip_every_field(shell, qwq_env, tmp_path) -> None:
    ask(shell, "q1", "--system 'be brief'")
    ask(shell, "q2", "--chat side")
    state = session(shell)
    before = {name: c.to_dict() for name, c in state.store.conversations.items()}
    path = tmp_path / "chats.json"
    command(shell, f"save {path}")
    assert qwq_env.token not in path.read_text()
    command(shell, "reset")
    command(shell, "reset side")
    _, out = command(shell, f"load {path}")
    assert "loaded default, side" in out
    after = {name: c.to_dict() for name, c in state.store.conversations.items()}
    assert after == before


def test_load_refuses_other_files(shell, tmp_path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(UsageError, match="is not a qwq-jupyter conversations file"):
        command(shell, f"load {path}")


def test_settings_masks_the_token(shell, qwq_env) -> None:
    _, out = command(shell, "settings")
    assert "temperature" in out and "api token" in out and "****" in out
    assert qwq_env.token not in out and qwq_env.account_id not in out


def test_usage_totals(shell, qwq_env) -> None:
    ask(shell, "a")
    ask(shell, "b")
    _, out = command(shell, "usage")
    assert out.startswith("2 calls") and "$" in out


def test_panel_command_returns_the_widget(shell) -> None:
    from qwq_jupyter.notebook.frontend import NotebookFrontend
    from qwq_jupyter.session.frontend import using

    with using(NotebookFrontend()):
        value, _ = command(shell, "panel")
    assert type(value).__name__ == "VBox"


def test_unknown_command_and_bad_arguments(shell) -> None:
    with pytest.raises(UsageError, match="unknown command 'frobnicate'"):
        command(shell, "frobnicate")
    with pytest.raises(UsageError, match="%qwq save"):
        command(shell, "save")


def test_help_lists_every_flag(shell) -> None:
    doc = QwQMagics.qwq.__doc__
    for flag in (
        "--temperature",
        "--top-p",
        "--top-k",
        "--max-tokens",
        "--seed",
        "--chat",
        "--new",
        "--no-history",
        "--append",
        "--system",
        "--raw",
        "--json",
        "--out",
        "--background",
        "--backend",
        "--base-url",
        "--model",
        "--hide-reasoning",
        "(0 to 5)",
    ):
        assert flag in doc, flag


def test_config_and_flags_share_one_settings_object(shell, qwq_env) -> None:
    shell.run_line_magic("config", "QwQSettings.temperature = 0.9")
    ask(shell, "q")
    assert qwq_env.last_body["temperature"] == 0.9


def test_unload_removes_the_magics(shell) -> None:
    shell.run_line_magic("unload_ext", "qwq_jupyter")
    assert "qwq" not in shell.magics_manager.magics["cell"]
    shell.run_line_magic("load_ext", "qwq_jupyter")
    assert "qwq" in shell.magics_manager.magics["cell"]


def test_window_trimming_is_visible_and_max_tokens_clamped(shell, qwq_env) -> None:
    shell.run_line_magic("config", "QwQSettings.context_window = 2000")
    try:
        for i in range(4):
            ask(shell, f"question {i} " + "word " * 300)
        _, out = ask(shell, "last", "--max-tokens 1500")
    finally:
        shell.run_line_magic("config", "QwQSettings.context_window = 24000")
    assert "note: the" in out and "oldest" in out
    assert "max_tokens lowered from 1,500" in out
    body = qwq_env.last_body
    assert body["max_tokens"] < 1500
    assert body["messages"][-1]["content"] == "last"


def test_length_finish_gets_a_plain_notice(shell, qwq_env) -> None:
    value, out = ask(shell, "q", "--max-tokens 5")
    assert value.finish_reason == "length"
    assert "Stopped at max_tokens while still reasoning" in out


def test_bare_line_magic_lists_every_command(shell) -> None:
    with pytest.raises(UsageError) as info:
        command(shell, "")
    for name in ("panel", "history", "explain", "request", "stats", "record", "replay", "pick"):
        assert name in str(info.value)


def test_login_takes_the_token_without_echo(shell, qwq_env, monkeypatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    state = session(shell)
    state._client = None
    monkeypatch.setattr("builtins.input", lambda prompt: qwq_env.account_id)
    monkeypatch.setattr("getpass.getpass", lambda prompt: qwq_env.token)
    _, out = command(shell, "login")
    assert "credentials set" in out and qwq_env.token not in out
    value, _ = ask(shell, "q")
    assert value.finish_reason == "stop"
    _, out = command(shell, "settings")
    assert qwq_env.token not in out


def test_commands_keep_quotes_and_apostrophes(shell, qwq_env) -> None:
    preview, _ = command(shell, "request --top-k 5 What's 17 x 23?")
    assert preview.body["messages"][-1]["content"] == "What's 17 x 23?"
    ask(shell, "question")
    command(shell, 'retry --system "Be brief."')
    assert qwq_env.last_body["messages"][0] == {"role": "system", "content": "Be brief."}
    with pytest.raises(UsageError, match="No closing quotation"):
        command(shell, "save 'unclosed")


def test_retry_does_not_fill_in_an_escaped_placeholder_again(shell, qwq_env) -> None:
    shell.user_ns["api_key"] = "sk-must-not-leave"
    ask(shell, "explain {@@api_key} in docs")
    command(shell, "retry")
    assert qwq_env.last_body["messages"][-1]["content"] == "explain {@api_key} in docs"


def test_a_turn_of_a_conversation_reset_meanwhile_is_dropped(shell, qwq_env) -> None:
    ask(shell, "private data")
    state = session(shell)
    pending = state.ask("late reply", state.settings)
    command(shell, "reset")
    from qwq_jupyter.core.events import Response

    assert state.keep_turn(pending, Response(answer="late", finish_reason="stop")) is False
    assert state.conversation().turns == []


def test_demo_survives_stop_and_login_leaves_it(shell, qwq_env, monkeypatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    state = session(shell)
    state.credentials, state._client = None, None
    shell.run_line_magic("config", "QwQSettings.api_base = 'https://api.cloudflare.com/client/v4'")
    qwq_env.reset_stats()
    _, out = command(shell, "demo")
    # The demo answers in the kernel: only the backend changes, no server, no stand-in key.
    assert "offline demo" in out and state.settings.backend == "demo"
    assert state.settings.api_base == "https://api.cloudflare.com/client/v4"
    assert state.credentials is None
    command(shell, "stop")
    value, out = ask(shell, "What is 12 x 12?")
    assert "144" in value.answer and "offline demo" in out
    assert qwq_env.requests == []  # nothing went over HTTP
    monkeypatch.setattr("builtins.input", lambda prompt: "acct")
    monkeypatch.setattr("getpass.getpass", lambda prompt: "real-token")
    command(shell, "login")
    assert state.settings.backend == "workers-ai" and not state.demo
    preview, _ = command(shell, "request hello")
    assert preview.url.startswith("https://api.cloudflare.com/")


def test_settings_masks_an_account_id_inside_a_url(shell, qwq_env) -> None:
    url = f"https://api.cloudflare.com/client/v4/accounts/{qwq_env.account_id}/ai/v1"
    shell.run_line_magic("config", f"QwQSettings.base_url = {url!r}")
    _, out = command(shell, "settings")
    assert qwq_env.account_id not in out and "/accounts/****/ai/v1" in out


def test_panel_controls_reset_and_conversation_size(shell, qwq_env) -> None:
    from qwq_jupyter.notebook.panel import ParameterPanel

    panel = ParameterPanel(session(shell))
    panel.controls["temperature"].value = 1.5
    panel.controls["top_k"].value = 3
    assert (session(shell).settings.temperature, session(shell).settings.top_k) == (1.5, 3)
    reset = next(
        c for c in panel.widget.children if getattr(c, "description", "").startswith("Reset")
    )
    reset.click()
    assert (session(shell).settings.temperature, session(shell).settings.top_k) == (0.6, 40)
    assert panel.controls["temperature"].value == 0.6  # the slider followed
    assert "0 turns" in panel.size.value
    ask(shell, "a question for the size line")
    assert "1 turn," in panel.size.value and "of 24,000 tokens" in panel.size.value


def test_panel_tool_controls_are_the_settings(shell) -> None:
    from qwq_jupyter.notebook.panel import ParameterPanel

    settings = session(shell).settings
    panel = ParameterPanel(session(shell))
    panel.controls["max_tool_rounds"].value = 2
    panel.controls["confirm_tools"].value = True
    assert (settings.max_tool_rounds, settings.confirm_tools) == (2, True)
    shell.run_line_magic("config", "QwQSettings.tool_result_chars = 900")
    assert panel.controls["tool_result_chars"].value == 900  # %config moves the slider
