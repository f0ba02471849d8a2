"""Known secrets are never sent or shown: interpolated prompts, system prompts, echoed replies.

Sentinel credentials are served by a test server and set in the environment of a real IPython
shell; every check looks for the sentinels in what the server received, in what the user sees
and in the files written.
"""

from __future__ import annotations

import json
import threading

import pytest
from IPython.core.interactiveshell import InteractiveShell
from shells import ask, command, session

from qwq_jupyter import Credentials, QwQSettings
from qwq_jupyter.core.credentials import MASK, known_secrets, redact_data
from qwq_jupyter.core.events import AnswerDelta, ReasoningDelta, Response, ToolCall
from qwq_jupyter.session.conversation import Conversation, ConversationStore, Turn
from qwq_jupyter.session.session import PROMPT_REDACTED, REPLY_REDACTED, Session
from qwq_jupyter.testing import QwQTestServer, Reply

TOKEN = "cf-tok-SENTINEL-9d41c07e"
ACCOUNT = "acct-SENTINEL-3b7f"
QWQ_KEY = "qwq-key-SENTINEL-55aa01"
OPENAI_KEY = "sk-openai-SENTINEL-7c2e"
SENTINELS = (TOKEN, ACCOUNT, QWQ_KEY, OPENAI_KEY)


def assert_clean(*texts: str) -> None:
    for text in texts:
        for sentinel in SENTINELS:
            assert sentinel not in text


def sent(server: QwQTestServer) -> str:
    """Every body the server received, as one text."""
    return json.dumps([request.body for request in server.requests])


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    monkeypatch.setenv("QWQ_API_KEY", QWQ_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.delenv("QWQ_JUPYTER_DEMO", raising=False)
    with QwQTestServer(token=TOKEN, account_id=ACCOUNT) as server:
        yield server


@pytest.fixture
def qwq(server):
    """A terminal IPython shell with the extension pointed at the sentinel server."""
    shell = InteractiveShell.instance()
    shell.config.pop("QwQSettings", None)
    shell.run_line_magic("load_ext", "qwq_jupyter")
    shell.run_line_magic("config", f"QwQSettings.api_base = {server.api_base!r}")
    yield shell
    shell.run_line_magic("unload_ext", "qwq_jupyter")
    shell.config.pop("QwQSettings", None)
    for name in ("reply", "preview"):
        shell.user_ns.pop(name, None)


class RecordingView:
    """Stands in for a notebook view: keeps what it was asked to show."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.final: Response | None = None
        self.notes: list[str] = []

    def start(self, notes: list[str]) -> None:
        self.shown += notes

    def on_event(self, event) -> None:
        pass

    def confirm_tool(self, name: str, arguments: str) -> bool:
        return False

    def tool_output(self, name: str):
        import contextlib

        return contextlib.nullcontext()

    def finish(self, response: Response, notes: list[str], record=None) -> None:
        self.final = response
        self.notes = notes
        self.shown += [*notes, json.dumps(response.to_dict())]


# --- Which secrets are known --------------------------------------------------------------------


def test_known_secrets_come_from_credentials_environment_and_dotenv(tmp_path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"OPENAI_API_KEY={OPENAI_KEY}\n")
    environ = {"CLOUDFLARE_API_TOKEN": TOKEN, "QWQ_API_KEY": QWQ_KEY}
    logged_in = Credentials("acct-from-login-0001", "token-from-login-0001")
    secrets = known_secrets(logged_in, environ=environ, dotenv=dotenv)
    assert set(secrets) == {
        TOKEN,
        QWQ_KEY,
        OPENAI_KEY,
        "acct-from-login-0001",
        "token-from-login-0001",
    }
    assert [len(s) for s in secrets] == sorted((len(s) for s in secrets), reverse=True)


def test_placeholder_keys_are_not_secrets() -> None:
    secrets = known_secrets(
        environ={"OPENAI_API_KEY": "EMPTY", "QWQ_API_KEY": "ollama"}, dotenv=None
    )
    assert secrets == ()


def test_redact_data_masks_nested_strings_and_keeps_other_values() -> None:
    data = {"a": [TOKEN, {"b": f"x{ACCOUNT}y", "n": 3}], TOKEN: None}
    assert redact_data(data, (TOKEN, ACCOUNT)) == {
        "a": [MASK, {"b": f"x{MASK}y", "n": 3}],
        MASK: None,
    }


# --- Nothing secret is sent ----------------------------------------------------------------------


def test_environ_interpolation_is_masked_sent_and_shown_with_a_note(qwq, server) -> None:
    qwq.run_cell("import os")
    value, out = ask(qwq, "What is in {@dict(os.environ)}?", "--out reply")
    body = sent(server)
    assert "CLOUDFLARE_API_TOKEN" in body and MASK in body  # the variable was interpolated
    assert_clean(body, out, repr(value))
    assert PROMPT_REDACTED in out  # one line says something was masked
    assert out.count(PROMPT_REDACTED) == 1
    turn = session(qwq).conversation().turns[-1]
    assert_clean(turn.prompt)
    assert qwq.user_ns["reply"] is value


def test_system_prompt_with_a_secret_is_masked(qwq, server) -> None:
    ask(qwq, "hello", f"--system 'Use the key {QWQ_KEY} for lookups.'")
    system = server.last_body["messages"][0]
    assert system["role"] == "system" and system["content"] == f"Use the key {MASK} for lookups."
    assert_clean(session(qwq).conversation().system_prompt)


def test_dry_run_shows_the_masked_request_and_sends_nothing(qwq, server) -> None:
    qwq.user_ns["token"] = TOKEN
    preview, out = ask(qwq, "The token is {@token}, account " + ACCOUNT, "--dry-run")
    assert server.requests == []
    assert_clean(json.dumps(preview.body), preview.template_text, repr(preview), out)
    assert PROMPT_REDACTED in preview.notes
    assert f"The token is {MASK}, account {MASK}" in preview.template_text
    qwq.user_ns.pop("token")


def test_compare_sends_masked_prompts(qwq, server) -> None:
    ask(qwq, f"token {TOKEN}", "--compare temperature=0.2,0.8")
    assert len(server.requests) == 2
    assert_clean(sent(server))


def test_retry_resends_the_masked_prompt(qwq, server) -> None:
    ask(qwq, f"key {OPENAI_KEY}")
    command(qwq, "retry --temperature 0.9")
    assert len(server.requests) == 2
    assert server.requests[-1].body["messages"][-1]["content"] == f"key {MASK}"
    assert_clean(sent(server))


def test_explain_sends_no_secret(qwq, server) -> None:
    qwq.run_cell(f"raise ValueError('bad token {TOKEN}')")
    command(qwq, "explain")
    assert "ValueError" in sent(server)
    assert_clean(sent(server))


def test_a_background_call_sends_masked_text(server) -> None:
    state = Session(QwQSettings(api_base=server.api_base))
    view = RecordingView()
    stream = state.run_in_background(state.ask(f"echo {TOKEN}", state.settings), view)
    stream.wait()
    state.wait_idle("default", timeout=5)
    assert_clean(sent(server), *view.shown)
    assert PROMPT_REDACTED in view.notes


# --- Nothing secret is shown or saved -----------------------------------------------------------


def test_a_secret_echoed_by_the_server_is_masked_in_the_final_output(server) -> None:
    server.push(Reply(reasoning=f"The key is {TOKEN}.", answer=f"Your account is {ACCOUNT}."))
    state = Session(QwQSettings(api_base=server.api_base))
    view = RecordingView()
    response = state.run(state.ask("which account?", state.settings), view)
    assert response.answer == f"Your account is {MASK}."
    assert response.reasoning.strip() == f"The key is {MASK}."
    assert view.final is response and REPLY_REDACTED in view.notes
    assert_clean(
        *view.shown, repr(response), json.dumps(state.store.conversations["default"].to_dict())
    )
    assert state.last is response


def test_an_echoed_secret_never_reaches_out_history_or_saved_file(qwq, server, tmp_path) -> None:
    server.push(Reply(reasoning=f"r {QWQ_KEY}", answer=f"the token is {TOKEN}"))
    value, _ = ask(qwq, "tell me", "--out reply")
    assert value.answer == f"the token is {MASK}"
    history, _ = command(qwq, "history")
    path = tmp_path / "saved.json"
    command(qwq, f"save {path}")
    assert_clean(repr(value), value.reasoning, str(history), path.read_text())
    assert f"the token is {MASK}" in path.read_text()


def test_error_and_tool_call_fields_are_masked() -> None:
    state = Session(QwQSettings(), credentials=Credentials(ACCOUNT, TOKEN))
    response = Response(
        error=f"refused for {ACCOUNT}",
        tool_calls=[ToolCall("lookup", {"key": TOKEN}, "call-1")],
        finish_reason="error",
    )
    assert state.redact_response(response)
    assert response.error == f"refused for {MASK}"
    assert response.tool_calls == [ToolCall("lookup", {"key": MASK}, "call-1")]
    assert not state.redact_response(response)  # nothing left to mask


def test_saving_masks_secrets_that_reached_a_conversation_another_way(server, tmp_path) -> None:
    store = ConversationStore()
    conversation = Conversation("loaded", f"system {OPENAI_KEY}")
    conversation.turns.append(Turn(f"q {TOKEN}", Response(answer=f"a {ACCOUNT}")))
    store.conversations["loaded"] = conversation
    text = store.save(tmp_path / "c.json").read_text()
    assert_clean(text)
    assert text.count(MASK) == 3
    # In memory the conversation is as it was: only the file is masked.
    assert conversation.turns[0].prompt == f"q {TOKEN}"


def test_session_secrets_from_login_are_masked_in_saved_files(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "QWQ_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    state = Session(QwQSettings(), credentials=Credentials("login-account-42", "login-token-4242"))
    state.store.get("x").turns.append(Turn("use login-token-4242"))
    text = state.store.save(tmp_path / "s.json").read_text()
    assert "login-token-4242" not in text and f"use {MASK}" in text


def wait_for_request(server: QwQTestServer) -> None:
    """Until the request has reached the server: the interrupt must land after it left."""
    deadline = threading.Event()
    for _ in range(500):
        if server.requests:
            return
        deadline.wait(0.01)
    raise AssertionError("the request never arrived")


def test_interrupt_before_the_view_starts_cancels_the_call(server) -> None:
    """Ctrl-C landing after the request left but before the view started: the call stops."""
    server.push(Reply(reasoning="word " * 400, tokens_per_second=50))
    state = Session(QwQSettings(api_base=server.api_base))

    class InterruptedAtStart(RecordingView):
        calls = 0

        def start(self, notes: list[str]) -> None:
            self.calls += 1
            if self.calls == 1:
                wait_for_request(server)
                raise KeyboardInterrupt

    view = InterruptedAtStart()
    response = state.run(state.ask("long", state.settings), view)
    assert response.finish_reason == "interrupted"
    assert server.wait_for_disconnect(5)  # the connection was closed, not left to run
    assert view.final is response and view.calls == 2


def test_interrupt_before_the_background_thread_starts_cancels_and_frees(server) -> None:
    server.push(Reply(reasoning="word " * 400, tokens_per_second=50))
    state = Session(QwQSettings(api_base=server.api_base))

    class InterruptedRegistry(dict):
        """The interrupt lands as the call is registered, before its thread exists."""

        def __setitem__(self, key, value) -> None:
            wait_for_request(server)
            raise KeyboardInterrupt

    state._running = InterruptedRegistry()
    with pytest.raises(KeyboardInterrupt):
        state.run_in_background(state.ask("long", state.settings), RecordingView())
    assert server.wait_for_disconnect(5)
    assert dict(state._running) == {}
    waited = threading.Event()
    threading.Thread(target=lambda: (state.wait_idle("default"), waited.set())).start()
    assert waited.wait(5)  # a later cell of this conversation does not wait forever


def test_a_cassette_masks_every_known_secret_not_just_the_backends(qwq, server, tmp_path) -> None:
    """Recording from Workers AI, a reply echoing the OpenAI key (not in use) is masked too."""
    server.push(Reply(reasoning=f"r {OPENAI_KEY}", answer=f"a {QWQ_KEY} {TOKEN}"))
    path = tmp_path / "tape.json"
    command(qwq, f"record {path}")
    ask(qwq, "q")
    text = path.read_text()
    assert_clean(text)
    (entry,) = json.loads(text)["entries"].values()
    events = [event for _, event in entry["events"]]
    answer = "".join(event["text"] for event in events if event["type"] == "answer")
    assert answer.strip() == f"a {MASK} {MASK}"


def test_a_secret_streamed_across_deltas_is_masked_in_the_cassette(tmp_path) -> None:
    """Real servers stream a token in several sub-word pieces; the file must not hold them."""
    from qwq_jupyter.client.cassette import Cassette
    from qwq_jupyter.core.events import AnswerDelta, Finish, ReasoningDelta
    from qwq_jupyter.wire.request import HTTPRequest

    pieces = ["The key is cf-tok-", "SENTINEL", "-9d41", "c07e.", " Done", " now."]
    events = [(0.0, ReasoningDelta(f"th{ACCOUNT[:5]}")), (0.05, ReasoningDelta(ACCOUNT[5:]))]
    events += [(0.1 * n, AnswerDelta(text)) for n, text in enumerate(pieces)]
    events.append((0.7, Finish("stop")))
    cassette = Cassette(tmp_path / "tape.json", "record")
    request = HTTPRequest("http://x", {"messages": []}, {}, "native")
    cassette.add(request, events, (TOKEN, ACCOUNT))
    text = (tmp_path / "tape.json").read_text()
    assert_clean(text)
    replayed = Cassette(tmp_path / "tape.json", "replay").find(request)
    answer = [
        (round(at, 2), event.text) for at, event in replayed if isinstance(event, AnswerDelta)
    ]
    # Only the pieces the token spans were joined; the others keep their own times.
    assert answer == [(0.3, f"The key is {MASK}."), (0.4, " Done"), (0.5, " now.")]
    reasoning = [event.text for _, event in replayed if isinstance(event, ReasoningDelta)]
    assert reasoning == [f"th{MASK}"]


# --- Live text and comparisons ----------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_a_secret_split_across_live_pieces_is_masked(size: int) -> None:
    from qwq_jupyter.session.redaction import StreamRedactor

    text = f"The token is {TOKEN}, the account {ACCOUNT}; done."
    redactor = StreamRedactor((TOKEN, ACCOUNT))
    pieces = [redactor.feed("answer", text[i : i + size]) for i in range(0, len(text), size)]
    shown = "".join(piece for released in pieces for _, piece in released)
    shown += "".join(piece for _, piece in redactor.flush())
    assert shown == f"The token is {MASK}, the account {MASK}; done."


def test_a_secret_across_the_reasoning_answer_boundary_is_masked() -> None:
    from qwq_jupyter.session.redaction import LiveRedaction, redact_response

    half = len(TOKEN) // 2
    live = LiveRedaction((TOKEN,))
    events = [
        *live.events(ReasoningDelta(f"thinking about {TOKEN[:half]}")),
        *live.events(AnswerDelta(f"{TOKEN[half:]} is the key")),
        *live.end(),
    ]
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert (reasoning, answer) == (f"thinking about {MASK}", " is the key")
    final = Response(reasoning=f"thinking about {TOKEN[:half]}", answer=f"{TOKEN[half:]} is it")
    assert redact_response(final, (TOKEN,))
    assert (final.reasoning, final.answer) == (f"thinking about {MASK}", " is it")


def test_an_echoed_secret_never_streams_to_the_terminal(server) -> None:
    import io

    from qwq_jupyter.notebook.view import TerminalView

    server.push(Reply(reasoning=f"The key is {TOKEN} ok", answer=f"Account {ACCOUNT} here."))
    state = Session(QwQSettings(api_base=server.api_base))
    out = io.StringIO()
    state.run(state.ask("which?", state.settings), TerminalView(out=out))
    assert_clean(out.getvalue())
    assert f"Account {MASK} here." in out.getvalue() and "The key is" in out.getvalue()


def test_compare_masks_echoed_secrets_and_says_so(qwq, server) -> None:
    server.push(
        Reply(reasoning="r", answer=f"token {TOKEN}"), Reply(reasoning="r", answer=f"id {ACCOUNT}")
    )
    comparison, _ = ask(qwq, "echo", "--compare temperature=0.2,0.8")
    bundle = comparison._repr_mimebundle_()
    assert_clean(bundle["text/html"], bundle["text/plain"], repr(comparison))
    assert_clean(*(run.tail for run in comparison.runs))  # what the live grid showed
    assert any(MASK in run.tail for run in comparison.runs)
    assert REPLY_REDACTED in comparison.notes
