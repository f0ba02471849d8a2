"""Verbose tracebacks (`%xmode Verbose`) of every client error show neither token nor account id.

IPython's Verbose mode prints every local of every frame, and the value of expressions such as
`request.url` on the failing line. Each error path is formatted with `ultratb.VerboseTB` and
searched for sentinel strings.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import json

import pytest
from IPython.core import ultratb
from IPython.core.interactiveshell import InteractiveShell

from qwq_jupyter import AsyncQwQClient, Credentials, QwQClient, QwQSettings
from qwq_jupyter.core.errors import QwQError
from qwq_jupyter.testing import Fault, QwQTestServer, Reply

TOKEN = "tok-SENTINEL-c0ffee42"
ACCOUNT = "acct-SENTINEL-beef"
QUESTION = [{"role": "user", "content": "hi"}]
ECHO = f"bad token {TOKEN} for account {ACCOUNT}"


def verbose(exc: BaseException) -> str:
    try:
        formatter = ultratb.VerboseTB(theme_name="nocolor")
    except TypeError:  # IPython 8
        formatter = ultratb.VerboseTB(color_scheme="NoColor")
    return formatter.text(type(exc), exc, exc.__traceback__)


def assert_clean(text: str) -> None:
    assert TOKEN not in text
    assert ACCOUNT not in text


@pytest.fixture
def server():
    with QwQTestServer(token=TOKEN, account_id=ACCOUNT) as server:
        yield server


def settings_for(server: QwQTestServer, **changes) -> QwQSettings:
    settings = QwQSettings(api_base=server.api_base, max_retries=0, stall_timeout=0.5)
    return settings.override(**changes) if changes else settings


def test_the_check_itself_sees_a_leaking_frame() -> None:
    def leaky(url: str) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        raise ValueError(f"failed {len(headers)}")

    with pytest.raises(ValueError) as info:
        leaky(f"https://x/accounts/{ACCOUNT}")
    text = verbose(info.value)
    assert TOKEN in text and ACCOUNT in text


CORRUPT_GZIP = gzip.compress(b'{"response": "x"}' * 100)[:40] + b"\xff" * 40

# (name, reply the server gives, setting changes)
PATHS = [
    ("connect-refused", None, {"api_base": "http://127.0.0.1:9/client/v4"}),
    ("stall", Reply(fault=Fault(stall_after=0)), {}),
    ("stall-mid-stream", Reply(fault=Fault(stall_after=3)), {}),
    ("reset", Reply(fault=Fault(reset_after=0)), {}),
    ("http-401", Reply(fault=Fault(status=401, message=ECHO)), {}),
    ("http-404", Reply(fault=Fault(status=404, message=ECHO)), {}),
    ("http-429", Reply(fault=Fault(status=429, code=3036, message=ECHO)), {}),
    ("http-500", Reply(fault=Fault(status=500, message=ECHO)), {}),
    ("http-502-html", Reply(fault=Fault(raw_body=b"<html>" + ECHO.encode(), status=502)), {}),
    ("mid-stream-error", Reply(fault=Fault(error_after=3)), {}),
    ("closed-early", Reply(fault=Fault(close_without_done=True)), {}),
    ("corrupt-gzip", Reply(fault=Fault(raw_body=CORRUPT_GZIP, content_encoding="gzip")), {}),
    ("not-json", Reply(fault=Fault(raw_body=b"[" * 100_000)), {"stream": False}),
    ("no-readable-event", Reply(fault=Fault(events=["nope"])), {}),
    ("redirect", Reply(fault=Fault(raw_body=b"", status=302, headers={"Location": "/x"})), {}),
    ("deadline", Reply(fault=Fault(raw_body=b"{}", drip=0.2, drip_head=True)), {"deadline": 1.0}),
    # The loop guard off: it would catch the endless repetition first, as it should.
    ("runaway", Reply(fault=Fault(endless=True)), {"max_tokens": 50, "on_loop": "off"}),
    ("unencodable-schema", None, {"guided_json": {"type": "object", "x": {1, 2}}}),
    ("unencodable-extra-body", None, {"extra_body": {"when": datetime.datetime(2026, 1, 1)}}),
    ("unencodable-message", None, {"extra_body": {"messages": [{"content": object()}]}}),
]


def push(server: QwQTestServer, reply: Reply | None) -> None:
    if reply is not None:
        server.push(reply)


@pytest.mark.parametrize(("name", "reply", "changes"), PATHS, ids=[p[0] for p in PATHS])
def test_sync_complete(server, name: str, reply: Reply | None, changes: dict) -> None:
    push(server, reply)
    client = QwQClient(settings_for(server, **changes), Credentials(ACCOUNT, TOKEN))
    try:
        response = client.complete(QUESTION)
    except QwQError as exc:
        text = verbose(exc)
        assert str(exc) in text and "\n" not in str(exc)
        assert_clean(text)
    else:  # kept what arrived, marked incomplete: the error is on the response
        assert response.finish_reason == "incomplete" and response.error
        assert_clean(response.error)


@pytest.mark.parametrize(("name", "reply", "changes"), PATHS, ids=[p[0] for p in PATHS])
def test_stream(server, name: str, reply: Reply | None, changes: dict) -> None:
    push(server, reply)
    client = QwQClient(settings_for(server, **changes), Credentials(ACCOUNT, TOKEN))
    try:
        stream = client.stream(QUESTION)
    except QwQError as exc:  # refused while preparing: nothing was sent
        assert name.startswith("unencodable") and "cannot be sent as JSON" in str(exc)
        assert_clean(verbose(exc))
        return
    response = stream.wait()
    assert response.finish_reason in ("error", "incomplete")
    error = stream.last_error
    assert isinstance(error, QwQError) and error.__traceback__ is None
    assert error.__context__ is None and error.__cause__ is None
    assert_clean(verbose(error))
    assert_clean(json.dumps(response.to_dict()))


@pytest.mark.parametrize(("name", "reply", "changes"), PATHS, ids=[p[0] for p in PATHS])
def test_async_complete(server, name: str, reply: Reply | None, changes: dict) -> None:
    push(server, reply)

    async def run() -> None:
        client = AsyncQwQClient(settings_for(server, **changes), Credentials(ACCOUNT, TOKEN))
        try:
            await client.complete(QUESTION)
        finally:
            await client.aclose()

    try:
        asyncio.run(run())
    except QwQError as exc:
        assert_clean(verbose(exc))
    except BaseException as exc:  # pragma: no cover - the assertion explains
        pytest.fail(f"{name}: a foreign exception left the client: {exc!r}")


def test_unencodable_values_are_named_in_one_line(server) -> None:
    client = QwQClient(settings_for(server), Credentials(ACCOUNT, TOKEN))
    cases = {
        "guided_json: a set cannot be sent as JSON": {"guided_json": {"x": {1}}},
        "extra_body['when']: a datetime object cannot be sent as JSON": {
            "extra_body": {"when": datetime.datetime(2026, 1, 1)}
        },
        "extra_body['f']: a function object cannot be sent as JSON": {"extra_body": {"f": print}},
        "extra_body['n']: NaN or infinity cannot be sent as JSON": {
            "extra_body": {"n": float("nan")}
        },
    }
    for message, changes in cases.items():
        with pytest.raises(QwQError) as info:
            client.prepare(QUESTION, settings=client.settings.override(**changes))
        assert str(info.value) == message
    with pytest.raises(QwQError, match=r"^messages: a function object cannot be sent as JSON$"):
        client.prepare([{"role": "user", "content": print}])
    assert server.requests == []


@pytest.fixture
def verbose_shell(server, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    monkeypatch.delenv("QWQ_JUPYTER_DEMO", raising=False)
    shell = InteractiveShell.instance()
    shell.config.pop("QwQSettings", None)
    shell.run_line_magic("load_ext", "qwq_jupyter")
    shell.run_line_magic("config", f"QwQSettings.api_base = {server.api_base!r}")
    shell.run_line_magic("config", "QwQSettings.max_retries = 0")
    shell.run_line_magic("xmode", "Verbose")
    yield shell
    shell.run_line_magic("xmode", "Context")
    shell.run_line_magic("unload_ext", "qwq_jupyter")
    shell.config.pop("QwQSettings", None)


def test_xmode_verbose_in_a_shell(verbose_shell, server, capsys) -> None:
    server.push(Reply(fault=Fault(status=401, message=ECHO)))
    verbose_shell.user_ns["api_base"] = server.api_base
    start = "from qwq_jupyter import QwQClient, QwQSettings\nimport datetime\n"
    ask = (
        "QwQClient(QwQSettings(api_base={}, max_retries=0))"
        ".complete([{{'role': 'user', 'content': 'hi'}}]{})"
    )
    cells = [
        # the Python API, raising through the user's own cell
        start + ask.format("api_base", ", extra_body={'when': datetime.datetime.now()}"),
        start + ask.format("api_base", ""),
        start + ask.format("'http://127.0.0.1:9/client/v4'", ""),
        # the magic, with a --json schema that holds a set
        "schema = {'type': 'object', 'properties': {'x': {'enum': {1, 2}}}}",
    ]
    for cell in cells:
        verbose_shell.run_cell(cell)
    verbose_shell.run_cell("%%qwq --json schema\nhi")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "ConfigurationError" in text and "extra_body['when']: a datetime object" in text
    assert "UsageError: guided_json: a set cannot be sent as JSON" in text
    assert "HTTP 401" in text and "127.0.0.1:9" in text
    assert "Traceback" in text  # Verbose tracebacks were printed, and hold no secret
    assert_clean(text)
